#include "train/hfts.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/field_table.hpp"

namespace fresnel::train {

void to_json(nlohmann::json& j, const HftsOptions& c) { j = fields_to_json(c); }
void from_json(const nlohmann::json& j, HftsOptions& c) { fields_from_json(j, c, "hfts options"); }

bool hfts_active(const HftsOptions& o) {
  return o.fast_mode || o.progressive || o.stochastic_k.has_value() ||
         (o.train_resolution && *o.train_resolution != o.image_size);
}

HftsStep hfts_schedule(const HftsOptions& o, int64_t epoch) {
  HftsStep s;
  const double p = o.epochs > 0 ? static_cast<double>(epoch) / static_cast<double>(o.epochs) : 0.0;
  s.full_phase = o.final_full && hfts_active(o) && p >= 0.75;
  if (s.full_phase)
    s.resolution = o.image_size;
  else if (o.fast_mode)
    s.resolution = 64;
  else
    s.resolution = o.train_resolution.value_or(o.image_size);
  s.gaussians_per_patch = o.base_k;
  if (o.progressive || o.fast_mode) {
    const int64_t k = p < 0.25 ? 1 : p < 0.5 ? 2 : p < 0.75 ? std::max<int64_t>(4, o.base_k) : o.base_k;
    s.gaussians_per_patch = std::min(k, o.base_k);
  }
  if (!s.full_phase) {
    if (o.stochastic_k)
      s.stochastic_k = *o.stochastic_k;
    else if (o.fast_mode)
      s.stochastic_k = 256;
  }
  return s;
}

torch::Tensor inclusion_probabilities(const torch::Tensor& importance_in, int64_t k) {
  auto w = importance_in.detach().to(torch::kDouble).clamp_min(0.0);
  const int64_t N = w.numel();
  if (k >= N) return torch::ones({N}, w.options());
  if (k <= 0) throw Error("stochastic subset size must be positive");
  w = w + 1e-12;  // every Gaussian keeps a chance (unbiasedness needs π > 0)
  auto capped = torch::zeros({N}, torch::kBool);
  torch::Tensor pi;
  for (int iter = 0; iter < 64; ++iter) {
    const double n_capped = capped.sum().item<double>();
    const double rest = torch::where(capped, torch::zeros_like(w), w).sum().item<double>();
    const double c = (static_cast<double>(k) - n_capped) / rest;
    pi = torch::where(capped, torch::ones_like(w), (c * w).clamp_max(1.0));
    auto now = pi >= 1.0;
    if (torch::equal(now, capped)) break;
    capped = now;
  }
  return pi;
}

StochasticSubset sample_subset(const torch::Tensor& importance, int64_t k) {
  auto pi = inclusion_probabilities(importance, k);
  auto u = torch::rand({pi.numel()}, torch::kDouble);
  auto keep = u < pi;
  if (!keep.any().item<bool>()) keep[pi.argmax()] = true;  // never render an empty scene
  StochasticSubset s;
  s.indices = keep.nonzero().view({-1});
  s.inclusion = pi.index_select(0, s.indices).to(importance.scalar_type());
  return s;
}

torch::Tensor unbiased_opacity(const torch::Tensor& opacity, const torch::Tensor& inclusion) {
  auto t = (1.0 - opacity).clamp(1e-6, 1.0);
  return 1.0 - torch::pow(t, 1.0 / inclusion);
}

}  // namespace fresnel::train
