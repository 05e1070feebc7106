// Checkpoints written before the one training loop and the decoder interface (committed in tests/train/data/,
// made by `fresnel train` at commit 4e8c1fe, see its README) still load and predict what that version's `fresnel
// infer` wrote for the same image.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "infer/image_reconstruction.hpp"
#include "testutil/testutil.hpp"
#include "train/checkpoint.hpp"

using namespace fresnel;

namespace {
const std::string kData = std::string(FRESNEL_SOURCE_DIR) + "/tests/train/data/";

void expect_same_prediction(const std::string& name) {
  infer::ReconstructionOptions options;  // what `fresnel infer input.png --checkpoint X` does
  options.checkpoint = kData + name + ".pt";
  auto predicted = infer::ImageReconstructor(options).run(kData + "input.png").gaussians;
  auto expected = load_gaussians(kData + name + "_infer.ply");
  ASSERT_EQ(predicted.count(), expected.count()) << name;
  EXPECT_LT(test::max_abs_diff(predicted.means, expected.means), 1e-4) << name;
  EXPECT_LT(test::max_abs_diff(predicted.scales, expected.scales), 1e-4) << name;
  EXPECT_LT(test::max_abs_diff(predicted.opacities, expected.opacities), 1e-4) << name;
  EXPECT_LT(test::max_abs_diff(predicted.colors, expected.colors), 1e-4) << name;
  // Rotations: the angle between them (q and −q agree), in float64. Normalising small raw quaternions amplifies
  // float differences between CPUs' SIMD paths (1.4e-4 per component on one machine, below 1e-4 on another).
  auto unit = [](const torch::Tensor& q) {
    auto d = q.to(torch::kFloat64);
    return d / d.norm(2, -1, true);
  };
  const auto dot = (unit(predicted.quats) * unit(expected.quats)).sum(-1).abs().clamp_max(1.0);
  EXPECT_LT((2 * torch::acos(dot)).max().item<double>(), 1e-3) << name;  // radians
}
}  // namespace

TEST(LegacyCheckpoints, PixelAlignedDirectPatchPredictsAsBefore) { expect_same_prediction("legacy_exp2_pixel"); }
TEST(LegacyCheckpoints, SaagRefinementPredictsAsBefore) { expect_same_prediction("legacy_exp1"); }

TEST(LegacyCheckpoints, ConfigAndStateStillRead) {
  auto cfg = train::read_model_config(kData + "legacy_exp2_pixel.pt");
  EXPECT_EQ(cfg.kind, decode::DecoderKind::DirectPatch);
  EXPECT_TRUE(cfg.decoder.pixel_aligned);
  EXPECT_THROW(train::load_model(kData + "legacy_exp1.pt", train::Weights::Ema), Error);  // no EMA in old files
}
