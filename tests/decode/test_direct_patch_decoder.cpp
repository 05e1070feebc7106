#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/camera.hpp"
#include "decode/decoder_common.hpp"
#include "decode/direct_patch_decoder.hpp"

using namespace fresnel;
using namespace fresnel::decode;

namespace {
// Zero the last Linear so every raw output is exactly zero.
void zero_last_layer(DirectPatchDecoder& dec) {
  torch::NoGradGuard ng;
  auto params = dec->mlp->parameters();
  params[params.size() - 1].zero_();
  params[params.size() - 2].zero_();
}
}  // namespace

TEST(DirectPatchDecoder, ParameterCountsEqualTheOriginal) {
  // Spec §4.2: K=4 → 632,257; K=8 → 640,513; +14,721 with pose encoding; MLP [512,256,128] → 369,601.
  DirectPatchDecoderOptions o;
  o.gaussians_per_patch = 4;
  EXPECT_EQ(count_parameters(*DirectPatchDecoder(o)), 632257);
  o.gaussians_per_patch = 8;
  EXPECT_EQ(count_parameters(*DirectPatchDecoder(o)), 640513);
  o.gaussians_per_patch = 4;
  o.use_pose_encoding = true;
  EXPECT_EQ(count_parameters(*DirectPatchDecoder(o)), 632257 + 14721);
  o.use_pose_encoding = false;
  o.hidden = {512, 256, 128};
  EXPECT_EQ(count_parameters(*DirectPatchDecoder(o)), 369601);
  // Depth fusion adds the DepthEncoder (55,744) and widens the first layer by 64 inputs (64·512).
  o.hidden = {512, 512, 256, 128};
  o.use_depth_fusion = true;
  EXPECT_EQ(count_parameters(*DirectPatchDecoder(o)), 632257 + 55744 + 64 * 512);
  // Edge-aware adds the edge detector (3→16→16→1 convs: 448 + 2320 + 145).
  o.use_depth_fusion = false;
  o.use_edge_aware = true;
  EXPECT_EQ(count_parameters(*DirectPatchDecoder(o)), 632257 + 2913);
  // Phase output widens the last layer from 64 to 76 outputs.
  o.use_edge_aware = false;
  o.use_phase_output = true;
  EXPECT_EQ(count_parameters(*DirectPatchDecoder(o)), 632257 + 128 * 12 + 12);
}

TEST(DirectPatchDecoder, CountAndSlicing) {
  torch::manual_seed(0);
  DirectPatchDecoderOptions o;
  o.feature_dim = 8;
  o.hidden = {16};
  o.gaussians_per_patch = 4;
  DirectPatchDecoder dec(o);
  dec->eval();
  DecoderInputs in;
  in.features = torch::randn({2, 8, 37, 37});
  in.depth = torch::rand({2, 1, 64, 64});
  auto full = dec->forward(in);
  EXPECT_EQ(full.gaussians.means.sizes(), (std::vector<int64_t>{2, 1369 * 4, 3}));
  EXPECT_EQ(full.gaussians.quats.sizes(), (std::vector<int64_t>{2, 1369 * 4, 4}));
  EXPECT_EQ(full.gaussians.opacities.sizes(), (std::vector<int64_t>{2, 1369 * 4}));
  in.num_gaussians = 2;
  auto part = dec->forward(in);
  ASSERT_EQ(part.gaussians.count(), 1369 * 2);
  // The first k of K per patch are kept: same MLP output, sliced (flatten order row, col, k).
  auto a = full.gaussians.colors.view({2, 1369, 4, 3}).narrow(2, 0, 2).reshape({2, -1, 3});
  EXPECT_TRUE(torch::allclose(a, part.gaussians.colors));
  auto q = full.gaussians.quats.norm(2, -1);
  EXPECT_LT((q - 1).abs().max().item<float>(), 1e-5);
  full.gaussians.batch(0).validate("decoder output");
}

