#include "cli/cli_common.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "core/error.hpp"

namespace fresnel::cli {

void apply_thread_count(int n) {
  if (n <= 0) n = std::max(1u, std::thread::hardware_concurrency());
  torch::set_num_threads(n);
  // OpenBLAS follows its own variable, read when the library starts; set it for child processes too.
  setenv("OPENBLAS_NUM_THREADS", std::to_string(n).c_str(), 0);
  setenv("OMP_NUM_THREADS", std::to_string(n).c_str(), 0);
}

int run_guarded(const std::function<void()>& body) {
  try {
    body();
    return 0;
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.what_without_backtrace() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 1;
  }
}

void set_guarded_callback(CLI::App* cmd, std::function<void()> body) {
  // CLI11 turns a RuntimeError thrown from a callback into main's exit code (see main.cpp).
  cmd->callback([body = std::move(body)] {
    const int rc = run_guarded(body);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace fresnel::cli
