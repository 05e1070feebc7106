// `fresnel version`: build facts a bug report needs (libtorch version, threads, CUDA).
#include <torch/torch.h>

#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"

#ifndef FRESNEL_VERSION
#define FRESNEL_VERSION "dev"
#endif

namespace fresnel::cli {

void register_version(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print version and build information");
  set_guarded_callback(cmd, [] {
    std::cout << "fresnel " << FRESNEL_VERSION << "\n"
              << "libtorch " << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR << "." << TORCH_VERSION_PATCH << "\n"
              << "threads " << torch::get_num_threads() << "\n"
              << "cuda " << (torch::cuda::is_available() ? "available" : "not available") << "\n";
  });
}

}  // namespace fresnel::cli
