// compute_losses without a model: which terms a step has, their weights, known values, and the total.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "train/losses.hpp"

using namespace fresnel;
using namespace fresnel::train;

namespace {
LossInputs basic_inputs() {
  torch::manual_seed(1);
  LossInputs in;
  in.rendered = torch::rand({2, 3, 16, 16});
  in.target = torch::rand({2, 3, 16, 16});
  return in;
}
LossConfig only_rgb() {
  LossConfig c;
  c.ssim_weight = c.depth_weight = c.residual_weight = c.depth_head_weight = c.novel_view_weight = c.mask_weight = 0;
  return c;
}
}  // namespace

TEST(ComputeLosses, RgbIsWeightedL1AndTheTotalIsTheSum) {
  auto in = basic_inputs();
  auto c = only_rgb();
  c.rgb_weight = 2.0;
  auto t = compute_losses(c, in);
  ASSERT_EQ(t.terms.size(), 1u);
  const double l1 = (in.rendered - in.target).abs().mean().item<double>();
  EXPECT_NEAR(t.terms.at("rgb").item<double>(), 2.0 * l1, 1e-6);
  EXPECT_NEAR(t.total.item<double>(), 2.0 * l1, 1e-6);
  in.target = in.rendered.clone();
  EXPECT_NEAR(compute_losses(c, in).total.item<double>(), 0.0, 1e-7);  // a perfect render costs nothing
}

TEST(ComputeLosses, TermsAppearOnlyWithTheirWeightAndInputs) {
  auto in = basic_inputs();
  LossConfig c;  // defaults: ssim, depth, residual, depth head, novel view and mask weights on
  auto names = [](const LossTerms& t) {
    std::set<std::string> s;
    for (auto& [k, v] : t.terms) s.insert(k);
    return s;
  };
  EXPECT_EQ(names(compute_losses(c, in)), (std::set<std::string>{"rgb", "ssim"}));  // no depth, views, masks given
  in.rendered_depth = torch::rand({2, 1, 16, 16});
  in.target_depth = torch::rand({2, 1, 16, 16}) + 1;
  in.novel_rendered = torch::rand({4, 3, 16, 16});
  in.novel_target = torch::rand({4, 3, 16, 16});
  in.alpha = torch::rand({2, 3, 16, 16});
  in.masks = torch::ones({2, 3, 16, 16});
  in.predicted_depth = torch::rand({2, 1, 16, 16});
  in.depth_target = torch::rand({2, 1, 16, 16});
  in.residuals = torch::full({2, 5, 10}, 0.5);
  in.means = torch::rand({2, 20, 3});
  in.depth01 = torch::rand({2, 1, 16, 16});
  EXPECT_EQ(names(compute_losses(c, in)),
            (std::set<std::string>{"rgb", "ssim", "depth", "novel_view", "mask", "depth_head", "residual"}));
  c.boundary = c.frequency = c.tensegrity = c.phase_retrieval = true;
  c.wave_equation_weight = 1e-9;
  auto all = compute_losses(c, in);
  EXPECT_EQ(names(all),
            (std::set<std::string>{"rgb", "ssim", "depth", "novel_view", "mask", "depth_head", "residual", "boundary",
                                   "frequency", "tensegrity", "phase_retrieval", "wave_equation"}));
  double sum = 0;
  for (auto& [k, v] : all.terms) sum += v.item<double>();
  EXPECT_NEAR(all.total.item<double>(), sum, 1e-5 * std::abs(sum));
  EXPECT_NEAR(all.terms.at("residual").item<double>(), c.residual_weight * 0.5, 1e-7);
  c.ssim_weight = 0;
  EXPECT_EQ(compute_losses(c, in).terms.count("ssim"), 0u);
}

TEST(ComputeLosses, KnownValuesOfMaskAndDepthHead) {
  auto in = basic_inputs();
  auto c = only_rgb();
  c.mask_weight = 0.5;
  c.depth_head_weight = 2.0;
  in.alpha = torch::full({2, 1, 16, 16}, 0.25);
  in.masks = torch::ones({2, 1, 16, 16});
  in.predicted_depth = torch::full({2, 1, 16, 16}, 3.0);
  in.depth_target = torch::full({2, 1, 16, 16}, 2.0);
  in.depth_valid = torch::zeros({2, 1, 16, 16});
  in.depth_valid.narrow(3, 0, 8).fill_(1);
  in.depth_target.narrow(3, 8, 8).fill_(100);  // outside the valid mask: ignored
  auto t = compute_losses(c, in);
  EXPECT_NEAR(t.terms.at("mask").item<double>(), 0.5 * 0.75, 1e-6);
  EXPECT_NEAR(t.terms.at("depth_head").item<double>(), 2.0 * 1.0, 1e-6);
}

TEST(ComputeLosses, LpipsWithoutANetworkIsAClearError) {
  auto in = basic_inputs();
  auto c = only_rgb();
  c.lpips_weight = 0.1;
  try {
    compute_losses(c, in);
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("lpips_weights"), std::string::npos) << e.what();
  }
}

TEST(ComputeLosses, GradientsReachTheRender) {
  auto in = basic_inputs();
  in.rendered.requires_grad_(true);
  LossConfig c;
  compute_losses(c, in).total.backward();
  ASSERT_TRUE(in.rendered.grad().defined());
  EXPECT_GT(in.rendered.grad().abs().sum().item<double>(), 0.0);
}
