// GaussianMatchingLoss and the occupancy terms on known inputs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "v2/matching_loss.hpp"

using namespace fresnel;

namespace {
// n Gaussians on a line, unit quaternions, colour ½, opacity ½.
torch::Tensor line(int64_t n, double x0) {
  auto g = torch::zeros({n, 14});
  g.select(1, 0).copy_(torch::arange(n) * 0.1 + x0);
  g.select(1, 3).fill_(0.01);
  g.select(1, 6).fill_(1);
  g.narrow(1, 10, 4).fill_(0.5);
  return g;
}
}  // namespace

TEST(MatchingLoss, ZeroOnIdenticalSetsAndKnownOnAShift) {
  auto t = line(8, 0).unsqueeze(0);
  auto same = v2::gaussian_matching_loss(t.clone(), t, {}, {});
  for (const auto& [k, v] : same) EXPECT_NEAR(v.item<double>(), 0.0, 1e-7) << k;
  // Shift every prediction by 0.01 in y: each matches its own target; position MSE = 0.01²/3 per coordinate mean.
  auto p = t.clone();
  p.select(2, 1).add_(0.01);
  auto l = v2::gaussian_matching_loss(p, t, {}, {});
  EXPECT_NEAR(l["position"].item<double>(), 1.0 * 1e-4 / 3, 1e-9);
  EXPECT_NEAR(l["coverage"].item<double>(), 1.0 * 2.0 * 1e-4 / 3, 1e-9);
  EXPECT_NEAR(l["opacity"].item<double>(), 0.0, 1e-9);
  // Opacity off by 0.1 weighs 5 (config weight), 2 in coverage.
  p = t.clone();
  p.select(2, 13).add_(0.1);
  l = v2::gaussian_matching_loss(p, t, {}, {});
  EXPECT_NEAR(l["opacity"].item<double>(), 5 * 0.01, 1e-6);
  EXPECT_NEAR(l["coverage"].item<double>(), 2 * 0.01, 1e-6);
}

TEST(MatchingLoss, MasksDropRowsAndBatchIsAveraged) {
  auto t = torch::stack({line(4, 0), line(4, 0)});
  auto p = t.clone();
  p[1].narrow(0, 2, 2).select(1, 0).add_(5.0);  // far rows of sample 1, masked out below
  auto mask = torch::ones({2, 4}, torch::kBool);
  mask[1][2] = false;
  mask[1][3] = false;
  auto l = v2::gaussian_matching_loss(p, t, mask, {});
  EXPECT_NEAR(l["position"].item<double>(), 0.0, 1e-9);
  EXPECT_GT(l["coverage"].item<double>(), 0.0);  // targets 2, 3 of sample 1 now match far-off predictions
  // The gradient reaches the predictions.
  auto q = p.clone().requires_grad_(true);
  auto total = v2::gaussian_matching_loss(q, t, {}, {})["position"];
  total.backward();
  EXPECT_GT(q.grad().abs().sum().item<double>(), 0.0);
}

TEST(MatchingLoss, OccupancyBceAndMetrics) {
  auto logits = torch::tensor({{2.f, -2.f, 2.f, 0.f}});
  auto target = torch::tensor({{1.f, 0.f, 0.f, 1.f}});
  auto mask = torch::tensor({{true, true, true, false}});
  const double expected = (std::log1p(std::exp(-2.0)) * 2 + std::log1p(std::exp(2.0))) / 3;
  EXPECT_NEAR(v2::occupancy_loss(logits, target, mask).item<double>(), expected, 1e-6);
  v2::OccupancyCounts c;
  c.add(logits, target, mask, 8);
  EXPECT_DOUBLE_EQ(c.accuracy(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(c.recall(), 1.0);  // the one valid positive is predicted
  EXPECT_DOUBLE_EQ(c.avg_gaussians(), 2 * 8.0);
}

TEST(MatchingLoss, RenderLossIsZeroOnItselfAndPullsPredictions) {
  auto t = line(8, -0.4);
  t.narrow(1, 3, 3).fill_(0.05);
  EXPECT_NEAR(v2::render_loss(t, t, 2, 32).item<double>(), 0.0, 1e-6);
  auto p = t.clone();
  p.select(1, 1).add_(0.2);  // moved off the targets
  p.requires_grad_(true);
  auto l = v2::render_loss(p, t, 2, 32);
  EXPECT_GT(l.item<double>(), 1e-3);
  l.backward();
  EXPECT_GT(p.grad().narrow(1, 0, 3).abs().sum().item<double>(), 0.0);
}
