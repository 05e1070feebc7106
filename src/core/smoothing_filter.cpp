#include "core/smoothing_filter.hpp"

#include <torch/torch.h>

#include <algorithm>

namespace fresnel {

namespace {

// Σ' = R·diag(s²)·Rᵀ + σ²I = R·diag(s² + σ²)·Rᵀ: only the scales change. z: depth of each mean; f broadcastable.
// With compensate_opacity also o' = o·√(det Σ / det Σ') = o·Π s/s' (Mip-Splatting's 3D filter).
Gaussians add_footprint_variance(const Gaussians& g, const torch::Tensor& z, const torch::Tensor& f, double near,
                                 double variance_px2, bool compensate_opacity) {
  const auto sigma2 = torch::where(z > near, variance_px2 * (z / f).square(), torch::zeros_like(z));
  Gaussians out = g;
  out.scales = (g.scales.square() + sigma2.unsqueeze(-1)).sqrt();
  if (compensate_opacity) out.opacities = g.opacities * (g.scales / out.scales).prod(-1);
  return out;
}

}  // namespace

Gaussians apply_smoothing_filter(const Gaussians& g, const Camera& camera, double variance_px2,
                                 bool compensate_opacity) {
  if (variance_px2 <= 0 || g.count() == 0) return g;
  // Depth of each mean in the camera: z = row 3 of [R t]·[p; 1].
  const Mat4& w = camera.world_to_camera;
  const auto row = torch::tensor({w[8], w[9], w[10]}, g.means.options());
  const auto z = (g.means * row).sum(-1) + w[11];
  const auto f = torch::tensor(std::min(camera.fx, camera.fy), z.options());
  return add_footprint_variance(g, z, f, camera.near_plane, variance_px2, compensate_opacity);
}

Gaussians apply_smoothing_filter_input_frame(const Gaussians& g, const torch::Tensor& focal_px, double variance_px2,
                                             bool compensate_opacity) {
  if (variance_px2 <= 0 || g.count() == 0) return g;
  const auto z = g.means.select(-1, 2);
  auto f = focal_px.to(z.options());
  if (f.dim() == 1 && z.dim() == 2) f = f.view({-1, 1});  // one focal length per scene of a batch
  return add_footprint_variance(g, z, f, 0.0, variance_px2, compensate_opacity);
}

}  // namespace fresnel
