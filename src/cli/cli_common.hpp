// Pieces shared by subcommands: thread settings and the uniform error → exit-code mapping.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace fresnel::cli {

// Sets libtorch intra-op threads, OpenMP and OpenBLAS threads; n <= 0 means all cores.
void apply_thread_count(int n);

// Runs a command body: fresnel::UsageError → exit 2, fresnel::Error / std::exception → exit 1,
// with one "error: …" line on stderr.
int run_guarded(const std::function<void()>& body);

// Makes `body` the subcommand's work, run through run_guarded: any error becomes one "error: …" line and the
// process exits with run_guarded's code. A command that finishes with failures it has already reported (e.g. some
// of many files) throws fresnel::Error with a one-line summary.
void set_guarded_callback(CLI::App* cmd, std::function<void()> body);

}  // namespace fresnel::cli
