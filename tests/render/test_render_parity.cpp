// The tile rasterizer against its dense reference twin (forward and backward), finite differences,
// known values, determinism, degenerate input, batching and input errors.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "render/raster_cpu.hpp"
#include "render/reference.hpp"
#include "render/render.hpp"
#include "scenes.hpp"

namespace fresnel {
namespace {

using test::edge_case_scene;
using test::front_camera;
using test::oblique_camera;
using test::random_scene;
using test::rel_err;

void expect_forward_parity(const Gaussians& g, const std::vector<Camera>& cams, const RenderOptions& o,
                           double tol = 1e-5) {
  const RenderOutput a = render(g, cams, o);
  const RenderOutput b = reference::render(g, cams, o);
  EXPECT_LE((a.rgb - b.rgb).abs().max().item<double>(), tol);
  EXPECT_LE((a.alpha - b.alpha).abs().max().item<double>(), tol);
  EXPECT_LE((a.depth_accum - b.depth_accum).abs().max().item<double>(), tol * 4);  // z ≈ 2–4
  // Expected depth divides by α; compare where α is not tiny.
  const auto m = b.alpha > 0.05;
  EXPECT_LE((a.depth - b.depth).masked_select(m).abs().max().item<double>(), 1e-4);
  EXPECT_GT(a.alpha.max().item<double>(), 0.3) << "scene should cover part of the image";
}

// One isotropic Gaussian of scale sigma and opacity o on the optical axis at depth z (colour 0.9, 0.4, 0.1).
Gaussians isotropic_gaussian(double z, double sigma, double o) {
  Gaussians g;
  g.means = torch::tensor({0.0, 0.0, z}, torch::kFloat64).view({1, 3});
  g.quats = torch::tensor({1.0, 0.0, 0.0, 0.0}, torch::kFloat64).view({1, 4});
  g.scales = torch::full({1, 3}, sigma, torch::kFloat64);
  g.opacities = torch::tensor({o}, torch::kFloat64);
  g.colors = torch::tensor({0.9, 0.4, 0.1}, torch::kFloat64).view({1, 3});
  return g;
}

TEST(RenderParity, ForwardMatchesTwinOnRandomScenes) {
  RenderOptions o;
  o.background = {0.2f, 0.5f, 0.9f};
  for (uint64_t seed : {1, 2, 3}) {
    const Gaussians g = random_scene(80, seed);
    expect_forward_parity(g, {front_camera(40), oblique_camera(40)}, o);
  }
}

TEST(RenderParity, ForwardMatchesTwinForEverySHDegree) {
  for (int d = 0; d <= 3; ++d) {
    const Gaussians g = random_scene(50, 10 + d, d);
    expect_forward_parity(g, {oblique_camera(36)}, {});
    RenderOptions lower;
    lower.sh_degree = std::max(0, d - 1);
    expect_forward_parity(g, {oblique_camera(36)}, lower);
  }
}

TEST(RenderParity, ForwardMatchesTwinOnEdgeCases) {
  RenderOptions o;
  o.background = {1.f, 1.f, 1.f};
  expect_forward_parity(edge_case_scene(), {front_camera(48)}, o);
}

torch::Tensor loss_of(const RenderOutput& out, uint64_t seed) {
  torch::manual_seed(seed);
  const auto opt = out.rgb.options().requires_grad(false);
  auto w_rgb = torch::randn(out.rgb.sizes(), opt);
  auto w_a = torch::randn(out.alpha.sizes(), opt);
  auto w_d = torch::randn(out.depth.sizes(), opt);
  auto w_da = torch::randn(out.depth_accum.sizes(), opt);
  return (out.rgb * w_rgb).sum() + (out.alpha * w_a).sum() + 0.3 * (out.depth * w_d).sum() +
         0.3 * (out.depth_accum * w_da).sum();
}

void expect_grad_parity(const Gaussians& g0, const std::vector<Camera>& cams, const RenderOptions& o, double tol) {
  const Gaussians ga = test::with_grad(g0), gb = test::with_grad(g0);
  loss_of(render(ga, cams, o), 7).backward();
  loss_of(reference::render(gb, cams, o), 7).backward();
  const auto a = test::grads_of(ga), b = test::grads_of(gb);
  const char* names[] = {"means", "quats", "scales", "opacities", "colors", "phases"};
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::isfinite(a[i]).all().item<bool>()) << names[i];
    EXPECT_LE(rel_err(a[i], b[i]), tol) << names[i];
    EXPECT_GT(b[i].abs().max().item<double>(), 0) << names[i] << " gradient should not vanish";
  }
}

