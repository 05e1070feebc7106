// The benchmark scenes: the pixel-aligned scene really puts its Gaussians on their pixels' rays with
// pixel-sized footprints, and the renderer matches the twin in that many-small-splats regime too.
#include <gtest/gtest.h>

#include "render/bench_scene.hpp"
#include "render/reference.hpp"
#include "render/render.hpp"

namespace fresnel {
namespace {

TEST(BenchScenes, PixelAlignedSceneSitsOnPixelRaysWithPixelFootprints) {
  const int res = 12, per_pixel = 3;
  const Gaussians g = pixel_aligned_scene(res, per_pixel, 7);
  ASSERT_EQ(g.means.size(0), int64_t(res) * res * per_pixel);
  const Camera cam = bench_camera(res);
  const auto x = g.means.select(1, 0), y = g.means.select(1, 1), z = g.means.select(1, 2);
  const auto u = x / z * cam.fx + cam.cx, v = y / z * cam.fy + cam.cy;
  // Gaussian i belongs to pixel i / per_pixel (row-major), whose centre is (col + 0.5, row + 0.5).
  const auto pixel = torch::arange(g.means.size(0)).div(per_pixel, "floor");
  const auto cu = pixel.remainder(res).to(torch::kFloat32) + 0.5;
  const auto cv = pixel.div(res, "floor").to(torch::kFloat32) + 0.5;
  EXPECT_LE((u - cu).abs().max().item<double>(), 1e-3);
  EXPECT_LE((v - cv).abs().max().item<double>(), 1e-3);
  EXPECT_GE(z.min().item<double>(), 2.0);
  EXPECT_LE(z.max().item<double>(), 4.3 + 1e-6);
  const auto footprints = g.scales / (z / cam.fx).unsqueeze(1);
  EXPECT_GE(footprints.min().item<double>(), 0.5 - 1e-4);
  EXPECT_LE(footprints.max().item<double>(), 2.0 + 1e-4);
}

TEST(BenchScenes, PixelAlignedSceneRendersLikeTheTwinAndCoversTheImage) {
  const int res = 20;
  const Gaussians g = pixel_aligned_scene(res, 2, 3);
  const std::vector<Camera> cams{bench_camera(res)};
  const RenderOutput a = render(g, cams, {}), b = reference::render(g, cams, {});
  EXPECT_LE((a.rgb - b.rgb).abs().max().item<double>(), 1e-5);
  EXPECT_LE((a.alpha - b.alpha).abs().max().item<double>(), 1e-5);
  EXPECT_LE((a.depth - b.depth).abs().max().item<double>(), 1e-4);
  // Mostly opaque splats on every pixel: nearly every pixel is covered.
  EXPECT_GT((a.alpha > 0.9).to(torch::kFloat32).mean().item<double>(), 0.95);
}

}  // namespace
}  // namespace fresnel
