// `fresnel render` (turntable and cameras.json) and `fresnel bench render` argument handling.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/camera.hpp"
#include "core/gaussian_io.hpp"
#include "core/image_io.hpp"
#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"

namespace fresnel {
namespace {

std::string write_scene(const test::TempDir& dir) {
  torch::manual_seed(3);
  Gaussians g;
  const int64_t n = 200;
  g.means = torch::randn({n, 3}) * 0.3;
  g.quats = torch::randn({n, 4});
  g.quats = g.quats / g.quats.norm(2, 1, true);
  g.scales = torch::full({n, 3}, 0.05f);
  g.opacities = torch::full({n}, 0.8f);
  g.colors = torch::rand({n, 3});
  const std::string path = dir.file("scene.ply");
  save_gaussians(path, g);
  return path;
}

TEST(CliRender, OrbitWritesOnePngPerViewWithTheRequestedSize) {
  test::TempDir dir;
  const std::string scene = write_scene(dir);
  const auto r = test::run_fresnel("render " + scene + " --orbit 3 --size 40x24 --out " + dir.file("out") +
                                   " --background 1,1,1 --depth");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int i = 0; i < 3; ++i) {
    const auto img = load_image(dir.file("out/view_000" + std::to_string(i) + ".png"));
    EXPECT_EQ(img.size(0), 24);
    EXPECT_EQ(img.size(1), 40);
    // The scene is in view: some pixels differ from the white background.
    EXPECT_LT(img.min().item<float>(), 0.9f);
    EXPECT_TRUE(std::filesystem::exists(dir.file("out/depth_000" + std::to_string(i) + ".png")));
  }
  // The cameras it used round-trip through --cameras and give the same images.
  const auto r2 = test::run_fresnel("render " + scene + " --cameras " + dir.file("out/cameras.json") + " --out " +
                                    dir.file("again") + " --background 1,1,1");
  ASSERT_EQ(r2.exit_code, 0) << r2.output;
  const auto a = load_image(dir.file("out/view_0001.png")), b = load_image(dir.file("again/view_0001.png"));
  EXPECT_TRUE(torch::equal(a, b));
}

TEST(CliRender, BadInputAndUsage) {
  test::TempDir dir;
  const std::string scene = write_scene(dir);
  auto r = test::run_fresnel("render " + dir.file("missing.ply") + " --orbit 2 --out " + dir.file("o"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("missing.ply"), std::string::npos);
  r = test::run_fresnel("render " + scene + " --out " + dir.file("o"));  // neither --orbit nor --cameras
  EXPECT_EQ(r.exit_code, 2);
  r = test::run_fresnel("render " + scene + " --orbit 2 --size 12by4 --out " + dir.file("o"));
  EXPECT_EQ(r.exit_code, 2);
  test::write_bytes(dir.file("bad.json"), "{\"cameras\": [ {\"fx\": 1} ]}");
  r = test::run_fresnel("render " + scene + " --cameras " + dir.file("bad.json") + " --out " + dir.file("o"));
  EXPECT_EQ(r.exit_code, 1);
  r = test::run_fresnel("bench render --case e");
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace fresnel