TEST(RenderGradients, MatchTwinInDoublePrecision) {
  RenderOptions o;
  o.background = {0.3f, 0.1f, 0.7f};
  expect_grad_parity(random_scene(40, 21, 3, false, torch::kFloat64), {oblique_camera(32), front_camera(32)}, o, 1e-6);
  expect_grad_parity(random_scene(40, 22, -1, false, torch::kFloat64), {front_camera(32)}, o, 1e-6);
}

TEST(RenderGradients, FloatMatchesTwin) { expect_grad_parity(random_scene(40, 23, 1), {oblique_camera(32)}, {}, 1e-3); }

void expect_finite_differences(Gaussians g0, const std::vector<Camera>& cams, const RenderOptions& o) {
  const Gaussians ga = test::with_grad(g0);
  loss_of(render(ga, cams, o), 3).backward();
  const auto an = test::grads_of(ga);
  // Tensor handles share storage with g0, so writing into them perturbs the scene.
  std::vector<torch::Tensor> params{g0.means, g0.quats, g0.scales, g0.opacities, g0.colors};
  const double h = 1e-6;
  int checked = 0;
  for (size_t p = 0; p < params.size(); ++p) {
    const double gmax = an[p].abs().max().item<double>();
    auto flat = params[p].view({-1});
    for (int64_t k = 0; k < flat.size(0); k += std::max<int64_t>(1, flat.size(0) / 9)) {
      const double orig = flat[k].item<double>();
      flat[k] = orig + h;
      const double lp = loss_of(render(g0, cams, o), 3).item<double>();
      flat[k] = orig - h;
      const double lm = loss_of(render(g0, cams, o), 3).item<double>();
      flat[k] = orig;
      const double fd = (lp - lm) / (2 * h);
      const double a = an[p].view({-1})[k].item<double>();
      EXPECT_NEAR(a, fd, 1e-3 * std::max({std::abs(a), std::abs(fd), 1e-3 * gmax})) << "param " << p << " k " << k;
      ++checked;
    }
  }
  EXPECT_GT(checked, 30);
}

TEST(RenderGradients, MatchFiniteDifferences) {
  RenderOptions o;
  o.background = {0.5f, 0.2f, 0.1f};
  expect_finite_differences(random_scene(12, 31, 2, false, torch::kFloat64), {oblique_camera(24)}, o);
}

// The Mip filter (Mip-Splatting's 2D filter): forward and gradients (through the opacity scale's determinants) equal
// the twin's and finite differences, for the default variance and a wider one; small Gaussians make ρ matter.
RenderOptions mip_options(double variance) {
  RenderOptions o;
  o.background = {0.3f, 0.6f, 0.2f};
  o.screen_filter = ScreenFilter::mip(variance);
  return o;
}
Gaussians small_gaussians(Gaussians g) {  // footprints of ~0.1–1 px (σ) on a 32–40 px image
  g.scales = g.scales * 0.5;
  return g;
}

TEST(RenderMipFilter, ForwardMatchesTwin) {
  for (double v : {0.1, 0.4}) {
    for (uint64_t seed : {1, 2}) {
      const Gaussians g = random_scene(80, seed);
      expect_forward_parity(g, {front_camera(40), oblique_camera(40)}, mip_options(v));
      expect_forward_parity(small_gaussians(g), {front_camera(40)}, mip_options(v));
    }
  }
  expect_forward_parity(edge_case_scene(), {front_camera(48)}, mip_options(0.1));
}

