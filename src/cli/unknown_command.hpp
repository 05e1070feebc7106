// Recognising a mistyped subcommand before CLI11 parses: on its own CLI11 reports `fresnel foo` as "A subcommand
// is required" and answers `fresnel foo --help` with the main help and exit 0.
#pragma once
#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace fresnel::cli {

// The first word of argv that is neither an option of `app` nor an option's value, when it names no subcommand
// of `app`; nullopt when it names one, or when there is no such word (CLI11 reports that case itself).
std::optional<std::string> unknown_command(const CLI::App& app, int argc, const char* const* argv);
// "version, train, convert, …": the subcommand names in the order they were registered.
std::string command_names(const CLI::App& app);

}  // namespace fresnel::cli
