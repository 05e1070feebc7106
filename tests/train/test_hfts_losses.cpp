#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "train/hfts.hpp"
#include "train/losses.hpp"

using namespace fresnel::train;

TEST(Hfts, ProgressiveScheduleMatchesTheOriginalStepByStep) {
  // Spec §21.10: epochs = 100, base 4: epochs 0–24 → 1, 25–49 → 2, 50–99 → 4 (final phase off to compare).
  HftsOptions o;
  o.progressive = true;
  o.base_k = 4;
  o.epochs = 100;
  o.final_full = false;
  for (int e = 0; e < 100; ++e) {
    const int64_t expect = e < 25 ? 1 : e < 50 ? 2 : 4;
    EXPECT_EQ(hfts_schedule(o, e).gaussians_per_patch, expect) << "epoch " << e;
    EXPECT_EQ(hfts_schedule(o, e).resolution, 256);
    EXPECT_EQ(hfts_schedule(o, e).stochastic_k, 0);
  }
  // Base 8: 1, 2, 8 (max(4, base)), 8. Base 2: capped at 2.
  o.base_k = 8;
  EXPECT_EQ(hfts_schedule(o, 60).gaussians_per_patch, 8);
  o.base_k = 2;
  EXPECT_EQ(hfts_schedule(o, 60).gaussians_per_patch, 2);
  EXPECT_EQ(hfts_schedule(o, 10).gaussians_per_patch, 1);
}

TEST(Hfts, FastModeAndTheDocumentedFinalQuarter) {
  HftsOptions o;
  o.fast_mode = true;
  o.image_size = 128;
  o.base_k = 4;
  o.epochs = 8;
  for (int e = 0; e < 8; ++e) {
    const auto s = hfts_schedule(o, e);
    const bool full = e >= 6;  // p = e/8 ≥ 0.75
    EXPECT_EQ(s.full_phase, full) << e;
    EXPECT_EQ(s.resolution, full ? 128 : 64) << e;
    EXPECT_EQ(s.stochastic_k, full ? 0 : 256) << e;
    EXPECT_EQ(s.gaussians_per_patch, e < 2 ? 1 : e < 4 ? 2 : 4) << e;
  }
  // The original's behaviour (never returns to full quality) stays available.
  o.final_full = false;
  EXPECT_EQ(hfts_schedule(o, 7).resolution, 64);
  EXPECT_EQ(hfts_schedule(o, 7).stochastic_k, 256);
  // Explicit options.
  HftsOptions x;
  x.image_size = 256;
  x.train_resolution = 96;
  x.stochastic_k = 500;
  x.epochs = 4;
  EXPECT_EQ(hfts_schedule(x, 0).resolution, 96);
  EXPECT_EQ(hfts_schedule(x, 0).stochastic_k, 500);
  EXPECT_EQ(hfts_schedule(x, 3).resolution, 256);
  EXPECT_EQ(hfts_schedule(x, 3).stochastic_k, 0);
  // Nothing on: plain training, never a "final phase".
  HftsOptions none;
  none.epochs = 4;
  EXPECT_FALSE(hfts_active(none));
  EXPECT_FALSE(hfts_schedule(none, 3).full_phase);
}

TEST(Hfts, InclusionProbabilitiesSumToKAndFollowImportance) {
  auto w = torch::tensor({10.0, 1.0, 1.0, 2.0, 0.5, 0.5, 3.0, 0.0});
  auto pi = inclusion_probabilities(w, 3);
  EXPECT_NEAR(pi.sum().item<double>(), 3.0, 1e-9);
  EXPECT_LE(pi.max().item<double>(), 1.0);
  EXPECT_NEAR(pi[0].item<double>(), 1.0, 1e-12);  // capped
  // Uncapped ones are proportional to importance.
  EXPECT_NEAR(pi[3].item<double>() / pi[1].item<double>(), 2.0, 1e-6);
  EXPECT_GT(pi[7].item<double>(), 0.0);  // zero importance keeps a chance
  EXPECT_TRUE(torch::allclose(inclusion_probabilities(w, 8), torch::ones({8}, torch::kDouble)));
}

TEST(Hfts, SamplerFrequenciesMatchInclusionProbabilities) {
  torch::manual_seed(7);
  auto w = torch::tensor({5.0, 1.0, 2.0, 0.5, 3.0, 1.5, 0.2, 4.0, 1.0, 0.8});
  auto pi = inclusion_probabilities(w, 4);
  auto counts = torch::zeros({10}, torch::kDouble);
  const int trials = 4000;
  for (int t = 0; t < trials; ++t) {
    auto s = sample_subset(w, 4);
    counts.index_add_(0, s.indices, torch::ones({s.indices.numel()}, torch::kDouble));
    // Reported inclusion probabilities are those of the kept indices.
    ASSERT_TRUE(torch::allclose(s.inclusion.to(torch::kDouble), pi.index_select(0, s.indices)));
  }
  auto freq = counts / trials;
  // Binomial standard error ≤ 0.008 at 4000 trials; 4.5σ.
  EXPECT_LT((freq - pi).abs().max().item<double>(), 0.036);
}

