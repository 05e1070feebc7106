// Stage-level twin tests: the CPU rasterizer's projection records and tile lists against the reference twin's
// projection and dense footprint. The parity tests compare whole images; these say which stage disagrees.
#include <gtest/gtest.h>

#include <string>

#include "render/constants.hpp"
#include "render/raster_cpu.hpp"
#include "render/raster_record.hpp"
#include "render/reference.hpp"
#include "render/render_common.hpp"
#include "scenes.hpp"

namespace fresnel {
namespace {

namespace rc = render_constants;
using test::edge_case_scene;
using test::front_camera;
using test::oblique_camera;
using test::random_scene;
using torch::Tensor;

// Projection and binning of one camera by the CPU rasterizer, with the settings render() would use.
raster::CameraState cpu_project_and_bin(const Gaussians& g, const Camera& cam, const RenderOptions& o = {}) {
  const auto t = render_detail::prepare_tensors(g, g.has_phases());
  const raster::Inputs in = render_detail::make_inputs(t[0], t[1], t[2], t[3], t[4], t[5]);
  return raster::project_and_bin(in, cam, render_detail::settings_for(g, o, false));
}

// A camera whose image ends in partial tiles on the right and at the bottom.
Camera partial_tiles_camera() {
  Camera c = front_camera(56);
  c.height = 37;
  c.cy = 18.5;
  return c;
}

// ---------------------------------------------------------------------------------------------------
// Projection: the CPU's packed record of every Gaussian it keeps against the twin's projection of that Gaussian.

// |cpu − twin| ≤ atol + rtol·|twin| for every kept Gaussian (rows in rank order, ids their Gaussian ids); a failure
// names the field and the worst Gaussian.
void expect_field(const std::string& field, const Tensor& cpu, const Tensor& twin, const Tensor& ids, double rtol,
                  double atol) {
  const Tensor excess = (cpu - twin).abs() - (atol + rtol * twin.abs());
  const int64_t worst = excess.argmax().item<int64_t>();
  EXPECT_LE(excess[worst].item<double>(), 0)
      << "projection stage, " << field << " of Gaussian " << ids[worst].item<int64_t>() << ": cpu "
      << cpu[worst].item<double>() << ", twin " << twin[worst].item<double>();
}

void expect_projection_matches_twin(const Gaussians& g, const Camera& cam, const RenderOptions& o, double rtol) {
  const raster::CameraState st = cpu_project_and_bin(g, cam, o);
  const reference::Projection pr = reference::project(g, cam, o);
  const Tensor ids = st.order.to(torch::kLong);
  ASSERT_GT(ids.numel(), 0) << "the scene should have visible Gaussians";
  const Tensor rec = st.records.to(torch::kFloat64);
  auto cpu = [&](int field) { return rec.select(1, field); };
  auto twin = [&](const Tensor& t) { return t.index_select(0, ids).to(torch::kFloat64); };
  const double atol = rtol;

  // Culling: the CPU keeps only Gaussians the twin finds valid, and drops only those the twin accepts at no pixel.
  EXPECT_TRUE(pr.valid.index_select(0, ids).all().item<bool>())
      << "projection stage: the CPU keeps a Gaussian the twin culls";
  const Tensor dropped = torch::ones({g.count()}, torch::kBool).index_fill_(0, ids, false);
  const Tensor drawn = reference::footprint(pr, cam, 0, cam.height).accepted.any(1);
  const Tensor lost = (dropped & drawn).nonzero();
  EXPECT_EQ(lost.size(0), 0) << "projection stage: the CPU culls Gaussian "
                             << (lost.size(0) ? lost[0][0].item<int64_t>() : -1) << ", which the twin draws";

  expect_field("u", cpu(raster::kU), twin(pr.u), ids, rtol, atol);
  expect_field("v", cpu(raster::kV), twin(pr.v), ids, rtol, atol);
  // The conic relative to its own scale: A and C bound |B|, so B is compared against them.
  const Tensor conic_scale = twin(pr.A).abs() + twin(pr.C).abs();
  expect_field("conic A", cpu(raster::kConA), twin(pr.A), ids, rtol, 0);
  expect_field("conic B", cpu(raster::kConB) / conic_scale, twin(pr.B) / conic_scale, ids, 0, rtol);
  expect_field("conic C", cpu(raster::kConC), twin(pr.C), ids, rtol, 0);
  expect_field("depth", cpu(raster::kDepth), twin(pr.z), ids, rtol, atol);
  // Opacity is copied exactly, except that the Mip filter scales it by ρ (computed, so to rounding).
  const double otol = o.screen_filter.is_mip() ? rtol : 0;
  expect_field("opacity", cpu(raster::kOpacity), twin(pr.opacity), ids, otol, otol);
  const Tensor color = twin(pr.color);
  for (int c = 0; c < 3; ++c)
    expect_field("colour " + std::to_string(c), cpu(raster::kColR + c), color.select(1, c), ids, rtol, atol);
  // Support: the twin accepts a pixel where Mahalanobis² ≤ 9 (3σ) and o·e^power ≥ 1/255, i.e. where
  // Mahalanobis² ≤ k² = min(9, 2·ln(o·255)); its bounding box has half-widths √(k²·a) and √(k²·c).
  const Tensor k2 = (2 * torch::log(twin(pr.opacity) / rc::kMinAlpha)).clamp_max(-2 * rc::kMinPower);
  expect_field("support k2", cpu(raster::kK2), k2, ids, rtol, atol);
  expect_field("extent x", cpu(raster::kExtX), torch::sqrt(k2 * twin(pr.cov_a)), ids, rtol, atol);
  expect_field("extent y", cpu(raster::kExtY), torch::sqrt(k2 * twin(pr.cov_c)), ids, rtol, atol);
  if (g.has_phases())
    for (int c = 0; c < 3; ++c) {
      expect_field("cos phase " + std::to_string(c), cpu(raster::kCos0 + c), twin(pr.cosp).select(1, c), ids, rtol,
                   atol);
      expect_field("sin phase " + std::to_string(c), cpu(raster::kSin0 + c), twin(pr.sinp).select(1, c), ids, rtol,
                   atol);
    }
}

TEST(RenderStages, ProjectionMatchesTwinInDoublePrecision) {
  for (int d = -1; d <= 3; ++d) {
    const Gaussians g = random_scene(120, 200 + d, d, false, torch::kFloat64);
    for (const Camera& cam : {front_camera(48), oblique_camera(48)}) expect_projection_matches_twin(g, cam, {}, 1e-9);
    RenderOptions lower;  // fewer SH degrees than the Gaussians carry
    lower.sh_degree = std::max(0, d - 1);
    expect_projection_matches_twin(g, oblique_camera(48), lower, 1e-9);
  }
  expect_projection_matches_twin(edge_case_scene(torch::kFloat64), front_camera(48), {}, 1e-9);
  expect_projection_matches_twin(random_scene(60, 210, 1, true, torch::kFloat64), oblique_camera(40), {}, 1e-9);
}

TEST(RenderStages, ProjectionWithTheMipFilterMatchesTwin) {
  RenderOptions mip;
  mip.screen_filter = ScreenFilter::mip(0.1);
  for (int d : {-1, 2}) {
    Gaussians g = random_scene(120, 230 + d, d, false, torch::kFloat64);
    expect_projection_matches_twin(g, oblique_camera(48), mip, 1e-9);
    g.scales = g.scales * 0.2;  // sub-pixel footprints: ρ well below 1
    expect_projection_matches_twin(g, front_camera(48), mip, 1e-9);
  }
  expect_projection_matches_twin(edge_case_scene(torch::kFloat64), front_camera(48), mip, 1e-9);
  expect_projection_matches_twin(random_scene(150, 233, 2), oblique_camera(48), mip, 2e-4);
}

TEST(RenderStages, ProjectionMatchesTwinInFloat) {
  for (uint64_t seed : {220, 221}) {
    const Gaussians g = random_scene(150, seed, 2);
    expect_projection_matches_twin(g, front_camera(48), {}, 2e-4);
    expect_projection_matches_twin(g, oblique_camera(48), {}, 2e-4);
  }
  expect_projection_matches_twin(edge_case_scene(), front_camera(48), {}, 2e-4);
}

// ---------------------------------------------------------------------------------------------------
// Binning: every pixel–Gaussian pair the twin accepts must be in the list of the pixel's tile, and every list must
// hold each Gaussian once, in (depth, id) order. The lists may hold more (binning is conservative).

struct BinningCoverage {
  int64_t pairs = 0;         // pixel–Gaussian pairs the twin accepts
  int64_t across_tiles = 0;  // Gaussians the twin accepts in more than one tile
};

BinningCoverage expect_binning_complete(const Gaussians& g, const Camera& cam) {
  const raster::CameraState st = cpu_project_and_bin(g, cam);
  const int T = rc::kTileSize, W = cam.width, H = cam.height;
  const int64_t tiles_x = (W + T - 1) / T, ntiles = tiles_x * ((H + T - 1) / T);
  const auto off = st.tile_offsets.accessor<int64_t, 1>();
  const auto ent = st.entries.accessor<int32_t, 1>();
  const auto order = st.order.accessor<int32_t, 1>();
  const Tensor depth = st.records.select(1, raster::kDepth).to(torch::kFloat64);
  const auto z = depth.accessor<double, 1>();
  EXPECT_EQ(off[0], 0);
  EXPECT_EQ(off[ntiles], st.entries.size(0));
  Tensor listed = torch::zeros({g.count(), ntiles}, torch::kBool);
  auto in_list = listed.accessor<bool, 2>();
  for (int64_t t = 0; t < ntiles; ++t)
    for (int64_t k = off[t]; k < off[t + 1]; ++k) {
      const int32_t rank = ent[k], id = order[rank];
      EXPECT_FALSE(in_list[id][t]) << "binning stage: Gaussian " << id << " listed twice in tile " << t;
      in_list[id][t] = true;
      if (k > off[t]) {
        const int32_t prev = ent[k - 1];
        const bool ordered = z[prev] < z[rank] || (z[prev] == z[rank] && order[prev] < id);
        EXPECT_TRUE(ordered) << "binning stage: tile " << t << " lists Gaussian " << order[prev] << " (depth "
                             << z[prev] << ") before " << id << " (depth " << z[rank] << ")";
      }
    }
  // The tile of every pixel (row-major, like the footprint's pixels).
  const Tensor ty = torch::arange(H, torch::kLong).div(T, "floor").unsqueeze(1);
  const Tensor tx = torch::arange(W, torch::kLong).div(T, "floor").unsqueeze(0);
  const Tensor tile_of_pixel = (ty * tiles_x + tx).reshape(-1);
  const Tensor accepted = reference::footprint(reference::project(g, cam, {}), cam, 0, H).accepted;
  const Tensor missing = (accepted & ~listed.index_select(1, tile_of_pixel)).nonzero();
  if (missing.size(0) > 0) {
    const int64_t id = missing[0][0].item<int64_t>(), p = missing[0][1].item<int64_t>();
    ADD_FAILURE() << "binning stage: " << missing.size(0) << " accepted pairs missing; first: Gaussian " << id
                  << " at pixel (" << p % W << ", " << p / W << ") is not in tile " << tile_of_pixel[p].item<int64_t>()
                  << "'s list";
  }
  const Tensor tiles_hit =
      torch::zeros({g.count(), ntiles}).index_add_(1, tile_of_pixel, accepted.to(torch::kFloat32)) > 0;
  return {accepted.sum().item<int64_t>(), (tiles_hit.sum(1) > 1).sum().item<int64_t>()};
}

TEST(RenderStages, BinningListsEveryAcceptedPairOnRandomScenes) {
  for (uint64_t seed : {230, 231, 232}) {
    const Gaussians g = random_scene(150, seed);
    for (const Camera& cam : {front_camera(48), oblique_camera(48), partial_tiles_camera()}) {
      const BinningCoverage c = expect_binning_complete(g, cam);
      EXPECT_GT(c.pairs, 2000);
      EXPECT_GT(c.across_tiles, 20);
    }
  }
  expect_binning_complete(random_scene(100, 233, -1, false, torch::kFloat64), partial_tiles_camera());
}

// Long thin ellipses at random angles: the binning's exact ellipse–tile-row cover (not its bounding box) decides.
TEST(RenderStages, BinningListsEveryAcceptedPairOfNeedles) {
  for (uint64_t seed : {240, 241}) {
    Gaussians g = random_scene(80, seed);
    g.scales.select(1, 0).mul_(12);
    g.scales.select(1, 1).mul_(0.2);
    const BinningCoverage c = expect_binning_complete(g, oblique_camera(64));
    EXPECT_GT(c.across_tiles, 40);
  }
}

// Gaussians on and next to tile borders and corners (pixel coordinates 16 and 32 ± a fraction) with footprints of
// one to a few pixels, some with opacity just above the 1/255 cut; and round Gaussians whose 3σ circle reaches a
// tile corner diagonally, so that the tile across the corner holds only a sliver of their support.
Gaussians tile_border_scene() {
  const double f = 48.0;  // front_camera(48): u = 48·x/z + 24
  std::vector<double> means, scales, opacities;
  auto add = [&](double u, double v, double z, double sigma_px, double aspect, double opacity) {
    means.insert(means.end(), {(u - 24) * z / f, (v - 24) * z / f, z});
    const double s = sigma_px * z / f;
    scales.insert(scales.end(), {s, s * aspect, s});
    opacities.push_back(opacity);
  };
  const std::vector<double> at = {15.5, 16.0, 16.49, 31.7, 32.0, 32.3};
  int i = 0;
  for (double v : at)
    for (double u : at) {
      add(u, v, 2.5 + 0.01 * i, std::vector<double>{0.3, 1.0, 2.5}[i % 3], i % 2 ? 0.3 : 1.0, i % 5 ? 0.9 : 0.0045);
      ++i;
    }
  for (double sigma_px : {1.0, 2.5, 6.0}) {
    // Reach r = 3σ (σ with the 0.3 px² low-pass); centred a pixels diagonally off the corner (32, 32), the nearest
    // pixel centre across it, at √2·(a + 0.5), lies about 0.14 px inside the reach.
    const double reach = 3 * std::sqrt(sigma_px * sigma_px + 0.3), a = reach / std::sqrt(2.0) - 0.6;
    for (double side : {-1.0, 1.0}) add(32 + side * a, 32 + side * a, 3.0, sigma_px, 1.0, 0.95);
  }
  const int64_t n = int64_t(opacities.size());
  Gaussians g;
  g.means = torch::tensor(means, torch::kFloat64).view({n, 3});
  g.scales = torch::tensor(scales, torch::kFloat64).view({n, 3});
  torch::manual_seed(7);
  g.quats = torch::randn({n, 4}, torch::kFloat64);
  g.opacities = torch::tensor(opacities, torch::kFloat64);
  g.colors = torch::rand({n, 3}, torch::kFloat64);
  return g.to(torch::TensorOptions().dtype(torch::kFloat32));
}

// The hand-placed edge cases of the parity tests (tile borders, behind the camera, across the near plane, huge, tiny,
// outside the frustum, opacity at the 1/255 cut) and the tile-border scene.
TEST(RenderStages, BinningListsEveryAcceptedPairOnEdgeCases) {
  EXPECT_GT(expect_binning_complete(edge_case_scene(), front_camera(48)).across_tiles, 3);
  const BinningCoverage c = expect_binning_complete(tile_border_scene(), front_camera(48));
  EXPECT_GT(c.across_tiles, 20) << "the border scene should straddle tile borders";
}

}  // namespace
}  // namespace fresnel
