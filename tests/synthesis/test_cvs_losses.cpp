// CVS loss terms (spec §9.2) on inputs with known answers.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "synthesis/cvs_losses.hpp"

using namespace fresnel::synthesis;

TEST(CvsLosses, DepthLaplacianAndQualityMask) {
  auto d = torch::zeros({1, 1, 6, 6});
  EXPECT_EQ(depth_laplacian(d).abs().sum().item<float>(), 0.f);
  d[0][0][3][3] = 1.0;  // a spike: |∇²| = 4 there, 1 at its 4 neighbours
  auto L = depth_laplacian(d);
  EXPECT_FLOAT_EQ(L[0][0][3][3].item<float>(), 4.f);
  EXPECT_FLOAT_EQ(L[0][0][2][3].item<float>(), 1.f);
  EXPECT_FLOAT_EQ(L[0][0][0][0].item<float>(), 0.f);
  auto q = quality_mask(d);
  EXPECT_NEAR(q[0][0][0][0].item<float>(), 1.f / (1.f + std::exp(-1.f)), 1e-6);  // sigmoid(100·0.01)
  EXPECT_LT(q[0][0][3][3].item<float>(), 1e-6);
  // A linear ramp has zero Laplacian inside (the roll wraps at the borders, as in the original).
  auto ramp = torch::arange(6, torch::kFloat).view({1, 1, 1, 6}).expand({1, 1, 6, 6}).contiguous() * 0.1;
  EXPECT_NEAR(depth_laplacian(ramp)[0][0][2][2].item<float>(), 0.f, 1e-6);
  EXPECT_NEAR(depth_laplacian(ramp)[0][0][2][0].item<float>(), 0.6f, 1e-6);
}

TEST(CvsLosses, GradientAndBoundaryTerms) {
  auto img = torch::zeros({1, 3, 4, 4});
  img.index_put_({0, torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(2)}, 1.0);
  // One vertical edge: |∂x| = 1 on 1 of 3 columns of x-differences; ∂y = 0.
  EXPECT_NEAR(gradient_penalty(img).item<double>(), 1.0 / 3.0, 1e-6);
  EXPECT_NEAR(gradient_penalty(img, torch::zeros({1, 1, 4, 4})).item<double>(), 0.0, 1e-9);
  auto depth = torch::zeros({1, 1, 4, 4});
  depth.index_put_({0, 0, torch::indexing::Slice(), torch::indexing::Slice(2)}, 1.0);
  auto pred = torch::full({1, 3, 4, 4}, 0.5), target = torch::zeros({1, 3, 4, 4});
  // x-boundaries at column 1 (between 1 and 2): err 0.5 on 4 of 12 x-pairs; no y-boundaries.
  EXPECT_NEAR(boundary_loss(pred, target, depth).item<double>(), 0.5 * 4 / 12, 1e-6);
}

TEST(CvsLosses, ProgressiveWeights) {
  EXPECT_EQ(progressive_consistency_weight(0, 100), 0.1);
  EXPECT_EQ(progressive_consistency_weight(32, 100), 0.1);
  EXPECT_EQ(progressive_consistency_weight(33, 100), 0.3);
  EXPECT_EQ(progressive_consistency_weight(65, 100), 0.3);
  EXPECT_EQ(progressive_consistency_weight(66, 100), 1.0);
  EXPECT_EQ(progressive_consistency_weight(99, 100), 1.0);
}

TEST(CvsLosses, StepBackFollowsTheFormula) {
  auto x0 = torch::full({1, 1, 1, 1}, 0.5), xt = torch::full({1, 1, 1, 1}, 0.2);
  auto at = torch::tensor({0.8f}), ap = torch::tensor({0.9f});
  const double want = 0.9 * 0.5 + (1 - 0.9) / (1 - 0.8 + 1e-8) * (0.2 - 0.8 * 0.5);
  EXPECT_NEAR(consistency_step_back(x0, xt, at, ap).item<double>(), want, 1e-6);
  EXPECT_EQ(consistency_step_back(torch::full({1, 1, 1, 1}, 5.0), xt, at, ap).item<double>(), 1.0);  // clamped
}

