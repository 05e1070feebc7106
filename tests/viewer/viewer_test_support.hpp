// Shared by the viewer tests: a private X server for the headless viewer, and PSNR between two images.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "testutil/cli_runner.hpp"

namespace fresnel::test {

// xvfb-run gives the viewer a private X server (CI has no display). Its absence is a failure: the viewer would
// go untested.
inline std::string xvfb_prefix() {
  if (run_command("command -v xvfb-run").exit_code != 0 || run_command("command -v xauth").exit_code != 0)
    ADD_FAILURE() << "xvfb-run and xauth are needed to test the viewer without a display; install them with "
                     "`sudo apt-get install xvfb xauth` (scripts/install-deps.sh does)";
  return "xvfb-run -a -s '-screen 0 640x480x24' ";
}

inline double psnr(const torch::Tensor& a, const torch::Tensor& b) {
  const double mse = (a - b).pow(2).mean().item<double>();
  return 10.0 * std::log10(1.0 / std::max(mse, 1e-12));
}

}  // namespace fresnel::test
