// Pieces shared by subcommands: thread settings and the uniform error → exit-code mapping.
#pragma once
#include <functional>
#include <string>

namespace fresnel::cli {

// Sets libtorch intra-op threads, OpenMP and OpenBLAS threads; n <= 0 means all cores.
void apply_thread_count(int n);

// Runs a command body: fresnel::UsageError → exit 2, fresnel::Error / std::exception → exit 1,
// with one "error: …" line on stderr. Subcommand callbacks wrap their work in this.
int run_guarded(const std::function<void()>& body);

}  // namespace fresnel::cli
