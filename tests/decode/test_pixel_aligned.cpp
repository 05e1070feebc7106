// Pixel-aligned experiment-2 decoding (decode/pixel_aligned.hpp): known values at zero raw output, the
// initial head, and the surface depth grid.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "decode/direct_patch_decoder.hpp"
#include "decode/pixel_aligned.hpp"

using namespace fresnel;
using namespace fresnel::decode;

namespace {
constexpr int64_t kP = kRawParams;

DecoderInputs metric_inputs(int64_t S) {
  DecoderInputs in;
  in.images = torch::rand({1, 3, S, S}) * 0.9 + 0.05;
  in.depth = 2.0 + torch::rand({1, 1, S, S});
  in.depth.index_put_({0, 0, 0, 0}, 0.0);  // one background pixel
  in.intrinsics = torch::tensor({{0.9f, 1.1f, 0.45f, 0.55f}});
  return in;
}
}  // namespace

TEST(PixelAligned, ZeroRawPutsGaussiansOnPixelRaysWithImageColours) {
  torch::manual_seed(1);
  const int64_t S = 6, K = 2;
  auto in = metric_inputs(S);
  auto raw = torch::zeros({1, S, S, K, kP});
  auto p = pixel_aligned_params(raw, in.images, in.depth, in.intrinsics, DepthMode::Metric, torch::full({1}, 2.0));
  const double fx = 0.9 * S, fy = 1.1 * S, cx = 0.45 * S, cy = 0.55 * S;
  const double zmax = in.depth.amax().item<double>();
  for (int64_t i = 0; i < S; ++i)
    for (int64_t j = 0; j < S; ++j) {
      double z = in.depth[0][0][i][j].item<double>();
      if (z <= 0) z = zmax + 1.0;  // background: one object radius behind the farthest surface
      for (int64_t k = 0; k < K; ++k) {
        auto m = p.means[0][i][j][k];
        // Projects onto the pixel centre (pixel alignment), at the pixel's depth.
        const double mz = m[2].item<double>();
        EXPECT_NEAR(mz, z, 1e-4 * z);
        EXPECT_NEAR(fx * m[0].item<double>() / mz + cx, j + 0.5, 1e-4);
        EXPECT_NEAR(fy * m[1].item<double>() / mz + cy, i + 0.5, 1e-4);
        for (int c = 0; c < 3; ++c)
          EXPECT_NEAR(p.colors[0][i][j][k][c].item<double>(), in.images[0][c][i][j].item<double>(), 1e-5);
        EXPECT_NEAR(p.scales[0][i][j][k][0].item<double>(), kPixelScaleFactor * z / fx, 1e-6);
      }
    }
}

TEST(PixelAligned, DepthSlotMovesAlongTheRayAndNearerDepthIsNearer) {
  torch::manual_seed(2);
  auto in = metric_inputs(4);
  auto raw = torch::zeros({1, 4, 4, 1, kP});
  raw.select(-1, 2).fill_(1.0);
  auto a = pixel_aligned_params(raw, in.images, in.depth, in.intrinsics, DepthMode::Metric, torch::full({1}, 2.0));
  auto b = pixel_aligned_params(torch::zeros_like(raw), in.images, in.depth, in.intrinsics, DepthMode::Metric,
                                torch::full({1}, 2.0));
  // Same ray (x/z, y/z unchanged), farther by e^(1/4).
  auto ra = a.means.select(-1, 0) / a.means.select(-1, 2), rb = b.means.select(-1, 0) / b.means.select(-1, 2);
  EXPECT_LT((ra - rb).abs().max().item<double>(), 1e-5);
  EXPECT_LT((a.means.select(-1, 2) / b.means.select(-1, 2) - std::exp(0.25)).abs().max().item<double>(), 1e-5);
  // Normalised depth (1 = near): a nearer pixel gets a nearer Gaussian.
  auto dn = torch::tensor({0.2f, 0.8f}).view({1, 1, 1, 2});
  auto c =
      pixel_aligned_params(torch::zeros({1, 1, 2, 1, kP}), torch::full({1, 3, 1, 2}, 0.5), dn,
                           torch::tensor({{0.8f, 0.8f, 0.5f, 0.5f}}), DepthMode::Normalized, torch::full({1}, 2.0));
  EXPECT_LT(c.means[0][0][1][0][2].item<double>(), c.means[0][0][0][0][2].item<double>());
}