TEST(RenderMipFilter, GradientsMatchTwinAndFiniteDifferences) {
  expect_grad_parity(random_scene(40, 24, 2, false, torch::kFloat64), {oblique_camera(32), front_camera(32)},
                     mip_options(0.1), 1e-6);
  expect_grad_parity(small_gaussians(random_scene(40, 25, -1, false, torch::kFloat64)), {front_camera(32)},
                     mip_options(0.3), 1e-6);
  expect_grad_parity(random_scene(40, 26, 1), {oblique_camera(32)}, mip_options(0.1), 1e-3);
  expect_finite_differences(small_gaussians(random_scene(12, 32, 1, false, torch::kFloat64)), {oblique_camera(24)},
                            mip_options(0.1));
}

TEST(RenderMipFilter, IsotropicGaussianKeepsItsIntegral) {
  // σ_px² = s2 on screen: the Mip filter draws o·s2/(s2+v)·exp(−d²/2(s2+v)), i.e. the same integral o·2π·s2 as
  // without any filter (dilation instead draws o·exp(−d²/2(s2+0.3)), adding coverage).
  Camera cam = front_camera(64);
  cam.cx = cam.cy = 32.5;
  const double z = 4.0, sigma = 0.03, o = 0.8, v = 0.1;
  const Gaussians g = isotropic_gaussian(z, sigma, o);
  const double s2 = std::pow(sigma * cam.fx / z, 2);  // 0.2304 px²
  const RenderOutput mip = render(g, {cam}, mip_options(v));
  for (int d : {0, 1}) {  // 2 px is beyond 3σ = 3·√(s2+v) ≈ 1.7 px
    const double expect = o * s2 / (s2 + v) * std::exp(-0.5 * d * d / (s2 + v));
    EXPECT_NEAR(mip.alpha[0][32][32 + d].item<double>(), expect, 1e-9) << d;
    EXPECT_NEAR(mip.alpha[0][32 - d][32].item<double>(), expect, 1e-9) << d;
  }
  const RenderOutput dil = render(g, {cam}, {});
  EXPECT_NEAR(dil.alpha[0][32][32].item<double>(), o, 1e-9);  // dilation keeps the peak opacity
  EXPECT_NEAR(dil.alpha[0][32][33].item<double>(), o * std::exp(-0.5 / (s2 + 0.3)), 1e-9);
}

TEST(RenderMipFilter, NamesParseAndRoundTrip) {
  EXPECT_EQ(parse_screen_filter("mip"), ScreenFilter::mip(0.1));
  EXPECT_EQ(parse_screen_filter("dilation"), ScreenFilter::dilation(0.3));
  EXPECT_EQ(parse_screen_filter("mip:0.25"), ScreenFilter::mip(0.25));
  for (const auto& f : {ScreenFilter::mip(0.1), ScreenFilter::dilation(0.3), ScreenFilter::mip(1.0 / 3)})
    EXPECT_EQ(parse_screen_filter(screen_filter_name(f)), f) << screen_filter_name(f);
  EXPECT_EQ(screen_filter_name(ScreenFilter::mip(0.1)), "mip:0.1");
  for (const char* bad : {"", "box", "mip:", "mip:0", "mip:-1", "mip:0.1x", "mip:nan", "dilation:1e9"})
    EXPECT_THROW(parse_screen_filter(bad), UsageError) << bad;
}

TEST(RenderMipFilter, DefaultIsTheUnchangedDilation) {
  const Gaussians g = random_scene(60, 5, 1);
  const std::vector<Camera> cams{oblique_camera(32)};
  RenderOptions explicit_dilation;
  explicit_dilation.screen_filter = ScreenFilter::dilation(0.3);
  EXPECT_EQ(RenderOptions{}.screen_filter, ScreenFilter::dilation(0.3));
  const RenderOutput a = render(g, cams, {}), b = render(g, cams, explicit_dilation);
  EXPECT_TRUE(torch::equal(a.rgb, b.rgb));
  EXPECT_TRUE(torch::equal(a.alpha, b.alpha));
  // Same variance, but the Mip filter compensates opacity: a different image.
  const RenderOutput m = render(g, cams, mip_options(0.3));
  EXPECT_GT((a.alpha - m.alpha).abs().max().item<double>(), 1e-3);
  EXPECT_LE(m.alpha.sum().item<double>(), a.alpha.sum().item<double>());
}

