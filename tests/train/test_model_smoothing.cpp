// train --antialias: the model applies the 3D smoothing filter to its own Gaussians (training and inference alike),
// s' = √(s² + A·(z/f)²) with f the input camera's focal length at the training resolution; the field survives the
// checkpoint config and older configs without it mean "off".
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "train/model.hpp"

using namespace fresnel;

namespace {

train::ModelConfig tiny_config(double smoothing) {
  train::ModelConfig cfg;
  cfg.kind = decode::DecoderKind::DirectPatch;
  cfg.encoder = "builtin";
  cfg.depth_mode = "metric";
  cfg.decoder.feature_dim = 8;
  cfg.decoder.gaussians_per_patch = 1;
  cfg.decoder.hidden = {16};
  cfg.image_size = 32;
  cfg.smoothing_variance_px2 = smoothing;
  return cfg;
}

}  // namespace

TEST(ModelSmoothing, TheModelWidensItsGaussiansByTheFootprintVarianceAtTheTrainingResolution) {
  torch::manual_seed(5);
  train::FresnelModel plain(tiny_config(0));
  torch::manual_seed(5);
  train::FresnelModel smooth(tiny_config(0.3));
  plain->eval();
  smooth->eval();
  train::ModelInputs in;
  in.images = torch::rand({2, 3, 32, 32});
  torch::NoGradGuard ng;
  const auto a = plain->forward(in).decoded.gaussians;
  const auto b = smooth->forward(in).decoded.gaussians;
  ASSERT_TRUE(torch::allclose(a.means, b.means));
  const double f = std::min(kDefaultNormalizedIntrinsics[0], kDefaultNormalizedIntrinsics[1]) * 32;
  const auto sigma2 = 0.3 * (a.means.select(-1, 2) / f).square().unsqueeze(-1);
  EXPECT_LT((b.scales - (a.scales.square() + sigma2).sqrt()).abs().max().item<double>(), 1e-6);
  EXPECT_GT((b.scales - a.scales).abs().max().item<double>(), 1e-4) << "the filter changes something";
  EXPECT_TRUE(torch::equal(a.opacities, b.opacities));
  // With Mip-Splatting's opacity compensation (what train --antialias sets): o' = o·Π s/s', same scales.
  auto cfg = tiny_config(0.3);
  cfg.smoothing_compensates_opacity = true;
  torch::manual_seed(5);
  train::FresnelModel compensated(cfg);
  compensated->eval();
  const auto c = compensated->forward(in).decoded.gaussians;
  EXPECT_TRUE(torch::allclose(c.scales, b.scales));
  EXPECT_LT((c.opacities - a.opacities * (a.scales / b.scales).prod(-1)).abs().max().item<double>(), 1e-6);
  EXPECT_LT((c.opacities - a.opacities).max().item<double>(), 0.0 + 1e-7);
}

TEST(ModelSmoothing, ConfigFieldRoundTripsAndDefaultsToOff) {
  const auto j = tiny_config(0.25).to_json();
  EXPECT_DOUBLE_EQ(train::ModelConfig::from_json(j).smoothing_variance_px2, 0.25);
  auto old = j;
  old.erase("smoothing_variance_px2");  // a checkpoint written before the field existed
  EXPECT_DOUBLE_EQ(train::ModelConfig::from_json(old).smoothing_variance_px2, 0.0);
  auto bad = j;
  bad["smoothing_variance_px2"] = -1.0;
  EXPECT_THROW(train::ModelConfig::from_json(bad), Error);
}

TEST(ModelSmoothing, ScreenFilterAndCompensationRoundTripAndOlderCheckpointsKeepTheDilation) {
  auto cfg = tiny_config(0.2);
  cfg.smoothing_compensates_opacity = true;
  cfg.mip_filter_px2 = 0.1;
  const auto back = train::ModelConfig::from_json(cfg.to_json());
  EXPECT_TRUE(back.smoothing_compensates_opacity);
  EXPECT_EQ(back.screen_filter(), ScreenFilter::mip(0.1));
  auto old = cfg.to_json();  // written before the fields existed: trained with the dilation, no compensation
  old.erase("mip_filter_px2");
  old.erase("smoothing_compensates_opacity");
  const auto o = train::ModelConfig::from_json(old);
  EXPECT_EQ(o.screen_filter(), ScreenFilter::dilation());
  EXPECT_FALSE(o.smoothing_compensates_opacity);
  auto bad = cfg.to_json();
  bad["mip_filter_px2"] = -0.1;
  EXPECT_THROW(train::ModelConfig::from_json(bad), Error);
}
