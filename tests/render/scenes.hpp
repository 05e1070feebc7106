// Small random scenes and helpers shared by the renderer tests.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "core/camera.hpp"
#include "core/gaussians.hpp"

namespace fresnel::test {

// Camera at the origin looking down +z (identity world→camera), square image.
inline Camera front_camera(int size, double focal_mult = 1.0) {
  Camera c;
  c.width = c.height = size;
  c.fx = c.fy = focal_mult * size;
  c.cx = c.cy = size / 2.0;
  c.near_plane = 0.2;
  c.far_plane = 100;
  return c;
}

// A camera looking at the origin from an oblique direction (exercises the full rotation path).
inline Camera oblique_camera(int size) {
  Camera c = Camera::look_at({1.2, -0.8, -3.0}, {0.0, 0.0, 3.0}, {0.0, -1.0, 0.0}, size, size, size, size);
  c.near_plane = 0.2;
  return c;
}

// n Gaussians in front of front_camera: z ∈ [2,4], footprints of a few pixels on a `size` image.
// sh_degree < 0: plain RGB colours; otherwise (N,(d+1)²,3) SH coefficients.
inline Gaussians random_scene(int64_t n, uint64_t seed, int sh_degree = -1, bool phases = false,
                              torch::Dtype dt = torch::kFloat32) {
  torch::manual_seed(seed);
  Gaussians g;
  auto z = torch::rand({n, 1}, torch::kFloat64) * 2 + 2;
  auto xy = (torch::rand({n, 2}, torch::kFloat64) * 2 - 1) * 0.55 * z;
  g.means = torch::cat({xy, z}, 1);
  g.quats = torch::randn({n, 4}, torch::kFloat64);
  g.scales = torch::exp(torch::rand({n, 3}, torch::kFloat64) * 1.6 - 3.2) * 0.6;  // ≈0.02–0.1
  g.opacities = torch::rand({n}, torch::kFloat64) * 0.9 + 0.05;
  if (sh_degree < 0)
    g.colors = torch::rand({n, 3}, torch::kFloat64);
  else
    g.colors = torch::randn({n, (sh_degree + 1) * (sh_degree + 1), 3}, torch::kFloat64) * 0.5;
  if (phases) g.phases = torch::rand({n, 3}, torch::kFloat64) * 2 * M_PI;
  return g.to(torch::TensorOptions().dtype(dt));
}

// Hand-placed Gaussians: across tile borders, behind the camera, straddling the near plane, huge, tiny,
// opacity near 0 and 1, outside the frustum, very elongated.
inline Gaussians edge_case_scene(torch::Dtype dt = torch::kFloat32) {
  const double f = 48.0;  // front_camera(48): u = 48·x/z + 24
  auto pix = [&](double u, double v, double z) { return std::vector<double>{(u - 24) * z / f, (v - 24) * z / f, z}; };
  std::vector<std::vector<double>> m = {pix(16, 16, 3), pix(32, 20, 2.5), pix(16.2, 31.9, 3.5), {0, 0, -1},
                                        {0.1, 0, 0.25}, pix(24, 24, 3),   pix(10, 40, 2.2),     pix(30, 8, 3),
                                        pix(70, 24, 3), pix(-30, -30, 3), pix(40, 40, 2.8),     pix(8, 24, 3.2)};
  std::vector<double> s = {0.1, 0.05, 0.08, 0.3, 0.05, 3.0, 1e-4, 0.06, 0.5, 0.2, 0.05, 0.15};
  std::vector<double> o = {0.999, 0.5, 0.004, 0.9, 0.8, 0.3, 0.9, 0.0039, 0.7, 0.8, 1.0, 0.6};
  const int64_t n = int64_t(m.size());
  Gaussians g;
  std::vector<double> flat;
  for (auto& r : m) flat.insert(flat.end(), r.begin(), r.end());
  g.means = torch::tensor(flat, torch::kFloat64).view({n, 3});
  g.scales = torch::tensor(s, torch::kFloat64).view({n, 1}).repeat({1, 3});
  g.scales[11][0] = 0.6;  // elongated
  g.scales[11][1] = 0.01;
  torch::manual_seed(5);
  g.quats = torch::randn({n, 4}, torch::kFloat64);
  g.opacities = torch::tensor(o, torch::kFloat64);
  g.colors = torch::rand({n, 3}, torch::kFloat64);
  return g.to(torch::TensorOptions().dtype(dt));
}

// Copies of the Gaussian tensors that require grad (leaf tensors).
inline Gaussians with_grad(const Gaussians& g) {
  Gaussians r = g.detach();
  for (auto* t : {&r.means, &r.quats, &r.scales, &r.opacities, &r.colors, &r.phases})
    if (t->defined()) *t = t->clone().set_requires_grad(true);
  return r;
}

inline std::vector<torch::Tensor> grads_of(const Gaussians& g) {
  std::vector<torch::Tensor> out;
  for (const auto* t : {&g.means, &g.quats, &g.scales, &g.opacities, &g.colors, &g.phases})
    if (t->defined()) out.push_back(t->grad().defined() ? t->grad() : torch::zeros_like(*t));
  return out;
}

// max|a−b| / max(max|b|, floor): one relative error for a whole gradient tensor.
inline double rel_err(const torch::Tensor& a, const torch::Tensor& b, double floor = 1e-8) {
  const double diff = (a - b).abs().max().item<double>();
  const double scale = std::max(b.abs().max().item<double>(), floor);
  return diff / scale;
}

}  // namespace fresnel::test