TEST(RenderKnownValues, IsotropicGaussianPeakAndFootprint) {
  Camera cam = front_camera(64);  // f = 64
  cam.cx = cam.cy = 32.5;         // optical axis through pixel (32,32)'s centre: no perspective skew
  const double z = 4.0, sigma = 0.25, o = 0.8;
  const Gaussians g = isotropic_gaussian(z, sigma, o);
  RenderOptions opt;
  opt.background = {0.1f, 0.2f, 0.3f};
  const RenderOutput out = render(g, {cam}, opt);
  for (int c = 0; c < 3; ++c)
    EXPECT_NEAR(out.rgb[0][32][32][c].item<double>(), o * g.colors[0][c].item<double>() + (1 - o) * opt.background[c],
                1e-9);
  EXPECT_NEAR(out.depth[0][32][32].item<double>(), z, 1e-9);
  // Footprint: σ_px = σ·f/z (plus the 0.3 px² low-pass) along a row and a column.
  const double s2 = std::pow(sigma * cam.fx / z, 2) + 0.3;
  for (int d : {2, 5, 9}) {
    const double expect = o * std::exp(-0.5 * d * d / s2);
    EXPECT_NEAR(out.alpha[0][32][32 + d].item<double>(), expect, 1e-9);
    EXPECT_NEAR(out.alpha[0][32 - d][32].item<double>(), expect, 1e-9);
  }
  // Beyond 3σ nothing is drawn.
  const int far = int(std::ceil(3 * std::sqrt(s2))) + 1;
  EXPECT_EQ(out.alpha[0][32][32 + far].item<double>(), 0.0);
}

TEST(RenderDeterminism, SameBitsForAnyThreadCount) {
  const Gaussians g0 = random_scene(300, 41, 2);
  const std::vector<Camera> cams{oblique_camera(64)};
  const int saved = torch::get_num_threads();
  std::vector<std::vector<torch::Tensor>> results;
  for (int threads : {1, 2, 3}) {
    torch::set_num_threads(threads);
    const Gaussians g = test::with_grad(g0);
    const RenderOutput out = render(g, cams, {});
    loss_of(out, 5).backward();
    auto r = test::grads_of(g);
    r.push_back(out.rgb.detach());
    results.push_back(r);
  }
  torch::set_num_threads(saved);
  for (size_t t = 1; t < results.size(); ++t)
    for (size_t i = 0; i < results[0].size(); ++i) EXPECT_TRUE(torch::equal(results[0][i], results[t][i]));
}

// The tile kernels run on 256-bit lanes when the CPU has AVX2 and on 128-bit lanes otherwise; force the
// 128-bit lanes and check them against the twin and against the default lanes (same forward bits).
TEST(RenderLanes, NarrowLanesMatchTwinAndDefaultLanes) {
  struct Restore {
    ~Restore() { raster::limit_lanes_to_128_bits(false); }
  } restore;
  const Gaussians g0 = random_scene(300, 43, 1);
  const std::vector<Camera> cams{oblique_camera(50), front_camera(50)};  // partial edge tiles
  std::vector<std::vector<torch::Tensor>> results;
  for (bool narrow : {false, true}) {
    raster::limit_lanes_to_128_bits(narrow);
    const Gaussians g = test::with_grad(g0);
    const RenderOutput out = render(g, cams, {});
    loss_of(out, 9).backward();
    auto r = test::grads_of(g);
    r.push_back(out.rgb.detach());
    r.push_back(out.alpha.detach());
    results.push_back(r);
  }
  for (size_t i = 0; i < results[0].size(); ++i) {
    if (i + 2 >= results[0].size())
      EXPECT_TRUE(torch::equal(results[0][i], results[1][i])) << "forward output " << i;
    else
      EXPECT_LE(rel_err(results[1][i], results[0][i]), 1e-5) << "gradient " << i;
  }
  raster::limit_lanes_to_128_bits(true);
  expect_forward_parity(random_scene(80, 44), {front_camera(40), oblique_camera(40)}, {});
  expect_grad_parity(random_scene(40, 45, 2, false, torch::kFloat64), {oblique_camera(32)}, {}, 1e-6);
}