TEST(PixelAligned, ScaleFloorBoundsScalesFromBelowAndKeepsTheStart) {
  torch::manual_seed(5);
  auto in = metric_inputs(4);
  auto raw = torch::zeros({1, 4, 4, 1, kP});
  auto z0 =
      pixel_aligned_params(raw, in.images, in.depth, in.intrinsics, DepthMode::Metric, torch::full({1}, 2.0), 0.2);
  auto free0 = pixel_aligned_params(raw, in.images, in.depth, in.intrinsics, DepthMode::Metric, torch::full({1}, 2.0));
  EXPECT_LT((z0.scales - free0.scales).abs().max().item<double>(), 1e-7);  // same start: 0.3 footprint
  raw.narrow(-1, 3, 3).fill_(-50.0);
  auto lo =
      pixel_aligned_params(raw, in.images, in.depth, in.intrinsics, DepthMode::Metric, torch::full({1}, 2.0), 0.2);
  auto free = pixel_aligned_params(raw, in.images, in.depth, in.intrinsics, DepthMode::Metric, torch::full({1}, 2.0));
  auto footprint = free0.scales / kPixelScaleFactor;
  EXPECT_GT((lo.scales / footprint).min().item<double>(), 0.2 - 1e-6);
  EXPECT_LT((free.scales / footprint).max().item<double>(), 0.01);
  EXPECT_THROW(
      pixel_aligned_params(raw, in.images, in.depth, in.intrinsics, DepthMode::Metric, torch::full({1}, 2.0), 0.5),
      std::exception);
}

TEST(PixelAligned, MissingImagesIsAClearError) {
  auto raw = torch::zeros({1, 2, 2, 1, kP});
  try {
    pixel_aligned_params(raw, torch::Tensor(), torch::Tensor(), torch::tensor({{0.8f, 0.8f, 0.5f, 0.5f}}),
                         DepthMode::Metric, torch::full({1}, 2.0));
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("input images"), std::string::npos);
  }
}

TEST(PixelAligned, SurfaceGridTakesTheNearestSurfaceAndFillsBackground) {
  // 4×4 depth → 2×2 grid. Cell (0,0): 3 and background → 3; cell (0,1): 2.5, 4 → 2.5; cell (1,0): all background
  // → max surface (4) + 1; cell (1,1): 3.5.
  auto d = torch::tensor({0.f, 3.f, 2.5f, 4.f,   //
                          0.f, 0.f, 4.f, 4.f,    //
                          0.f, 0.f, 3.5f, 3.5f,  //
                          0.f, 0.f, 3.5f, 3.5f})
               .view({1, 1, 4, 4});
  auto g = surface_grid_depth(d, 2, 2);
  EXPECT_FLOAT_EQ(g[0][0][0][0].item<float>(), 3.f);
  EXPECT_FLOAT_EQ(g[0][0][0][1].item<float>(), 2.5f);
  EXPECT_FLOAT_EQ(g[0][0][1][0].item<float>(), 5.f);
  EXPECT_FLOAT_EQ(g[0][0][1][1].item<float>(), 3.5f);
}

TEST(PixelAligned, UntrainedDecoderPutsSlotZeroOnTheSurfaceOpaqueAndHidesTheRest) {
  torch::manual_seed(3);
  DirectPatchDecoderOptions o;
  o.feature_dim = 8;
  o.hidden = {16, 16};
  o.gaussians_per_patch = 3;
  o.dropout = 0.0;
  o.depth_mode = DepthMode::Metric;
  o.pixel_aligned = true;
  DirectPatchDecoder dec(o);
  auto in = metric_inputs(8);
  in.features = torch::randn({1, 8, 8, 8});
  auto g = dec->forward(in).gaussians;
  ASSERT_EQ(g.means.size(1), 8 * 8 * 3);
  auto op = g.opacities.view({8, 8, 3});
  EXPECT_GT(op.select(2, 0).min().item<double>(), 0.97);
  EXPECT_LT(op.select(2, 1).max().item<double>(), 0.3);
  auto z = g.means.view({8, 8, 3, 3}).select(-1, 2);
  EXPECT_GT((z.select(2, 2) / z.select(2, 0)).min().item<double>(), 1.2);  // hidden slots start behind
  auto zs = surface_grid_depth(in.depth, 8, 8)[0][0];
  EXPECT_LT((z.select(2, 0) / zs - 1.0).abs().max().item<double>(), 0.01);
}
