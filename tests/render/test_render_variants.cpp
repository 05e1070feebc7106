// Renderer variants against their twins: phase-modulated blending, the wave-field (QSR) renderer and
// importance subset sampling.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "render/reference.hpp"
#include "render/render.hpp"
#include "render/subset.hpp"
#include "render/wave.hpp"
#include "scenes.hpp"

namespace fresnel {
namespace {

using test::front_camera;
using test::oblique_camera;
using test::random_scene;
using test::rel_err;

RenderOptions phase_options() {
  RenderOptions o;
  o.phase_blending = true;
  o.phase_amplitude = 0.4f;
  o.background = {0.2f, 0.3f, 0.4f};
  return o;
}

TEST(PhaseBlending, ForwardMatchesTwin) {
  const Gaussians g = random_scene(60, 101, 1, true);
  const std::vector<Camera> cams{oblique_camera(40)};
  const RenderOutput a = render(g, cams, phase_options()), b = reference::render(g, cams, phase_options());
  EXPECT_LE((a.rgb - b.rgb).abs().max().item<double>(), 1e-5);
  EXPECT_LE((a.alpha - b.alpha).abs().max().item<double>(), 1e-5);
  // Phases matter: the image differs from plain blending.
  EXPECT_GT((a.rgb - render(g, cams, {}).rgb).abs().max().item<double>(), 1e-3);
}

TEST(PhaseBlending, EqualPhasesReduceToAlphaBlending) {
  Gaussians g = random_scene(60, 102, -1, true);
  g.phases = torch::full_like(g.phases, 1.3);
  RenderOptions plain = phase_options();
  plain.phase_blending = false;
  const RenderOutput a = render(g, {front_camera(32)}, phase_options()), b = render(g, {front_camera(32)}, plain);
  EXPECT_LE((a.rgb - b.rgb).abs().max().item<double>(), 1e-5);
}

TEST(PhaseBlending, GradientsMatchTwin) {
  const Gaussians g0 = random_scene(30, 103, 1, true, torch::kFloat64);
  const std::vector<Camera> cams{oblique_camera(28)};
  const Gaussians ga = test::with_grad(g0), gb = test::with_grad(g0);
  torch::manual_seed(3);
  const auto w = torch::randn({1, 28, 28, 3}, torch::kFloat64);
  (render(ga, cams, phase_options()).rgb * w).sum().backward();
  (reference::render(gb, cams, phase_options()).rgb * w).sum().backward();
  const auto a = test::grads_of(ga), b = test::grads_of(gb);
  ASSERT_EQ(a.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LE(rel_err(a[i], b[i]), 1e-6) << i;
    EXPECT_GT(b[i].abs().max().item<double>(), 0) << i;
  }
}

TEST(WaveField, ForwardAndGradientsMatchTwin) {
  const Gaussians g0 = random_scene(40, 111, 2, true, torch::kFloat64);
  const std::vector<Camera> cams{oblique_camera(32), front_camera(32)};
  const Gaussians ga = test::with_grad(g0), gb = test::with_grad(g0);
  const WaveOutput a = render_wave(ga, cams), b = reference::render_wave(gb, cams);
  EXPECT_LE(rel_err(a.intensity, b.intensity), 1e-9);
  EXPECT_LE(rel_err(a.coverage, b.coverage), 1e-9);
  EXPECT_GT(a.intensity.max().item<double>(), 0.1);
  torch::manual_seed(4);
  const auto wi = torch::randn(a.intensity.sizes(), torch::kFloat64);
  const auto wc = torch::randn(a.coverage.sizes(), torch::kFloat64);
  ((a.intensity * wi).sum() + (a.coverage * wc).sum()).backward();
  ((b.intensity * wi).sum() + (b.coverage * wc).sum()).backward();
  const auto ga_ = test::grads_of(ga), gb_ = test::grads_of(gb);
  for (size_t i = 0; i < ga_.size(); ++i) {
    EXPECT_LE(rel_err(ga_[i], gb_[i]), 1e-6) << i;
    EXPECT_GT(gb_[i].abs().max().item<double>(), 0) << i;
  }
}

TEST(WaveField, FloatForwardMatchesTwinAndNeedsPhases) {
  const Gaussians g = random_scene(40, 112, -1, true);
  const WaveOutput a = render_wave(g, {front_camera(40)}), b = reference::render_wave(g, {front_camera(40)});
  EXPECT_LE((a.intensity - b.intensity).abs().max().item<double>(),
            1e-5 * std::max(1.0, b.intensity.max().item<double>()));
  Gaussians no_phase = g;
  no_phase.phases = torch::Tensor();
  EXPECT_THROW(render_wave(no_phase, {front_camera(16)}), Error);
}

TEST(Subset, InclusionProbabilitiesAreExact) {
  const auto imp = torch::tensor({5.0, 1.0, 1.0, 0.5, 0.0, 2.0, 20.0, 1.0, 3.0, 0.2}, torch::kFloat64);
  const int64_t K = 4;
  const auto pi = inclusion_probabilities(imp, K);
  EXPECT_NEAR(pi.sum().item<double>(), double(K), 1e-9);
  EXPECT_EQ(pi[6].item<double>(), 1.0);  // dominant weight is capped
  EXPECT_GT(pi[4].item<double>(), 0.0);  // zero importance still has a chance (unbiasedness)
  EXPECT_LE(pi.max().item<double>(), 1.0);
  // Monte Carlo frequency of inclusion ≈ π (4σ band).
  const int draws = 6000;
  auto hits = torch::zeros({10}, torch::kFloat64);
  for (int d = 0; d < draws; ++d) {
    const SubsetSample s = sample_importance_subset(imp, K, uint64_t(d) * 7919 + 1);
    ASSERT_EQ(s.indices.size(0), K);
    ASSERT_EQ(std::get<0>(at::_unique(s.indices)).size(0), K);  // distinct
    hits.index_add_(0, s.indices, torch::ones({K}, torch::kFloat64));
    ASSERT_TRUE(torch::allclose(s.inclusion, pi.index_select(0, s.indices)));
  }
  const auto freq = hits / draws;
  const auto band = 4 * torch::sqrt(pi * (1 - pi) / draws) + 1e-9;
  EXPECT_TRUE(((freq - pi).abs() <= band).all().item<bool>()) << freq << pi;
}

TEST(Subset, SameSeedSameSampleAndBadInput) {
  const auto imp = torch::rand({100}, torch::kFloat64);
  const auto a = sample_importance_subset(imp, 10, 42), b = sample_importance_subset(imp, 10, 42);
  EXPECT_TRUE(torch::equal(a.indices, b.indices));
  EXPECT_TRUE(torch::allclose(a.weights, 1.0 / a.inclusion));
  const auto all = sample_importance_subset(imp, 200, 1);
  EXPECT_EQ(all.indices.size(0), 100);
  EXPECT_THROW(sample_importance_subset(torch::tensor({1.0, -1.0}), 1, 0), Error);
  EXPECT_THROW(sample_importance_subset(torch::ones({2, 2}), 1, 0), Error);
  EXPECT_THROW(sample_importance_subset(imp, 0, 0), Error);
}

TEST(Subset, RenderingASubsetMatchesTwinAndRoutesGradients) {
  const Gaussians g0 = random_scene(80, 121, 1, false, torch::kFloat64);
  const SubsetSample s = sample_importance_subset(g0.opacities, 20, 9);
  const Gaussians ga = test::with_grad(g0), gb = test::with_grad(g0);
  const std::vector<Camera> cams{front_camera(32)};
  const RenderOutput a = render(ga.index_select(s.indices), cams, {});
  const RenderOutput b = reference::render(gb.index_select(s.indices), cams, {});
  EXPECT_LE((a.rgb - b.rgb).abs().max().item<double>(), 1e-9);
  a.rgb.sum().backward();
  b.rgb.sum().backward();
  EXPECT_LE(rel_err(ga.opacities.grad(), gb.opacities.grad()), 1e-6);
  // Gaussians outside the subset receive no gradient.
  auto mask = torch::ones({80}, torch::kBool);
  mask.index_fill_(0, s.indices, false);
  EXPECT_EQ(ga.opacities.grad().masked_select(mask).abs().max().item<double>(), 0.0);
}

}  // namespace
}  // namespace fresnel