TEST(Hfts, HorvitzThompsonOpacityIsUnbiasedInOpticalDepth) {
  // Exact check: E[Σ_kept −log(1−α'_i)] = Σ_i π_i·(−log(1−α'_i)) = Σ_i −log(1−α_i).
  auto o = torch::tensor({0.9, 0.5, 0.2, 0.05, 0.7, 0.3}, torch::kDouble);
  auto pi = inclusion_probabilities(o, 3);
  auto od = -torch::log(1.0 - unbiased_opacity(o, pi));
  EXPECT_NEAR((pi * od).sum().item<double>(), (-torch::log(1.0 - o)).sum().item<double>(), 1e-9);
  // π = 1 leaves opacity unchanged.
  EXPECT_TRUE(torch::allclose(unbiased_opacity(o, torch::ones_like(o)), o));
  // Monte Carlo: the mean transmittance exponent over subsets matches the full one.
  torch::manual_seed(3);
  double acc = 0;
  const int trials = 3000;
  for (int t = 0; t < trials; ++t) {
    auto s = sample_subset(o, 3);
    auto a = unbiased_opacity(o.index_select(0, s.indices), s.inclusion.to(torch::kDouble));
    acc += (-torch::log(1.0 - a)).sum().item<double>();
  }
  EXPECT_NEAR(acc / trials, (-torch::log(1.0 - o)).sum().item<double>(), 0.1);
}

TEST(Losses, L1VlmAndBoundary) {
  auto r = torch::full({1, 3, 4, 4}, 0.5), t = torch::full({1, 3, 4, 4}, 0.25);
  EXPECT_NEAR(pixel_l1_loss(r, t).item<float>(), 0.25, 1e-6);
  auto density = torch::full({1, 1, 4, 4}, 1.5);
  auto w = vlm_pixel_weights(density, 0.5);
  EXPECT_NEAR(w.mean().item<float>(), 0.5 + 0.75, 1e-6);
  EXPECT_NEAR(pixel_l1_loss(r, t, w).item<float>(), 0.25 * 1.25, 1e-6);
  // On a boundary (d = 0.5 with 8 zones) the mask is sigmoid(10) ≈ 1; mid-zone (d = 0.0625) ≈ 0.
  auto m = fresnel_boundary_mask(torch::tensor({0.5, 0.0625, 0.51}).view({1, 1, 1, 3}), 8);
  EXPECT_NEAR(m[0][0][0][0].item<double>(), 1.0 / (1.0 + std::exp(-10.0)), 1e-6);
  EXPECT_LT(m[0][0][0][1].item<double>(), 1e-6);
  EXPECT_NEAR(m[0][0][0][2].item<double>(), 1.0 / (1.0 + std::exp(-5.0)), 1e-5);  // distance 0.01: (10/τ)·0.01 = 5
}

TEST(Losses, DepthPhaseFrequencyAndWave) {
  torch::manual_seed(0);
  auto d = torch::rand({2, 1, 8, 8});
  // Standardised depth loss ignores affine changes.
  EXPECT_LT(standardized_depth_loss(3.0 * d + 2.0, d).item<float>(), 1e-5);
  EXPECT_GT(standardized_depth_loss(1.0 - d, d).item<float>(), 0.5);
  auto img = torch::rand({2, 3, 8, 8});
  EXPECT_LT(phase_retrieval_loss(img, img, d, torch::tensor(0.05), 0.5).item<float>(), 1e-8);
  EXPECT_GT(phase_retrieval_loss(img * 0.5, img, d, torch::tensor(0.05), 0.5).item<float>(), 1e-3);
  EXPECT_LT(frequency_loss(img, img, 0.1, 2.0).item<float>(), 1e-10);
  // A constant image: DC only, so the high band is empty and the low band sees the brightness difference.
  auto a = torch::full({1, 1, 8, 8}, 0.5), b = torch::full({1, 1, 8, 8}, 0.25);
  EXPECT_NEAR(frequency_loss(a, b, 0.1, 2.0).item<float>(), std::pow(64 * 0.25, 2) / 64.0, 1e-3);
  // Helmholtz residual of a constant field U = c: (k²c)².
  const double k = 2 * M_PI / 0.05;
  EXPECT_NEAR(wave_equation_loss(a, 0.05).item<double>() / std::pow(k * k * 0.5, 2), 1.0, 1e-4);
  // Tensegrity: points on a line at the ideal first spacing give a smaller loss than random clumps.
  auto pos = torch::randn({1, 50, 3}) * 0.01;
  EXPECT_GT(tensegrity_loss(pos).item<float>(), 0.0);
}

TEST(Losses, LearnableWavelengthsStartAtTheirValuesAndLearn) {
  LearnableWavelengths w(0.0635, 0.05, 0.041);
  auto l = w->forward();
  EXPECT_NEAR(l[0].item<float>(), 0.0635, 1e-6);
  EXPECT_NEAR(l[1].item<float>(), 0.05, 1e-6);
  EXPECT_NEAR(l[2].item<float>(), 0.041, 1e-6);
  l.sum().backward();
  EXPECT_GT(w->raw.grad().abs().min().item<float>(), 0.0);  // the original's clamp made this zero
}
