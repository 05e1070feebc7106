#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.hpp"
#include "metrics/psnr.hpp"
#include "metrics/ssim.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;

namespace {

// Straightforward SSIM written with loops: 2-D Gaussian window normalised over the 11×11 square, zero padding.
double naive_ssim(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  const auto a = a_in.to(torch::kFloat64).contiguous(), b = b_in.to(torch::kFloat64).contiguous();
  const int64_t B = a.size(0), C = a.size(1), H = a.size(2), W = a.size(3);
  double w[11][11], wsum = 0;
  for (int i = 0; i < 11; ++i)
    for (int j = 0; j < 11; ++j) wsum += w[i][j] = std::exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * 1.5 * 1.5));
  auto A = a.accessor<double, 4>();
  auto Bt = b.accessor<double, 4>();
  double total = 0;
  for (int64_t n = 0; n < B; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
          for (int i = 0; i < 11; ++i)
            for (int j = 0; j < 11; ++j) {
              const int64_t yy_ = y + i - 5, xx_ = x + j - 5;
              if (yy_ < 0 || yy_ >= H || xx_ < 0 || xx_ >= W) continue;  // zero padding
              const double k = w[i][j] / wsum, p = A[n][c][yy_][xx_], q = Bt[n][c][yy_][xx_];
              mx += k * p;
              my += k * q;
              xx += k * p * p;
              yy += k * q * q;
              xy += k * p * q;
            }
          const double vx = xx - mx * mx, vy = yy - my * my, cxy = xy - mx * my;
          const double c1 = 0.0001, c2 = 0.0009;
          total += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
  return total / double(B * C * H * W);
}

}  // namespace

TEST(Psnr, IdenticalImagesGiveTheCap) {
  auto img = torch::rand({3, 8, 8});
  EXPECT_DOUBLE_EQ(psnr(img, img), kPsnrCapDb);
}

TEST(Psnr, KnownNoiseGivesExpectedValue) {
  // ±δ in a checkerboard: MSE is exactly δ², PSNR = −20·log10(δ).
  for (double delta : {0.05, 0.1, 0.2}) {
    auto target = torch::full({16, 16, 3}, 0.5);
    auto sign = (torch::arange(16 * 16 * 3) % 2).reshape({16, 16, 3}).to(torch::kFloat32) * 2 - 1;
    auto noisy = target + delta * sign;
    EXPECT_NEAR(psnr(noisy, target), -20.0 * std::log10(delta), 0.01);
  }
}

TEST(Psnr, PerImageThenAveraged) {
  auto t = torch::zeros({2, 4, 4});
  auto p = t.clone();
  p[0].fill_(0.1);   // 20 dB
  p[1].fill_(0.01);  // 40 dB
  auto v = psnr_per_image(p, t);
  EXPECT_NEAR(v[0].item<double>(), 20.0, 1e-4);
  EXPECT_NEAR(v[1].item<double>(), 40.0, 1e-4);
  EXPECT_NEAR(v.mean().item<double>(), 30.0, 1e-4);  // not 10·log10(1/mean MSE) ≈ 23 dB
  EXPECT_THROW(psnr(torch::zeros({2, 2}), torch::zeros({3, 2})), Error);
}

TEST(Ssim, IdenticalImagesGiveOne) {
  auto img = torch::rand({2, 3, 20, 17});
  EXPECT_NEAR(ssim(img, img).item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(ssim_per_image_reference(img, img).mean().item<double>(), 1.0, 1e-6);
}

TEST(Ssim, FusedAndTwinEqualNaiveLoops) {
  torch::manual_seed(3);
  auto a = torch::rand({2, 3, 19, 23});
  auto b = (a + 0.2 * torch::randn({2, 3, 19, 23})).clamp(0, 1);
  const double ref = naive_ssim(a, b);
  EXPECT_NEAR(ssim(a, b).item<double>(), ref, 1e-5);
  EXPECT_NEAR(ssim_per_image_reference(a, b).mean().item<double>(), ref, 1e-5);
  // Per image too (the fused kernel reduces per image).
  const auto per = ssim_per_image(a, b);
  for (int i = 0; i < 2; ++i)
    EXPECT_NEAR(per[i].item<double>(), naive_ssim(a.slice(0, i, i + 1), b.slice(0, i, i + 1)), 1e-5);
  // Images smaller than the window still follow the zero-padding definition.
  auto s = torch::rand({1, 1, 4, 6}), t = torch::rand({1, 1, 4, 6});
  EXPECT_NEAR(ssim(s, t).item<double>(), naive_ssim(s, t), 1e-5);
}

TEST(Ssim, FusedGradientEqualsTwinAndFiniteDifferences) {
  torch::manual_seed(5);
  auto a = torch::rand({2, 2, 13, 9}, torch::kFloat64).requires_grad_(true);
  auto b = torch::rand({2, 2, 13, 9}, torch::kFloat64);
  auto weights = torch::tensor({0.7, -1.3}, torch::kFloat64);  // non-uniform upstream gradient per image
  (ssim_per_image(a, b) * weights).sum().backward();
  const auto g_fused = a.grad().clone();
  a.grad().zero_();
  (ssim_per_image_reference(a, b) * weights).sum().backward();
  EXPECT_LT(test::max_abs_diff(g_fused, a.grad()), 1e-10);
  // Central differences at a few entries.
  torch::NoGradGuard ng;
  auto x = a.detach().clone();
  const double eps = 1e-6;
  for (int64_t idx : {0, 17, 100, 233, 400}) {
    auto flat = x.view({-1});
    const double old = flat[idx].item<double>();
    flat[idx] = old + eps;
    const double up = (ssim_per_image(x, b) * weights).sum().item<double>();
    flat[idx] = old - eps;
    const double down = (ssim_per_image(x, b) * weights).sum().item<double>();
    flat[idx] = old;
    EXPECT_NEAR(g_fused.view({-1})[idx].item<double>(), (up - down) / (2 * eps), 1e-7) << "entry " << idx;
  }
}

TEST(Ssim, LossIsOneMinusSsimAndShapesAreChecked) {
  auto a = torch::rand({1, 3, 12, 12}), b = torch::rand({1, 3, 12, 12});
  EXPECT_NEAR(ssim_loss(a, b).item<double>(), 1.0 - ssim(a, b).item<double>(), 1e-7);
  EXPECT_THROW(ssim(torch::rand({3, 12, 12}), torch::rand({3, 12, 12})), Error);
  EXPECT_THROW(ssim(torch::rand({1, 3, 12, 12}), torch::rand({1, 3, 12, 11})), Error);
}
