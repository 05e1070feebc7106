// `fresnel train`'s flag resolution in process: each rule resolve_train_flags enforces, without training.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cli/train_flags.hpp"
#include "core/error.hpp"

using namespace fresnel;
using fresnel::cli::train_config_from_args;

namespace {
// The UsageError message of resolving `args`, or "" when they resolve.
std::string usage_error(const std::vector<std::string>& args) {
  try {
    train_config_from_args(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(TrainFlags, OriginalDefaults) {
  auto c = train_config_from_args({});
  EXPECT_EQ(c.model.kind, decode::DecoderKind::FeatureGuidedSaag);  // the original's --experiment default
  EXPECT_EQ(c.loop.epochs, 100);
  EXPECT_EQ(c.batch_size, 4);
  EXPECT_DOUBLE_EQ(c.loop.lr, 1e-4);
  EXPECT_EQ(c.model.decoder.feature_dim, 384);
  EXPECT_EQ(c.model.decoder.hidden, (std::vector<int64_t>{512, 512, 256, 128}));
  EXPECT_EQ(c.loop.schedule, train::LrSchedule::CosinePerEpoch);
  EXPECT_EQ(c.hfts.epochs, 100);
  EXPECT_EQ(c.hfts.image_size, 256);
}

TEST(TrainFlags, BuiltinEncoderWidthDefaultsTo64UnlessGiven) {
  EXPECT_EQ(train_config_from_args({"--encoder", "builtin"}).model.decoder.feature_dim, 64);
  EXPECT_EQ(train_config_from_args({"--encoder", "builtin", "--feature_dim", "32"}).model.decoder.feature_dim, 32);
  EXPECT_EQ(train_config_from_args({"--feature_dim", "768"}).model.decoder.feature_dim, 768);
}

TEST(TrainFlags, PixelAlignedDefaults) {
  auto c = train_config_from_args({"--experiment", "2", "--pixel_aligned", "--image_size", "64"});
  EXPECT_EQ(c.model.feature_grid, 64);
  EXPECT_DOUBLE_EQ(c.model.decoder.dropout, 0.0);
  auto given = train_config_from_args(
      {"--experiment", "2", "--pixel_aligned", "--image_size", "64", "--feature_grid", "32", "--dropout", "0.2"});
  EXPECT_EQ(given.model.feature_grid, 32);
  EXPECT_DOUBLE_EQ(given.model.decoder.dropout, 0.2);
  EXPECT_NE(usage_error({"--experiment", "1", "--pixel_aligned"}).find("--pixel_aligned"), std::string::npos);
}

TEST(TrainFlags, AbandonedExperimentsAndFlagsAreExplained) {
  EXPECT_NE(usage_error({"--experiment", "4"}).find("Fibonacci"), std::string::npos);
  EXPECT_NE(usage_error({"--experiment", "5"}).find("NCA"), std::string::npos);
  EXPECT_NE(usage_error({"--experiment", "9"}).find("--experiment"), std::string::npos);
  EXPECT_NE(usage_error({"--n_spiral_points", "100"}).find("experiment 4"), std::string::npos);
  EXPECT_NE(usage_error({"--nca_steps", "3"}).find("experiment 5"), std::string::npos);
  EXPECT_NE(usage_error({"--use_physics_zones"}).find("PhysicsDirectPatchDecoder"), std::string::npos);
  EXPECT_NE(usage_error({"--use_multi_wavelength"}).find("--learnable_wavelengths"), std::string::npos);
}

TEST(TrainFlags, PhysicsSwitchesImplyTheirParts) {
  auto qsr = train_config_from_args({"--experiment", "2", "--use_qsr"});
  EXPECT_TRUE(qsr.model.decoder.use_phase_output);
  EXPECT_TRUE(qsr.use_wave_rendering);
  EXPECT_TRUE(qsr.loss.phase_retrieval);
  auto fourier = train_config_from_args({"--experiment", "2", "--use_fourier_renderer"});
  EXPECT_TRUE(fourier.use_phase_blending);
  EXPECT_DOUBLE_EQ(fourier.phase_amplitude, 0.3);
  EXPECT_TRUE(fourier.model.decoder.use_phase_output);
  EXPECT_NE(usage_error({"--experiment", "3", "--use_phase_blending"}).find("--experiment 2"), std::string::npos);
  EXPECT_NE(usage_error({"--experiment", "1", "--use_pose_encoding"}).find("--experiment 2"), std::string::npos);
  EXPECT_TRUE(train_config_from_args({"--use_fresnel_zones"}).loss.boundary);
}

TEST(TrainFlags, LpipsWithoutWeightsIsTurnedOff) {
  EXPECT_DOUBLE_EQ(train_config_from_args({"--lpips_weight", "0.2"}).loss.lpips_weight, 0.0);
  auto on = train_config_from_args({"--lpips_weight", "0.2", "--lpips_weights", "lpips.safetensors"});
  EXPECT_DOUBLE_EQ(on.loss.lpips_weight, 0.2);
}

TEST(TrainFlags, HftsAndScheduleFlags) {
  auto c = train_config_from_args({"--epochs", "12", "--train_resolution", "64", "--stochastic_k", "300",
                                   "--gaussians_per_patch", "6", "--lr_schedule", "step", "--warmup_steps", "10",
                                   "--ema_decay", "0.99"});
  EXPECT_EQ(c.hfts.epochs, 12);
  EXPECT_EQ(c.hfts.train_resolution, std::optional<int>(64));
  EXPECT_EQ(c.hfts.stochastic_k, std::optional<int64_t>(300));
  EXPECT_EQ(c.hfts.base_k, 6);
  EXPECT_EQ(c.loop.schedule, train::LrSchedule::CosinePerStep);
  EXPECT_EQ(c.loop.warmup_steps, 10);
  EXPECT_DOUBLE_EQ(c.loop.ema_decay, 0.99);
}

TEST(TrainFlags, RangeChecksNameTheFlag) {
  EXPECT_NE(usage_error({"--epochs", "0"}).find("--epochs"), std::string::npos);
  EXPECT_NE(usage_error({"--batch_size", "0"}).find("--batch_size"), std::string::npos);
  EXPECT_NE(usage_error({"--image_size", "4"}).find("--image_size"), std::string::npos);
  EXPECT_NE(usage_error({"--ema_decay", "1.5"}).find("--ema_decay"), std::string::npos);
  EXPECT_NE(usage_error({"--decoder_hidden", "64,x"}).find("--decoder_hidden"), std::string::npos);
  EXPECT_NE(usage_error({"--encoder", "resnet"}).find("--encoder"), std::string::npos);
  EXPECT_NE(usage_error({"--no_such_flag"}).find("no_such_flag"), std::string::npos);
}

TEST(TrainFlags, AntialiasTrainsWithOpacityCompensationAndTheMipFilter) {
  const auto plain = train_config_from_args({});
  EXPECT_EQ(plain.model.screen_filter(), ScreenFilter::dilation());
  EXPECT_FALSE(plain.model.smoothing_compensates_opacity);
  const auto aa = train_config_from_args({"--antialias", "0.2"});
  EXPECT_DOUBLE_EQ(aa.model.smoothing_variance_px2, 0.2);
  EXPECT_TRUE(aa.model.smoothing_compensates_opacity);
  EXPECT_EQ(aa.model.screen_filter(), ScreenFilter::mip(0.1));
  EXPECT_EQ(train_config_from_args({"--antialias", "0.2", "--screen_filter", "dilation"}).model.screen_filter(),
            ScreenFilter::dilation());
  EXPECT_EQ(train_config_from_args({"--screen_filter", "mip:0.3"}).model.screen_filter(), ScreenFilter::mip(0.3));
  EXPECT_NE(usage_error({"--screen_filter", "box"}).find("box"), std::string::npos);
  EXPECT_NE(usage_error({"--screen_filter", "dilation:0.5"}).find("--screen_filter"), std::string::npos);
}