TEST(CvsLosses, ConsistencyLossTermsAndWeights) {
  torch::manual_seed(0);
  auto pred = torch::rand({2, 3, 8, 8}) * 2 - 1, target = torch::rand({2, 3, 8, 8}) * 2 - 1;
  auto ema = pred + 0.1;
  PerceptualStack phi(7), phi2(7), other(8);
  EXPECT_TRUE(torch::equal(phi->net->parameters()[0], phi2->net->parameters()[0]));  // seeded
  EXPECT_FALSE(torch::equal(phi->net->parameters()[0], other->net->parameters()[0]));
  for (auto& p : phi->parameters()) EXPECT_FALSE(p.requires_grad());  // frozen
  EXPECT_EQ(phi(pred).sizes(), (std::vector<int64_t>{2, 256, 2, 2}));
  CvsLossConfig c;
  c.lambda_reconstruction = 2.0;
  c.lambda_perceptual = 0.5;
  c.lambda_consistency = 3.0;
  CvsLossInputs in{pred, target, ema};
  auto L = cvs_losses(c, in, &phi, nullptr);
  EXPECT_NEAR(L.terms.at("l1").item<double>(), 2.0 * (pred - target).abs().mean().item<double>(), 1e-6);
  EXPECT_NEAR(L.terms.at("perceptual").item<double>(), 0.5 * (phi(pred) - phi(target)).abs().mean().item<double>(),
              1e-6);
  EXPECT_NEAR(L.terms.at("consistency").item<double>(), 3.0 * 0.01, 1e-5);
  EXPECT_NEAR(L.total.item<double>(),
              (L.terms.at("l1") + L.terms.at("perceptual") + L.terms.at("consistency")).item<double>(), 1e-6);
  c.lambda_perceptual = 0;
  in.ema_pred = torch::Tensor();
  EXPECT_EQ(cvs_losses(c, in, &phi, nullptr).terms.size(), 1u);
}

TEST(CvsLosses, QualityAwareTerms) {
  auto pred = torch::zeros({1, 3, 6, 6}), target = torch::full({1, 3, 6, 6}, 0.5);
  auto depth = torch::zeros({1, 1, 6, 6});
  depth[0][0][3][3] = 1.0;
  CvsLossConfig c;
  c.use_gaussian_targets = true;
  c.lambda_perceptual = 0.5;  // no LPIPS weights: the term is off
  c.lambda_consistency = 2.0;
  c.lambda_boundary = 1.0;
  c.lambda_gradient = 1.0;
  CvsLossInputs in{pred, target, pred + 0.25, depth, /*epoch=*/0, /*epochs=*/10};
  auto L = cvs_losses(c, in, nullptr, nullptr);
  EXPECT_EQ(L.terms.count("perceptual"), 0u);
  const auto q = quality_mask(depth);
  EXPECT_NEAR(L.terms.at("l1_weighted").item<double>(), (0.5 * q).mean().item<double>(), 1e-6);
  EXPECT_NEAR(L.terms.at("consistency").item<double>(), 2.0 * 0.1 * 0.25, 1e-6);  // progressive: 0.1 early
  in.epoch = 9;
  EXPECT_NEAR(cvs_losses(c, in, nullptr, nullptr).terms.at("consistency").item<double>(), 2.0 * 0.25, 1e-6);
  c.progressive_consistency = false;
  in.epoch = 0;
  EXPECT_NEAR(cvs_losses(c, in, nullptr, nullptr).terms.at("consistency").item<double>(), 2.0 * 0.25, 1e-6);
  EXPECT_NEAR(L.terms.at("boundary").item<double>(), boundary_loss(pred, target, depth).item<double>(), 1e-7);
  EXPECT_NEAR(L.terms.at("gradient").item<double>(), 0.0, 1e-9);  // prediction is flat
  c.quality_weighting = false;
  EXPECT_NEAR(cvs_losses(c, in, nullptr, nullptr).terms.at("l1_weighted").item<double>(), 0.5, 1e-6);
  in.target_depth = torch::Tensor();
  EXPECT_THROW(cvs_losses(c, in, nullptr, nullptr), fresnel::Error);
}
