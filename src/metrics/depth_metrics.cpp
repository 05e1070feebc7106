#include "metrics/depth_metrics.hpp"

#include <torch/torch.h>

#include <limits>

#include "core/error.hpp"

namespace fresnel {

DepthErrors depth_errors(const torch::Tensor& prediction, const torch::Tensor& target) {
  if (prediction.sizes() != target.sizes() || prediction.dim() != 2)
    throw Error("depth_errors: expected two (H,W) maps of one size");
  torch::NoGradGuard no_grad;
  const auto gt = target.detach().to(torch::kCPU, torch::kFloat64);
  const auto pred = prediction.detach().to(torch::kCPU, torch::kFloat64);
  const auto valid = (gt > 0) & torch::isfinite(gt);
  DepthErrors e;
  e.pixels = valid.sum().item<int64_t>();
  if (e.pixels == 0) {
    e.abs_rel = e.delta1 = e.abs_rel_median_scaled = std::numeric_limits<double>::quiet_NaN();
    return e;
  }
  const auto g = gt.masked_select(valid);
  const auto p = pred.masked_select(valid);
  const auto usable = (p > 0) & torch::isfinite(p);
  const auto rel = torch::where(usable, (p - g).abs() / g, torch::ones_like(g));
  const auto ratio = torch::where(usable, torch::max(p / g, g / p), torch::full_like(g, 1e30));
  e.abs_rel = rel.mean().item<double>();
  e.delta1 = (ratio < 1.25).to(torch::kFloat64).mean().item<double>();
  const auto good = p.masked_select(usable);
  if (good.numel() == 0) {
    e.abs_rel_median_scaled = 1.0;
  } else {
    const auto scaled = p * (g.median() / good.median());
    e.abs_rel_median_scaled = torch::where(usable, (scaled - g).abs() / g, torch::ones_like(g)).mean().item<double>();
  }
  return e;
}

torch::Tensor resize_depth_nearest(const torch::Tensor& depth, int64_t height, int64_t width) {
  auto d = depth.detach().to(torch::kFloat32);
  while (d.dim() > 2) d = d.squeeze(0);
  if (d.dim() != 2) throw Error("resize_depth_nearest: expected an (H,W) depth map");
  if (d.size(0) == height && d.size(1) == width) return d;
  namespace F = torch::nn::functional;
  return F::interpolate(d.unsqueeze(0).unsqueeze(0),
                        F::InterpolateFuncOptions().size(std::vector<int64_t>{height, width}).mode(torch::kNearest))
      .squeeze(0)
      .squeeze(0);
}

}  // namespace fresnel
