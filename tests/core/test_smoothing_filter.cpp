// The baked 3D smoothing filter (anti-aliasing): known values, Σ' = Σ + σ²I exactly, and what it leaves alone.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/smoothing_filter.hpp"
#include "formats_test_helpers.hpp"

using namespace fresnel;

namespace {

Camera camera_f(double f) {
  Camera c;
  c.fx = c.fy = f;
  c.width = c.height = 32;
  c.cx = c.cy = 16;
  return c;
}

torch::Tensor covariance(const Gaussians& g) {  // R·diag(s²)·Rᵀ from (w,x,y,z)
  const auto q = g.quats / g.quats.norm(2, -1, true);
  const auto w = q.select(1, 0), x = q.select(1, 1), y = q.select(1, 2), z = q.select(1, 3);
  const auto R = torch::stack({torch::stack({1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)}, -1),
                               torch::stack({2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)}, -1),
                               torch::stack({2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)}, -1)},
                              1);
  return R.matmul(torch::diag_embed(g.scales.square())).matmul(R.transpose(1, 2));
}

}  // namespace

TEST(SmoothingFilter, KnownValueAtTheTrainingSamplingRate) {
  auto g = test::random_gaussians(1);
  g.means = torch::tensor({{0.f, 0.f, 2.f}});
  g.scales = torch::tensor({{0.01f, 0.02f, 0.001f}});
  const auto r = apply_smoothing_filter(g, camera_f(32), 0.3);
  const double sigma2 = 0.3 * std::pow(2.0 / 32.0, 2);  // 0.3 px² at the pixel footprint z/f
  EXPECT_NEAR(r.scales[0][0].item<double>(), std::sqrt(1e-4 + sigma2), 1e-7);
  EXPECT_NEAR(r.scales[0][2].item<double>(), std::sqrt(1e-6 + sigma2), 1e-7);
  EXPECT_TRUE(torch::equal(r.quats, g.quats));
  EXPECT_TRUE(torch::equal(r.opacities, g.opacities));
  EXPECT_TRUE(torch::equal(r.means, g.means));
}

TEST(SmoothingFilter, AddsAnIsotropicVarianceToEveryCovarianceAndSkipsWhatIsBehind) {
  auto g = test::random_gaussians(50);
  g.means = g.means.abs() + torch::tensor({0.f, 0.f, 1.f});  // in front of the camera
  const Camera cam = camera_f(40);
  const auto r = apply_smoothing_filter(g, cam, 0.5);
  const auto sigma2 = 0.5 * (g.means.select(1, 2) / 40).square();
  const auto expected = covariance(g) + torch::eye(3).unsqueeze(0) * sigma2.view({-1, 1, 1});
  EXPECT_LT((covariance(r) - expected).abs().max().item<double>(), 1e-6);
  // Off, or a Gaussian behind the camera: unchanged.
  EXPECT_TRUE(torch::equal(apply_smoothing_filter(g, cam, 0.0).scales, g.scales));
  auto behind = g;
  behind.means = behind.means * torch::tensor({1.f, 1.f, -1.f});
  EXPECT_TRUE(torch::equal(apply_smoothing_filter(behind, cam, 0.5).scales, g.scales));
}

TEST(SmoothingFilter, OpacityCompensationKnownValue) {
  // Mip-Splatting's 3D filter: o' = o·√(det Σ / det Σ') = o·Π s/√(s² + σ²).
  auto g = test::random_gaussians(1);
  g.means = torch::tensor({{0.f, 0.f, 2.f}});
  g.scales = torch::tensor({{0.01f, 0.02f, 0.001f}});
  g.opacities = torch::tensor({0.8f});
  const double sigma2 = 0.3 * std::pow(2.0 / 32.0, 2);
  const double expect = 0.8 * (0.01 / std::sqrt(1e-4 + sigma2)) * (0.02 / std::sqrt(4e-4 + sigma2)) *
                        (0.001 / std::sqrt(1e-6 + sigma2));  // ≈ 0.8 · 0.79 · 0.94 · 0.094
  const auto r = apply_smoothing_filter(g, camera_f(32), 0.3, /*compensate_opacity=*/true);
  EXPECT_NEAR(r.opacities[0].item<double>(), expect, 1e-6 * 0.8);
  EXPECT_NEAR(r.scales[0][2].item<double>(), std::sqrt(1e-6 + sigma2), 1e-7);  // scales as without compensation
  // The same through the input-frame variant a model uses (camera at the origin, focal length per scene).
  const auto b = apply_smoothing_filter_input_frame(Gaussians::stack({g}), torch::tensor({32.0}), 0.3, true);
  EXPECT_NEAR(b.opacities[0][0].item<double>(), expect, 1e-6 * 0.8);
  // A large Gaussian (σ ≪ s) keeps nearly all its opacity: 0.8·(1 + σ²)^(−3/2) ≈ 0.7986.
  g.scales = torch::tensor({{1.f, 1.f, 1.f}});
  EXPECT_NEAR(apply_smoothing_filter(g, camera_f(32), 0.3, true).opacities[0].item<double>(),
              0.8 * std::pow(1 + sigma2, -1.5), 1e-6);
}
