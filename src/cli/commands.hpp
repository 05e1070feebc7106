// Every subcommand registers itself on the root app; main.cpp calls these in order.
// Add a line here and in main.cpp when adding a command (one file per command: cmd_<name>.cpp).
#pragma once
#include <CLI/CLI.hpp>

namespace fresnel::cli {

void register_version(CLI::App& app);

}  // namespace fresnel::cli
