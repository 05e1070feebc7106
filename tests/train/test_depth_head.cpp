// The built-in encoder's full-resolution depth head (`train --depth_head fine`) and the gradient-matching depth
// loss (`--depth_grad_weight`): the refinement starts as a zero residual on the coarse depth, it can draw an edge
// the coarse grid cannot, the choice survives the checkpoint config (older configs mean "coarse"), and the loss is
// zero for an offset prediction and known on a step.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "encode/builtin_encoder.hpp"
#include "train/losses.hpp"
#include "train/model.hpp"

using namespace fresnel;

namespace {

encode::BuiltinEncoderOptions fine_options(bool fine_depth) {
  encode::BuiltinEncoderOptions o;
  o.channels = 8;
  o.grid = 16;
  o.fine = true;
  o.fine_depth = fine_depth;
  return o;
}

}  // namespace

TEST(DepthHead, UntrainedFineHeadPredictsTheCoarseDepth) {
  torch::manual_seed(3);
  encode::BuiltinEncoder coarse(fine_options(false));
  torch::manual_seed(3);
  encode::BuiltinEncoder fine(fine_options(true));
  ASSERT_TRUE(fine->depth_refine);
  EXPECT_FALSE(coarse->depth_refine);
  torch::NoGradGuard ng;
  auto image = torch::rand({2, 3, 16, 16});
  auto a = coarse->forward(image), b = fine->forward(image);
  ASSERT_EQ(b.depth.sizes(), (std::vector<int64_t>{2, 1, 16, 16}));
  EXPECT_TRUE(torch::allclose(a.features, b.features));
  EXPECT_TRUE(torch::allclose(a.depth, b.depth, 1e-5, 1e-6));
}

TEST(DepthHead, FineHeadLearnsAnEdgeTheCoarseGridSmears) {
  // A sharp depth step in the middle of a 16² image (a 4² coarse grid): fitting both heads to it, the fine head's
  // error at the edge pixels ends well below the coarse head's, which bilinear upsampling must smear.
  auto image = torch::zeros({1, 3, 16, 16});
  image.narrow(3, 8, 8).fill_(1.0);
  auto target = torch::full({1, 1, 16, 16}, 2.0);
  target.narrow(3, 8, 8).fill_(3.0);
  auto edge_error = [&](bool fine_depth) {
    torch::manual_seed(11);
    encode::BuiltinEncoder enc(fine_options(fine_depth));
    torch::optim::Adam opt(enc->parameters(), torch::optim::AdamOptions(3e-3));
    for (int step = 0; step < 300; ++step) {
      opt.zero_grad();
      auto loss = (enc->forward(image).depth - target).abs().mean();
      loss.backward();
      opt.step();
    }
    torch::NoGradGuard ng;
    auto d = enc->forward(image).depth;
    return (d - target).abs().narrow(3, 6, 4).mean().item<double>();
  };
  const double coarse = edge_error(false), fine = edge_error(true);
  EXPECT_LT(fine, 0.5 * coarse) << "coarse " << coarse << " fine " << fine;
}

TEST(DepthHead, FineDepthNeedsAFineGrid) {
  auto o = fine_options(true);
  o.fine = false;
  EXPECT_THROW(encode::BuiltinEncoder{o}, Error);
}

TEST(DepthHead, ConfigFieldRoundTripsAndOlderConfigsMeanCoarse) {
  train::ModelConfig c;
  c.encoder = "builtin";
  c.depth_mode = "metric";
  c.decoder.pixel_aligned = true;
  c.depth_head = "fine";
  auto j = c.to_json();
  EXPECT_EQ(train::ModelConfig::from_json(j).depth_head, "fine");
  j.erase("depth_head");
  EXPECT_EQ(train::ModelConfig::from_json(j).depth_head, "coarse");
  j["depth_head"] = "sharp";
  EXPECT_THROW(train::ModelConfig::from_json(j), Error);
}

TEST(DepthGradientLoss, ZeroForAnOffsetAndKnownOnAStep) {
  auto target = torch::rand({2, 1, 8, 8}) + 1.0;
  auto valid = torch::ones_like(target);
  EXPECT_LT(train::depth_gradient_loss(target + 0.7, target, valid).item<double>(), 1e-6);
  // An error step of height 1 between columns 3 and 4: at scale 1 one x pair per row is off, of 8·7 x pairs and
  // 7·8 y pairs → 8/112; at scale 1/2 (4×4, columns 0,2 | 4,6) one of 4·3 + 3·4 → 4/24; at 1/4 (2×2) 2/4.
  auto step = torch::zeros_like(target);
  step.narrow(3, 4, 4).fill_(1.0);
  const double expected = (8.0 / 112.0 + 4.0 / 24.0 + 2.0 / 4.0) / 3.0;
  EXPECT_NEAR(train::depth_gradient_loss(target + step, target, valid).item<double>(), expected, 1e-5);
  // Pairs with an invalid pixel do not count: masking the right half hides the step.
  auto left = torch::zeros_like(valid);
  left.narrow(3, 0, 4).fill_(1.0);
  EXPECT_LT(train::depth_gradient_loss(target + step, target, left).item<double>(), 1e-6);
}

TEST(DepthGradientLoss, ComputeLossesAddsTheTermOnlyWhenWeighted) {
  train::LossConfig L;
  train::LossInputs in;
  in.rendered = torch::rand({1, 3, 8, 8});
  in.target = torch::rand({1, 3, 8, 8});
  in.depth_target = torch::rand({1, 1, 8, 8}) + 1.0;
  in.predicted_depth = in.depth_target + torch::rand({1, 1, 8, 8});
  in.depth_valid = torch::ones({1, 1, 8, 8});
  EXPECT_EQ(train::compute_losses(L, in).terms.count("depth_grad"), 0u);
  L.depth_grad_weight = 2.0;
  auto terms = train::compute_losses(L, in).terms;
  ASSERT_EQ(terms.count("depth_grad"), 1u);
  EXPECT_NEAR(terms["depth_grad"].item<double>(),
              2.0 * train::depth_gradient_loss(in.predicted_depth, in.depth_target, in.depth_valid).item<double>(),
              1e-6);
}
