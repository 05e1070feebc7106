// The viewer's GPU splatting agrees with the tile rasterizer: a headless screenshot under Xvfb (Mesa)
// matches render() of the same camera (the camera the viewer saves with --save-camera).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/camera.hpp"
#include "core/gaussian_io.hpp"
#include "core/image_io.hpp"
#include "core/object_frame.hpp"
#include "render/render.hpp"
#include "splat_data.hpp"
#include "testutil/testutil.hpp"
#include "viewer_test_support.hpp"

using namespace fresnel;

namespace {

using test::psnr;
using test::run_command;
using test::xvfb_prefix;

// A scene with overlapping Gaussians of several sizes, anisotropies and opacities, so that sorting,
// blending, the covariance projection and the cut-offs all show in the image.
Gaussians known_scene() {
  Gaussians g = viewer::make_test_cloud(300, 1.0);
  auto gen = at::detail::createCPUGenerator(5);
  g.scales = torch::empty({300, 3}).uniform_(0.02, 0.25, gen);
  g.opacities = torch::empty({300}).uniform_(0.2, 1.0, gen);
  return g;
}

}  // namespace

// Screenshot of `scene` (with `screen_filter` recorded beside the file as infer does, when not empty) against
// render() with `filter`; returns the PSNR.
double viewer_vs_render(const Gaussians& scene, const std::string& screen_filter, const ScreenFilter& filter,
                        double min_covered = 0.2) {
  const std::string xvfb = xvfb_prefix();
  test::TempDir dir;
  const std::string ply = dir.file("scene.ply"), png = dir.file("shot.png"), cams = dir.file("camera.json");
  save_gaussians(ply, scene);
  if (!screen_filter.empty()) save_frame_cameras(cameras_json_path_for(ply), Camera(), nullptr, screen_filter);
  const auto r =
      run_command(xvfb + FRESNEL_VIEWER_EXE + " " + ply + " --screenshot " + png + " --save-camera " + cams +
                  " --size 160x120 --yaw 35 --pitch 20 --distance 4.5 --target 0,0,0 --background 0.1,0.2,0.3");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (r.exit_code != 0) return 0;

  const torch::Tensor shot = load_image(png);
  EXPECT_EQ(shot.size(0), 120);
  EXPECT_EQ(shot.size(1), 160);
  // Not empty: a good part of the image differs from the background.
  const auto bg = torch::tensor({0.1f, 0.2f, 0.3f});
  const double covered = ((shot - bg).abs().amax(-1) > 0.05).to(torch::kFloat32).mean().item<double>();
  EXPECT_GT(covered, min_covered) << "screenshot is (almost) only background";

  const std::vector<Camera> cameras = load_cameras_json(cams);
  EXPECT_EQ(cameras.size(), 1u);
  EXPECT_EQ(cameras[0].width, 160);
  EXPECT_EQ(cameras[0].height, 120);
  RenderOptions opts;
  opts.background = {0.1f, 0.2f, 0.3f};
  opts.screen_filter = filter;
  // The viewer drew what it read from the PLY, so the reference renders the same file.
  const auto out = render(load_gaussians(ply), cameras, opts);
  const torch::Tensor ref = out.rgb[0].clamp(0, 1);
  // Compare after the same 8-bit quantisation the PNG went through.
  const torch::Tensor ref8 = (ref * 255).round() / 255;
  return psnr(shot, ref8);
}

TEST(ViewerScreenshot, MatchesTheRasterizer) {
  const double p = viewer_vs_render(known_scene(), "", ScreenFilter::dilation());
  EXPECT_GE(p, 30.0) << "viewer screenshot vs render(): PSNR " << p << " dB";
  std::printf("viewer vs rasterizer PSNR: %.2f dB\n", p);
}

TEST(ViewerScreenshot, UsesTheMipFilterItsCamerasJsonNames) {
  // Small Gaussians (~1 px), where the Mip filter's opacity compensation changes the image.
  Gaussians g = known_scene();
  g.scales = g.scales * 0.15;
  const double mip = viewer_vs_render(g, "mip:0.1", ScreenFilter::mip(0.1), 0.05);
  const double against_dilation = viewer_vs_render(g, "mip:0.1", ScreenFilter::dilation(), 0.05);
  std::printf("viewer (mip) vs rasterizer: mip %.2f dB, dilation %.2f dB\n", mip, against_dilation);
  EXPECT_GE(mip, 30.0);
  EXPECT_GT(mip, against_dilation + 3.0) << "the viewer must draw what the file's screen filter says";
}

TEST(ViewerScreenshot, FrontViewOfASingleGaussianIsCentred) {
  const std::string xvfb = xvfb_prefix();
  test::TempDir dir;
  Gaussians g;
  g.means = torch::tensor({{0.f, 0.f, 3.f}});
  g.quats = torch::tensor({{1.f, 0.f, 0.f, 0.f}});
  g.scales = torch::tensor({{0.2f, 0.2f, 0.2f}});
  g.opacities = torch::tensor({0.9f});
  g.colors = torch::tensor({{1.f, 0.f, 0.f}});
  save_gaussians(dir.file("one.ply"), g);
  const auto r =
      run_command(xvfb + FRESNEL_VIEWER_EXE + " " + dir.file("one.ply") + " --screenshot " + dir.file("one.png") +
                  " --size 64x64 --yaw 0 --pitch 0 --distance 3 --target 0,0,3 --background 0,0,0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const torch::Tensor img = load_image(dir.file("one.png"));
  // Centre pixel red at ≈ 0.9 (o·e^0 at the centre), corners background, symmetric left/right.
  EXPECT_NEAR(img[32][32][0].item<float>(), 0.9f, 0.03f);
  EXPECT_LT(img[32][32][1].item<float>(), 0.01f);
  EXPECT_LT(img[0][0][0].item<float>(), 0.01f);
  EXPECT_NEAR(img[32][20][0].item<float>(), img[32][44][0].item<float>(), 0.03f);
  EXPECT_NEAR(img[20][32][0].item<float>(), img[44][32][0].item<float>(), 0.03f);
}

TEST(ViewerCommandLine, BadInputIsAClearError) {
  test::TempDir dir;
  // Input errors are reported before a window is opened, so no display is needed.
  auto r = run_command(std::string(FRESNEL_VIEWER_EXE) + " " + dir.file("missing.ply") + " --screenshot " +
                       dir.file("x.png"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("missing.ply"), std::string::npos) << r.output;
  test::write_bytes(dir.file("bad.ply"), "ply\nformat binary_little_endian 1.0\nelement vertex 10\n");
  r = run_command(std::string(FRESNEL_VIEWER_EXE) + " " + dir.file("bad.ply") + " --screenshot " + dir.file("x.png"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("bad.ply"), std::string::npos) << r.output;
  r = run_command(std::string(FRESNEL_VIEWER_EXE) + " --size 12by7 --screenshot " + dir.file("x.png"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--size"), std::string::npos) << r.output;
  EXPECT_FALSE(std::ifstream(dir.file("x.png")).good());
}