TEST(DirectPatchDecoder, RawZeroOutputs) {
  DirectPatchDecoderOptions o;
  o.feature_dim = 8;
  o.hidden = {16};
  o.gaussians_per_patch = 2;
  o.use_phase_output = true;
  DirectPatchDecoder dec(o);
  zero_last_layer(dec);
  DecoderInputs in;
  in.features = torch::randn({1, 8, 37, 37});
  in.depth = torch::full({1, 1, 37, 37}, 0.25);
  auto g = dec->forward(in).gaussians;
  EXPECT_NEAR(g.scales.min().item<float>(), std::log1p(std::exp(1.0)) * 0.15, 1e-5);
  EXPECT_NEAR(g.scales.max().item<float>(), 0.19699, 1e-4);
  EXPECT_NEAR(g.colors.min().item<float>(), 0.5, 1e-6);
  EXPECT_NEAR(g.opacities.max().item<float>(), 0.5, 1e-6);
  EXPECT_NEAR(g.phases.mean().item<float>(), M_PI, 1e-5);
  // Identity rotation at zero raw output.
  EXPECT_NEAR(g.quats.select(-1, 0).min().item<float>(), 1.0, 1e-6);
  // z = offset + 2(1 − d) = 2 + 1.5.
  EXPECT_NEAR(g.means.select(-1, 2).min().item<float>(), 3.5, 1e-5);
  EXPECT_NEAR(g.means.select(-1, 2).max().item<float>(), 3.5, 1e-5);
}

TEST(DirectPatchDecoder, PixelAlignedAndNearerIsNearer) {
  DirectPatchDecoderOptions o;
  o.feature_dim = 4;
  o.hidden = {8};
  o.gaussians_per_patch = 1;
  DirectPatchDecoder dec(o);
  zero_last_layer(dec);
  const int W = 96, H = 64;
  Camera cam;
  cam.fx = 70;
  cam.fy = 60;
  cam.cx = 50;
  cam.cy = 30;
  cam.width = W;
  cam.height = H;
  DecoderInputs in;
  in.features = torch::randn({1, 4, 37, 37});
  // A depth ramp: left near (1), right far (0).
  in.depth = torch::linspace(1, 0, W).view({1, 1, 1, W}).expand({1, 1, H, W}).contiguous();
  in.intrinsics =
      torch::tensor({float(cam.fx / W), float(cam.fy / H), float(cam.cx / W), float(cam.cy / H)}).view({1, 4});
  auto means = dec->forward(in).gaussians.means[0].to(torch::kDouble);
  auto acc = means.accessor<double, 2>();
  for (int i = 0; i < 37; i += 6) {
    for (int j = 0; j < 37; j += 6) {
      const int n = i * 37 + j;
      auto p = cam.project({acc[n][0], acc[n][1], acc[n][2]});
      EXPECT_NEAR(p[0], (j + 0.5) * W / 37.0, 1e-3);
      EXPECT_NEAR(p[1], (i + 0.5) * H / 37.0, 1e-3);
    }
  }
  // Nearer depth (left) → smaller z.
  EXPECT_LT(acc[0][2], acc[36][2]);
}

TEST(DirectPatchDecoder, MetricDepthIsUsedDirectly) {
  DirectPatchDecoderOptions o;
  o.feature_dim = 4;
  o.hidden = {8};
  o.gaussians_per_patch = 1;
  o.depth_mode = DepthMode::Metric;
  DirectPatchDecoder dec(o);
  zero_last_layer(dec);
  DecoderInputs in;
  in.features = torch::randn({1, 4, 37, 37});
  in.depth = torch::full({1, 1, 74, 74}, 2.75);
  auto z = dec->forward(in).gaussians.means.select(-1, 2);
  EXPECT_NEAR(z.min().item<float>(), 2.75, 1e-5);
  EXPECT_NEAR(z.max().item<float>(), 2.75, 1e-5);
}

