#include "v2/matching_loss.hpp"

#include <torch/torch.h>

#include "core/camera.hpp"
#include "core/gaussians.hpp"
#include "metrics/ssim.hpp"
#include "render/render.hpp"
#include "v2/trellis_frame.hpp"

namespace fresnel::v2 {

namespace F = torch::nn::functional;

torch::Tensor nearest_neighbours(const torch::Tensor& from, const torch::Tensor& to, int64_t chunk) {
  torch::NoGradGuard no_grad;
  auto idx = torch::empty({from.size(0)}, torch::TensorOptions(torch::kLong).device(from.device()));
  for (int64_t i = 0; i < from.size(0); i += chunk) {
    const int64_t n = std::min(chunk, from.size(0) - i);
    auto f = from.narrow(0, i, n);
    torch::Tensor best_d, best_i;
    for (int64_t j = 0; j < to.size(0); j += chunk) {
      const int64_t m = std::min(chunk, to.size(0) - j);
      auto [d, k] = torch::cdist(f, to.narrow(0, j, m)).min(1);
      k = k + j;
      if (!best_d.defined()) {
        best_d = d;
        best_i = k;
      } else {
        auto closer = d < best_d;  // ties keep the earlier block, as the original
        best_d = torch::where(closer, d, best_d);
        best_i = torch::where(closer, k, best_i);
      }
    }
    idx.narrow(0, i, n).copy_(best_i);
  }
  return idx;
}

std::map<std::string, torch::Tensor> gaussian_matching_loss(const torch::Tensor& pred, const torch::Tensor& target,
                                                            const torch::Tensor& pred_mask,
                                                            const torch::Tensor& target_mask,
                                                            const MatchingWeights& w) {
  const int64_t B = pred.size(0);
  const auto zero = torch::zeros({}, pred.options());
  std::map<std::string, torch::Tensor> sum = {{"position", zero}, {"scale", zero},   {"rotation", zero},
                                              {"color", zero},    {"opacity", zero}, {"coverage", zero}};
  auto nonzero_rows = [](const torch::Tensor& g) {
    return (g.narrow(1, 0, 3).abs().sum(-1) > 1e-6).logical_or(g.select(1, 13).abs() > 1e-6);
  };
  auto random_subset = [](const torch::Tensor& g, int64_t keep) {
    if (g.size(0) <= keep) return g;
    return g.index_select(
        0, torch::randperm(g.size(0), torch::TensorOptions(torch::kLong)).narrow(0, 0, keep).to(g.device()));
  };
  for (int64_t b = 0; b < B; ++b) {
    auto p = pred_mask.defined() ? pred[b].index({pred_mask[b]}) : pred[b];
    auto t = target_mask.defined() ? target[b].index({target_mask[b]}) : target[b];
    if (p.size(0) == 0 || t.size(0) == 0) continue;
    t = t.index({nonzero_rows(t)});
    p = p.index({nonzero_rows(p.detach())});
    if (p.size(0) == 0 || t.size(0) == 0) continue;
    p = random_subset(p, w.max_match_points);
    t = random_subset(t, 2 * w.max_match_points);
    auto tm = t.index_select(0, nearest_neighbours(p.narrow(1, 0, 3).detach(), t.narrow(1, 0, 3), w.chunk_size));
    auto qp = p.narrow(1, 6, 4) / p.narrow(1, 6, 4).norm(2, -1, true).clamp_min(1e-8);
    auto qt = tm.narrow(1, 6, 4) / tm.narrow(1, 6, 4).norm(2, -1, true).clamp_min(1e-8);
    sum["position"] = sum["position"] + w.position * F::mse_loss(p.narrow(1, 0, 3), tm.narrow(1, 0, 3));
    sum["scale"] = sum["scale"] + w.scale * F::mse_loss(p.narrow(1, 3, 3), tm.narrow(1, 3, 3));
    sum["rotation"] = sum["rotation"] + w.rotation * (1 - (qp * qt).sum(-1).abs().mean());
    sum["color"] = sum["color"] + w.color * F::mse_loss(p.narrow(1, 10, 3), tm.narrow(1, 10, 3));
    sum["opacity"] = sum["opacity"] + w.opacity * F::mse_loss(p.narrow(1, 13, 1), tm.narrow(1, 13, 1));
    // Coverage: every target to its nearest prediction.
    auto pm = p.index_select(0, nearest_neighbours(t.narrow(1, 0, 3), p.narrow(1, 0, 3).detach(), w.chunk_size));
    auto coverage = 2.0 * F::mse_loss(t.narrow(1, 0, 3), pm.narrow(1, 0, 3)) +
                    0.5 * F::mse_loss(t.narrow(1, 3, 3), pm.narrow(1, 3, 3)) +
                    0.5 * F::mse_loss(t.narrow(1, 10, 3), pm.narrow(1, 10, 3)) +
                    2.0 * F::mse_loss(t.narrow(1, 13, 1), pm.narrow(1, 13, 1));
    sum["coverage"] = sum["coverage"] + w.coverage * coverage;
  }
  for (auto& [k, v] : sum) v = v / static_cast<double>(std::max<int64_t>(1, B));
  return sum;
}

torch::Tensor occupancy_loss(const torch::Tensor& logits, const torch::Tensor& target, const torch::Tensor& mask) {
  auto m = mask.to(torch::kBool);
  if (m.sum().item<int64_t>() == 0) return torch::zeros({}, logits.options());
  return F::binary_cross_entropy_with_logits(logits.index({m}), target.index({m}).to(logits.dtype()));
}

namespace {
Gaussians rows_to_gaussians(const torch::Tensor& rows) {
  Gaussians g;
  g.means = rows.narrow(1, 0, 3);
  g.scales = rows.narrow(1, 3, 3);
  g.quats = rows.narrow(1, 6, 4);
  g.colors = rows.narrow(1, 10, 3);
  g.opacities = rows.select(1, 13);
  return g;
}
}  // namespace

torch::Tensor render_loss(const torch::Tensor& pred_rows, const torch::Tensor& target_rows, int views, int resolution) {
  const double f = resolution;
  auto cams = orbit_cameras(views, 3.0, 0.2, {0, 0, 0}, f, f, resolution, resolution);
  RenderOptions options;
  options.screen_filter = trellis_screen_filter();
  auto pred = render(rows_to_gaussians(pred_rows), cams, options).rgb;  // (V,H,W,3)
  torch::Tensor target;
  {
    torch::NoGradGuard no_grad;
    target = render(rows_to_gaussians(target_rows), cams, options).rgb;
  }
  auto l1 = (pred - target).abs().mean();
  return l1 + 0.5 * ssim_loss(pred.permute({0, 3, 1, 2}).contiguous(), target.permute({0, 3, 1, 2}).contiguous());
}

void OccupancyCounts::add(const torch::Tensor& logits, const torch::Tensor& target, const torch::Tensor& mask,
                          int64_t G) {
  torch::NoGradGuard no_grad;
  auto m = mask.to(torch::kBool);
  auto pred = torch::sigmoid(logits.detach()) > 0.5;
  auto pos = target > 0.5;
  correct += pred.eq(pos).logical_and(m).sum().item<double>();
  valid += m.sum().item<double>();
  true_positive += pred.logical_and(pos).logical_and(m).sum().item<double>();
  positive += pos.logical_and(m).sum().item<double>();
  kept_gaussians += pred.logical_and(m).sum().item<double>() * static_cast<double>(G);
  samples += static_cast<double>(logits.size(0));
}

}  // namespace fresnel::v2
