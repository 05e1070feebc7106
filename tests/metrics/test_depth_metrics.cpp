// Depth error (AbsRel, δ<1.25) on hand-computed values, and its treatment of invalid pixels.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.hpp"
#include "metrics/depth_metrics.hpp"

using namespace fresnel;

TEST(DepthMetrics, KnownValues) {
  // Ground truth 0 is background (not scored); three pixels scored: errors 0.1, 0, 0.5; ratios 1.1, 1, 2.
  const auto gt = torch::tensor({{1.0, 2.0}, {0.0, 4.0}});
  const auto pred = torch::tensor({{1.1, 2.0}, {5.0, 2.0}});
  const DepthErrors e = depth_errors(pred, gt);
  EXPECT_EQ(e.pixels, 3);
  EXPECT_NEAR(e.abs_rel, (0.1 + 0 + 0.5) / 3, 1e-6);
  EXPECT_NEAR(e.delta1, 2.0 / 3.0, 1e-12);
  // Median scaling: median(gt) = 2, median(pred) = 2 → unchanged.
  EXPECT_NEAR(e.abs_rel_median_scaled, e.abs_rel, 1e-6);
  // A prediction off by one global factor has no error left after median scaling.
  const DepthErrors scaled = depth_errors(gt * 1.3, gt);
  EXPECT_NEAR(scaled.abs_rel, 0.3, 1e-6);
  EXPECT_NEAR(scaled.abs_rel_median_scaled, 0.0, 1e-6);
  // Exact prediction: no error, every pixel within 1.25.
  const DepthErrors same = depth_errors(gt, gt);
  EXPECT_DOUBLE_EQ(same.abs_rel, 0.0);
  EXPECT_DOUBLE_EQ(same.delta1, 1.0);
}

TEST(DepthMetrics, MissingPredictionsCountAsMissesAndEmptyTargetsAreNaN) {
  const auto gt = torch::tensor({{2.0, 2.0}});
  const DepthErrors e = depth_errors(torch::tensor({{2.0, -1.0}}), gt);  // a non-positive prediction is a miss
  EXPECT_DOUBLE_EQ(e.delta1, 0.5);
  EXPECT_DOUBLE_EQ(e.abs_rel, 0.5);
  const DepthErrors none = depth_errors(torch::ones({2, 2}), torch::zeros({2, 2}));
  EXPECT_EQ(none.pixels, 0);
  EXPECT_TRUE(std::isnan(none.abs_rel));
  EXPECT_THROW(depth_errors(torch::ones({2, 2}), torch::ones({3, 2})), Error);
}

TEST(DepthMetrics, NearestResizeKeepsValuesUnblended) {
  const auto d = torch::tensor({{0.f, 3.f}, {3.f, 0.f}}).unsqueeze(0);  // (1,2,2)
  const auto r = resize_depth_nearest(d, 4, 4);
  ASSERT_EQ(r.sizes(), (std::vector<int64_t>{4, 4}));
  EXPECT_FLOAT_EQ(r[0][0].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(r[0][3].item<float>(), 3.f);
  EXPECT_EQ(((r != 0) & (r != 3)).sum().item<int64_t>(), 0);  // no blended edge values
}