TEST(DirectPatchDecoder, EdgeAwareShrinksScalesAndBoostsOpacity) {
  torch::manual_seed(1);
  DirectPatchDecoderOptions o;
  o.feature_dim = 4;
  o.hidden = {8};
  o.gaussians_per_patch = 1;
  o.use_edge_aware = true;
  DirectPatchDecoder dec(o);
  zero_last_layer(dec);
  DecoderInputs in;
  in.features = torch::randn({1, 4, 37, 37});
  in.depth = torch::rand({1, 1, 37, 37});
  auto out = dec->forward(in);
  auto e = out.edge_strength.reshape({-1});
  auto expect_scale = 0.19699 * (1 - 0.5 * e);
  EXPECT_LT((out.gaussians.scales.select(-1, 0)[0] - expect_scale).abs().max().item<float>(), 1e-4);
  EXPECT_LT((out.gaussians.opacities[0] - (0.5 + 0.2 * e)).abs().max().item<float>(), 1e-5);
}

TEST(DirectPatchDecoder, FresnelZonesSnapDepth) {
  auto d = torch::tensor({0.0f, 0.05f, 0.124f, 0.126f, 0.99f, 1.0f});
  auto s = snap_to_fresnel_zones(d, 8);
  auto expect = torch::tensor({0.0625f, 0.0625f, 0.0625f, 0.1875f, 0.9375f, 0.9375f});
  EXPECT_TRUE(torch::allclose(s, expect));
}

TEST(Rotation, SixDToQuaternion) {
  auto q = rotation_6d_to_quaternion(torch::tensor({1.f, 0.f, 0.f, 0.f, 1.f, 0.f}));
  EXPECT_TRUE(torch::allclose(q, torch::tensor({1.f, 0.f, 0.f, 0.f}), 1e-6, 1e-6));
  // 90° about z: first column (0,1,0), second (−1,0,0) → (cos45°, 0, 0, sin45°).
  auto qz = rotation_6d_to_quaternion(torch::tensor({0.f, 2.f, 0.f, -3.f, 0.5f, 0.f}));
  const float c = std::sqrt(0.5f);
  EXPECT_TRUE(torch::allclose(qz, torch::tensor({c, 0.f, 0.f, c}), 1e-5, 1e-5));
  // Random and degenerate inputs: unit quaternions, finite.
  torch::manual_seed(3);
  auto r = torch::randn({1000, 6});
  r[0].zero_();
  r[1].narrow(0, 3, 3).copy_(r[1].narrow(0, 0, 3) * 2);
  auto qs = rotation_6d_to_quaternion(r);
  EXPECT_TRUE(torch::isfinite(qs).all().item<bool>());
  EXPECT_LT((qs.norm(2, -1) - 1).abs().max().item<float>(), 1e-5);
}

TEST(Rotation, QuaternionMatchesMatrixForAllShepperdBranches) {
  torch::manual_seed(4);
  auto q =
      torch::nn::functional::normalize(torch::randn({500, 4}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  q = torch::where(q.narrow(-1, 0, 1) < 0, -q, q);
  auto w = q.select(-1, 0), x = q.select(-1, 1), y = q.select(-1, 2), z = q.select(-1, 3);
  auto R = torch::stack({1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y), 2 * (x * y + w * z),
                         1 - 2 * (x * x + z * z), 2 * (y * z - w * x), 2 * (x * z - w * y), 2 * (y * z + w * x),
                         1 - 2 * (x * x + y * y)},
                        -1)
               .view({500, 3, 3});
  auto back = matrix_to_quaternion(R);
  EXPECT_LT((back - q).abs().max().item<float>(), 1e-4);
  // q ⊗ q⁻¹ = identity.
  auto qi = q * torch::tensor({1.f, -1.f, -1.f, -1.f});
  auto id = quaternion_multiply(q, qi);
  EXPECT_LT((id - torch::tensor({1.f, 0.f, 0.f, 0.f})).abs().max().item<float>(), 1e-5);
}

TEST(DepthMapping, NormalizedDepthToZ) {
  auto off = torch::full({1}, 2.0);
  auto z = normalized_depth_to_z(torch::tensor({0.0, 0.5, 1.0}), off);
  EXPECT_TRUE(torch::allclose(z, torch::tensor({4.0, 3.0, 2.0}).to(z.dtype())));
}
