// Decoder-like benchmark scenes and the render timing harness.
#include "render/bench_scene.hpp"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "render/raster_cpu.hpp"
#include "render/reference.hpp"
#include "render/render.hpp"
#include "render/render_common.hpp"

namespace fresnel {

Gaussians decoder_like_scene(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  constexpr int64_t kGrid = 37;
  const int64_t per_cell = (n + kGrid * kGrid - 1) / (kGrid * kGrid);
  const auto lin = torch::linspace(-1, 1, kGrid, torch::kFloat64);
  // Flatten order (row, col, k) like the decoder; keep the first n.
  auto gy = lin.view({kGrid, 1, 1}).expand({kGrid, kGrid, per_cell}).reshape({-1}).slice(0, 0, n);
  auto gx = lin.view({1, kGrid, 1}).expand({kGrid, kGrid, per_cell}).reshape({-1}).slice(0, 0, n);
  const double cell = 2.0 / (kGrid - 1);
  auto x = gx + (torch::rand({n}, torch::kFloat64) - 0.5) * cell;
  auto y = gy + (torch::rand({n}, torch::kFloat64) - 0.5) * cell;
  // Smooth depth field d ∈ [0,1] (a bump, nearer in the middle) → z = 2 + 2·(1 − d), slight noise.
  auto d = torch::exp(-(gx * gx + gy * gy) * 1.5);
  auto z = 2 + 2 * (1 - d) + 0.02 * torch::randn({n}, torch::kFloat64);
  Gaussians g;
  g.means = torch::stack({x, y, z}, 1);
  g.quats = torch::randn({n, 4}, torch::kFloat64);
  g.quats = g.quats / g.quats.norm(2, 1, true);
  g.scales = torch::exp(torch::rand({n, 3}, torch::kFloat64) * std::log(10.0) + std::log(0.02));
  g.opacities = torch::sigmoid(torch::randn({n}, torch::kFloat64));
  g.colors = torch::rand({n, 3}, torch::kFloat64);
  return g.to(torch::TensorOptions().dtype(torch::kFloat32));
}

Gaussians pixel_aligned_scene(int resolution, int per_pixel, uint64_t seed) {
  torch::manual_seed(seed);
  const Camera cam = bench_camera(resolution);
  const int64_t n = int64_t(resolution) * resolution * per_pixel;
  const auto opt = torch::TensorOptions().dtype(torch::kFloat64);
  // Pixel centres, each repeated per_pixel times (slot-major within a pixel, like the decoder).
  const auto idx = torch::arange(n, torch::kInt64).div(per_pixel, "floor");
  const auto px = idx.remainder(resolution).to(torch::kFloat64) + 0.5;
  const auto py = idx.div(resolution, "floor").to(torch::kFloat64) + 0.5;
  // Smooth depth (a bump, nearer in the middle) plus spread between a pixel's slots.
  const auto nx = (px / resolution) * 2 - 1, ny = (py / resolution) * 2 - 1;
  const auto z = 2 + 2 * (1 - torch::exp(-(nx * nx + ny * ny) * 1.5)) + 0.3 * torch::rand({n}, opt);
  Gaussians g;
  g.means = torch::stack({(px - cam.cx) / cam.fx * z, (py - cam.cy) / cam.fy * z, z}, 1);
  g.quats = torch::randn({n, 4}, opt);
  g.quats = g.quats / g.quats.norm(2, 1, true);
  const auto footprint = (z / cam.fx).unsqueeze(1);
  g.scales = footprint * torch::exp(torch::rand({n, 3}, opt) * std::log(4.0) + std::log(0.5));
  g.opacities = torch::sigmoid(torch::randn({n}, opt) + 2);
  g.colors = torch::rand({n, 3}, opt);
  return g.to(torch::TensorOptions().dtype(torch::kFloat32));
}

Camera bench_camera(int resolution) {
  Camera c;
  c.width = c.height = resolution;
  c.fx = c.fy = 0.8 * resolution;
  c.cx = c.cy = resolution / 2.0;
  c.near_plane = 0.01;
  c.far_plane = 100;
  return c;
}

int64_t count_tile_intersections(const Gaussians& g, const Camera& cam) {
  auto t = render_detail::prepare_tensors(g, false);
  const auto in = render_detail::make_inputs(t[0], t[1], t[2], t[3], t[4], t[5]);
  return raster::project_and_bin(in, cam, render_detail::settings_for(g, {}, false)).entries.size(0);
}

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <typename F>
double median_ms(int reps, F&& f) {
  f();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < std::max(1, reps); ++i) {
    const double t0 = now_ms();
    f();
    t.push_back(now_ms() - t0);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

Gaussians requiring_grad(const Gaussians& g) {
  Gaussians r = g.detach();
  for (auto* t : {&r.means, &r.quats, &r.scales, &r.opacities, &r.colors}) *t = t->clone().set_requires_grad(true);
  return r;
}

}  // namespace

nlohmann::json run_render_bench(const RenderBenchCase& c, int reps, const torch::Device& device) {
  const Gaussians scene =
      c.per_pixel > 0 ? pixel_aligned_scene(c.resolution, c.per_pixel, 1) : decoder_like_scene(c.gaussians, 1);
  const Gaussians g = scene.to(torch::TensorOptions().device(device));
  auto wait = [&] {  // CUDA kernels run asynchronously: a timing must include them
#ifdef FRESNEL_WITH_CUDA
    if (device.is_cuda()) torch::cuda::synchronize();
#endif
  };
  const std::vector<Camera> cams{bench_camera(c.resolution)};
  const int64_t pixels = int64_t(c.resolution) * c.resolution;
  const int64_t n = g.means.size(0);
  const double dense_pairs = double(n) * double(pixels);
  const int64_t isect = count_tile_intersections(scene, cams[0]);
  const double fwd = median_ms(reps, [&] {
    torch::NoGradGuard ng;
    render(g, cams, {});
    wait();
  });
  const double fwd_bwd = median_ms(reps, [&] {
    const Gaussians gg = requiring_grad(g);
    const RenderOutput o = render(gg, cams, {});
    (o.rgb.sum() + o.depth.sum()).backward();
    wait();
  });
  nlohmann::json j = {{"name", c.name},
                      {"gaussians", n},
                      {"width", c.resolution},
                      {"height", c.resolution},
                      {"threads", torch::get_num_threads()},
                      {"device", device.str()},
                      {"tile_intersections", isect},
                      {"forward_ms", fwd},
                      {"forward_backward_ms", fwd_bwd},
                      // Every Gaussian against every pixel, as a dense renderer evaluates them.
                      {"dense_gaussian_pixel_evals_per_s", dense_pairs / (fwd * 1e-3)},
                      // Gaussian × pixel pairs inside the tiles each Gaussian was binned to.
                      {"tile_gaussian_pixel_pairs_per_s", double(isect) * 256.0 / (fwd * 1e-3)}};
  if (c.with_twin && device.is_cpu()) {
    // The twin is dense: render it in row chunks so its (N × chunk pixels) tensors stay small.
    const int rows = std::max(1, int(4'000'000 / std::max<int64_t>(1, n * c.resolution)));
    const double t0 = now_ms();
    {
      torch::NoGradGuard ng;
      for (int r = 0; r < c.resolution; r += rows)
        reference::render_rows(g, cams[0], {}, r, std::min(c.resolution, r + rows));
    }
    const double twin_fwd = now_ms() - t0;
    const double t1 = now_ms();
    const Gaussians gg = requiring_grad(g);
    for (int r = 0; r < c.resolution; r += rows) {
      const RenderOutput o = reference::render_rows(gg, cams[0], {}, r, std::min(c.resolution, r + rows));
      (o.rgb.sum() + o.depth.sum()).backward();
    }
    const double twin_fb = now_ms() - t1;
    j["twin_forward_ms"] = twin_fwd;
    j["twin_forward_backward_ms"] = twin_fb;
    j["speedup_vs_twin_forward"] = twin_fwd / fwd;
    j["speedup_vs_twin_forward_backward"] = twin_fb / fwd_bwd;
  }
  return j;
}

}  // namespace fresnel
