// The decoder interface and factory: every kind builds, answers through the one forward(DecoderInputs), keeps
// the original's parameter names, and a wrong kind is a clear error.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "decode/decoder_factory.hpp"

using namespace fresnel;
using namespace fresnel::decode;

namespace {
DecoderOptions small_options() {
  DecoderOptions o;
  o.patch.feature_dim = 8;
  o.patch.hidden = {16};
  o.patch.gaussians_per_patch = 2;
  o.patch.dropout = 0.0;
  o.patch.depth_mode = DepthMode::Metric;
  o.saag_subsample = 4;
  return o;
}
DecoderInputs small_inputs() {
  torch::manual_seed(2);
  DecoderInputs in;
  in.features = torch::randn({2, 8, 6, 6});
  in.depth = torch::full({2, 1, 24, 24}, 2.5);
  in.images = torch::rand({2, 3, 24, 24});
  in.intrinsics = torch::tensor({0.8f, 0.8f, 0.5f, 0.5f}).repeat({2, 1});
  return in;
}
}  // namespace

TEST(DecoderFactory, EveryKindBuildsAndDecodesThroughTheInterface) {
  ASSERT_EQ(decoder_kinds().size(), 3u);
  for (const auto& info : decoder_kinds()) {
    auto decoder = make_decoder(info.kind, small_options());
    ASSERT_TRUE(decoder) << info.name;
    EXPECT_EQ(decoder->kind(), info.kind);
    auto out = decoder->forward(small_inputs());
    const auto& g = out.gaussians;
    ASSERT_TRUE(g.batched()) << info.name;
    EXPECT_EQ(g.batch_size(), 2);
    EXPECT_GT(g.count(), 0);
    g.batch(0).validate(info.name);
    if (info.kind == DecoderKind::DirectPatch) EXPECT_EQ(g.count(), 6 * 6 * 2);
    if (info.kind == DecoderKind::SaagRefinement) EXPECT_TRUE(out.residuals.defined());
  }
}

TEST(DecoderFactory, ParameterNamesAreTheOriginalCheckpoints) {
  auto names = [](const std::shared_ptr<GaussianDecoderImpl>& d) {
    std::set<std::string> s;
    for (const auto& p : d->named_parameters()) s.insert(p.key());
    return s;
  };
  auto direct = names(make_decoder(DecoderKind::DirectPatch, small_options()));
  EXPECT_TRUE(direct.count("mlp.0.weight") && direct.count("depth_offset"));
  auto refine = names(make_decoder(DecoderKind::SaagRefinement, small_options()));
  EXPECT_TRUE(refine.count("mlp.0.weight") && refine.count("pos_scale"));
  auto guided = names(make_decoder(DecoderKind::FeatureGuidedSaag, small_options()));
  EXPECT_TRUE(guided.count("head.0.weight"));
}

TEST(DecoderFactory, SaagDecodersNeedDepthAndImages) {
  auto in = small_inputs();
  in.depth = torch::Tensor();
  auto d = make_decoder(DecoderKind::FeatureGuidedSaag, small_options());
  try {
    d->forward(in);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("depth"), std::string::npos) << e.what();
  }
}

TEST(DecoderFactory, ExperimentNumbersAndErrors) {
  EXPECT_EQ(decoder_kind_from_experiment(2), DecoderKind::DirectPatch);
  EXPECT_EQ(experiment_number(DecoderKind::SaagRefinement), 1);
  EXPECT_EQ(describe_decoder_kinds(), "1 SAAG refinement, 2 direct patch decoder, 3 feature-guided SAAG");
  try {
    decoder_kind_from_experiment(9, "--experiment");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--experiment"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("9"), std::string::npos);
  }
  auto saag = make_decoder(DecoderKind::SaagRefinement, small_options());
  try {
    as_direct_patch(saag, "ONNX export");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("SAAG refinement"), std::string::npos) << e.what();
  }
  auto direct = as_direct_patch(make_decoder(DecoderKind::DirectPatch, small_options()), "ONNX export");
  EXPECT_EQ(direct->options().gaussians_per_patch, 2);
}