TEST(RenderRobustness, NoNaNOnDegenerateInput) {
  Gaussians g = random_scene(10, 51, 1);
  g.quats[0] = torch::zeros({4});         // zero-norm quaternion
  g.scales[1] = torch::full({3}, 1e-9f);  // tiny
  g.scales[2] = torch::full({3}, 1e4f);   // huge
  g.opacities[3] = 0.f;
  g.opacities[4] = 1.f;
  g.means[5] = torch::tensor({0.f, 0.f, 0.f});        // at the camera centre
  g.means[6] = torch::tensor({0.f, 0.f, 0.2f});       // on the near plane
  g.scales[7] = torch::tensor({1e-9f, 1e3f, 1e-9f});  // needle
  for (const auto& cams : {std::vector<Camera>{front_camera(32)}, std::vector<Camera>{oblique_camera(32)}}) {
    const Gaussians ga = test::with_grad(g);
    const RenderOutput out = render(ga, cams, {});
    for (const auto& t : {out.rgb, out.alpha, out.depth, out.depth_accum})
      EXPECT_TRUE(torch::isfinite(t).all().item<bool>());
    loss_of(out, 9).backward();
    for (const auto& gr : test::grads_of(ga)) EXPECT_TRUE(torch::isfinite(gr).all().item<bool>());
  }
}

TEST(RenderApi, BatchEqualsPerSceneCallsAndMultiCameraEqualsSingle) {
  const Gaussians a = random_scene(40, 61, 1), b = random_scene(40, 62, 1);
  const Gaussians batch = Gaussians::stack({a, b});
  const std::vector<std::vector<Camera>> cams{{front_camera(32), oblique_camera(32)},
                                              {oblique_camera(32), front_camera(32)}};
  const RenderOutput out = render_batch(batch, cams, {});
  ASSERT_EQ(out.rgb.sizes(), (std::vector<int64_t>{2, 2, 32, 32, 3}));
  ASSERT_EQ(out.alpha.sizes(), (std::vector<int64_t>{2, 2, 32, 32}));
  const RenderOutput oa = render(a, cams[0], {}), ob = render(b, cams[1], {});
  EXPECT_TRUE(torch::equal(out.rgb[0], oa.rgb));
  EXPECT_TRUE(torch::equal(out.rgb[1], ob.rgb));
  EXPECT_TRUE(torch::equal(out.depth[1], ob.depth));
  const RenderOutput single = render(a, {cams[0][1]}, {});
  EXPECT_TRUE(torch::equal(single.rgb[0], oa.rgb[1]));
}

TEST(RenderApi, BadInputGivesClearErrors) {
  Gaussians g = random_scene(5, 71);
  const std::vector<Camera> cams{front_camera(16)};
  Gaussians bad = g;
  bad.scales = torch::ones({4, 3});
  try {
    render(bad, cams, {});
    FAIL() << "expected fresnel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scales"), std::string::npos);
  }
  EXPECT_THROW(render(g, {}, {}), Error);
  Camera other = front_camera(20);
  EXPECT_THROW(render(g, {cams[0], other}, {}), Error);
  RenderOptions phase;
  phase.phase_blending = true;
  EXPECT_THROW(render(g, cams, phase), Error);       // no phases
  EXPECT_THROW(render_batch(g, {cams}, {}), Error);  // not batched
}

}  // namespace
}  // namespace fresnel
