// `--device`: every command that runs models or the renderer takes it, and asking for CUDA from a build or machine
// without it is one clear usage error (exit 2) naming the flag, before any work starts.
#include <gtest/gtest.h>

#include <fstream>

#include "cli/device_option.hpp"
#include "core/error.hpp"
#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"

using fresnel::test::run_fresnel;

TEST(DeviceOption, NamesResolveOrFailClearly) {
  EXPECT_TRUE(fresnel::cli::resolve_device("cpu").is_cpu());
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CUDA"}) {
    try {
      fresnel::cli::resolve_device(bad);
      FAIL() << bad;
    } catch (const fresnel::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("expected cpu, cuda or cuda:N"), std::string::npos) << e.what();
    }
  }
#ifndef FRESNEL_WITH_CUDA
  for (const char* cuda : {"cuda", "cuda:0", "cuda:3"}) {
    try {
      fresnel::cli::resolve_device(cuda);
      FAIL() << cuda;
    } catch (const fresnel::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("built against a libtorch without CUDA"), std::string::npos) << e.what();
    }
  }
#endif
}

#ifndef FRESNEL_WITH_CUDA
TEST(DeviceOption, EveryCommandRefusesCudaOnACpuBuildClearly) {
  fresnel::test::TempDir tmp;
  const auto t = tmp.path();
  std::ofstream(t + "/x.ply") << "ply\n";  // existence and extension checks pass; the device check comes first
  std::ofstream(t + "/x.png") << "x";
  const std::vector<std::string> commands = {
      "train --data_dir " + t + " --device cuda",
      "eval --data_dir " + t + " --checkpoint " + t + "/c.pt --out " + t + "/e --device cuda",
      "infer " + t + "/x.png -o " + t + "/o.ply --checkpoint " + t + "/c.pt --device cuda",
      "render " + t + "/x.ply --out " + t + "/r --orbit 2 --device cuda",
      "preprocess --data_dir " + t + " --device cuda",
      "bench render --case a --device cuda"};
  for (const auto& c : commands) {
    const auto r = run_fresnel(c);
    EXPECT_EQ(r.exit_code, 2) << c << "\n" << r.output;
    EXPECT_NE(r.output.find("--device cuda: this fresnel was built against a libtorch without CUDA"), std::string::npos)
        << c << "\n"
        << r.output;
  }
}
#endif
