// `fresnel convert` and `fresnel info` driven through the real binary.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/gaussian_io.hpp"
#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;

namespace {
Gaussians small_gaussians(int64_t n) {
  torch::manual_seed(3);
  Gaussians g;
  g.means = torch::randn({n, 3});
  g.quats = torch::randn({n, 4});
  g.quats = g.quats / g.quats.norm(2, -1, true);
  g.scales = torch::rand({n, 3}) * 0.1 + 0.01;
  g.opacities = torch::rand({n}) * 0.9 + 0.05;
  g.colors = torch::rand({n, 3});
  return g;
}
}  // namespace

TEST(CliConvert, PlyToBinKeepsTheGaussians) {
  test::TempDir dir;
  const auto g = small_gaussians(17);
  save_gaussians(dir.file("in.ply"), g);
  const auto r = test::run_fresnel("convert " + dir.file("in.ply") + " " + dir.file("out.bin"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(std::filesystem::file_size(dir.file("out.bin")), 17u * 56);
  EXPECT_TRUE(torch::equal(load_gaussians(dir.file("out.bin")).means, g.means));
}

TEST(CliConvert, BinToSplat) {
  test::TempDir dir;
  save_gaussians(dir.file("in.bin"), small_gaussians(17));
  const auto r = test::run_fresnel("convert " + dir.file("in.bin") + " " + dir.file("out.splat"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(load_gaussians(dir.file("out.splat")).count(), 17);
}

TEST(CliConvert, BadInputExitsOneAndLeavesNoOutput) {
  test::TempDir dir;
  auto g = small_gaussians(4);
  save_gaussians(dir.file("good.ply"), g);
  std::string bytes = test::read_bytes(dir.file("good.ply"));
  bytes.resize(bytes.size() - 7);
  test::write_bytes(dir.file("broken.ply"), bytes);
  const auto r = test::run_fresnel("convert " + dir.file("broken.ply") + " " + dir.file("out.splat"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("broken.ply"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.splat")));
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find("out.splat"), std::string::npos) << "leftover " << e.path();
}

TEST(CliConvert, UnknownExtensionIsAUsageError) {
  test::TempDir dir;
  save_gaussians(dir.file("a.ply"), small_gaussians(2));
  const auto r = test::run_fresnel("convert " + dir.file("a.ply") + " " + dir.file("a.obj"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("a.obj"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.obj")));
}

TEST(CliInfo, ReportsCountBoundsAndStatistics) {
  test::TempDir dir;
  auto g = small_gaussians(9);
  g.means[4] = torch::tensor({-3.5f, 0.f, 7.25f});
  save_gaussians(dir.file("g.ply"), g);
  const auto r = test::run_fresnel("info " + dir.file("g.ply"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("count:          9"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NaN/Inf values: 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sh degree:      0"), std::string::npos) << r.output;
}

TEST(CliInfo, JsonOutput) {
  test::TempDir dir;
  auto g = small_gaussians(9);
  g.means[4] = torch::tensor({-3.5f, 0.f, 7.25f});
  save_gaussians(dir.file("g.ply"), g);
  const auto j = test::run_fresnel("info --json " + dir.file("g.ply"));
  ASSERT_EQ(j.exit_code, 0) << j.output;
  EXPECT_NE(j.output.find("\"count\": 9"), std::string::npos) << j.output;
  EXPECT_NE(j.output.find("7.25"), std::string::npos) << j.output;  // z of the bounds maximum
}

TEST(CliInfo, CountsNaNsInsteadOfFailing) {
  test::TempDir dir;
  // Two Gaussians in the original's .bin layout, the second with two NaNs.
  std::vector<float> v = {0, 0,   0, 0.1f, 0.1f, 0.1f, 1, 0, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f,
                          1, NAN, 0, 0.1f, 0.1f, 0.1f, 1, 0, 0, 0, 0.5f, 0.5f, NAN,  0.5f};
  test::write_bytes(dir.file("nan.bin"), std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
  const auto r = test::run_fresnel("info " + dir.file("nan.bin"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("count:          2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NaN/Inf values: 2 (in 1 Gaussians)"), std::string::npos) << r.output;
}

TEST(CliConvert, RefusesNaNs) {
  test::TempDir dir;
  std::vector<float> v = {0, 0,   0, 0.1f, 0.1f, 0.1f, 1, 0, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f,
                          1, NAN, 0, 0.1f, 0.1f, 0.1f, 1, 0, 0, 0, 0.5f, 0.5f, NAN,  0.5f};
  test::write_bytes(dir.file("nan.bin"), std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
  const auto c = test::run_fresnel("convert " + dir.file("nan.bin") + " " + dir.file("x.ply"));
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_NE(c.output.find("NaN"), std::string::npos) << c.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.ply")));
}

TEST(CliInfo, MissingFileExitsOne) {
  test::TempDir dir;
  const auto r = test::run_fresnel("info " + dir.file("none.splat"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("none.splat"), std::string::npos) << r.output;
}

TEST(CliConvert, SpzVersion3ByDefaultVersion4OnRequestAndInfoReadsBoth) {
  test::TempDir dir;
  const auto g = small_gaussians(40);
  save_gaussians(dir.file("in.ply"), g);
  auto r = test::run_fresnel("convert " + dir.file("in.ply") + " " + dir.file("v3.spz"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(uint8_t(test::read_bytes(dir.file("v3.spz"))[0]), 0x1f);  // gzip container
  r = test::run_fresnel("convert --spz_version 4 " + dir.file("in.ply") + " " + dir.file("v4.spz"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(test::read_bytes(dir.file("v4.spz")).substr(0, 4), "NGSP");
  for (const char* name : {"v3.spz", "v4.spz"}) {
    const auto back = load_gaussians(dir.file(name));
    EXPECT_LE((back.means - g.means).abs().max().item<double>(), 1.3e-4) << name;
    r = test::run_fresnel("info " + dir.file(name));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("40"), std::string::npos) << r.output;
  }
  r = test::run_fresnel("convert --spz_version 5 " + dir.file("in.ply") + " " + dir.file("v5.spz"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--spz_version"), std::string::npos) << r.output;
}
