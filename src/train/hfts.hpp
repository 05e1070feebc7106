// HFTS — the original's Hybrid Fast Training System (spec §6.6), with what its docs promised but its code never
// did: the final 25% of the epochs run at full resolution with all Gaussians, and stochastic subsets are drawn by
// importance with inclusion probabilities and re-weighted so the estimate is unbiased.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <optional>

#include <nlohmann/json_fwd.hpp>

namespace fresnel::train {

struct HftsOptions {
  int image_size = 256;
  std::optional<int> train_resolution;  // --train_resolution
  bool progressive = false;             // --progressive_schedule
  std::optional<int64_t> stochastic_k;  // --stochastic_k
  bool fast_mode = false;               // --fast_mode: 64², progressive, stochastic 256
  int64_t base_k = 4;                   // --gaussians_per_patch
  int64_t epochs = 100;
  bool final_full = true;  // last 25%: full resolution, all Gaussians (the documented behaviour)

  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("image_size", c.image_size);
    visit("train_resolution", c.train_resolution);
    visit("progressive", c.progressive);
    visit("stochastic_k", c.stochastic_k);
    visit("fast_mode", c.fast_mode);
    visit("base_k", c.base_k);
    visit("epochs", c.epochs);
    visit("final_full", c.final_full);
  }
};
void to_json(nlohmann::json& j, const HftsOptions& c);
void from_json(const nlohmann::json& j, HftsOptions& c);

struct HftsStep {
  int resolution = 0;  // render (and target) resolution this epoch
  int64_t gaussians_per_patch = 0;
  int64_t stochastic_k = 0;  // Gaussians rendered per step; 0 = all
  bool full_phase = false;   // in the final full-quality phase
};

// The schedule of epoch e (0-based):
//  resolution: full phase → image_size; fast_mode → 64; else train_resolution or image_size.
//  K (progressive or fast): p = e/epochs; p < .25 → 1; p < .5 → 2; p < .75 → max(4, base); else base;
//                           always capped at base. Otherwise base.
//  stochastic: full phase → all; stochastic_k set → it; fast_mode → 256; else all.
//  full phase: final_full and any HFTS option on and p ≥ 0.75.
HftsStep hfts_schedule(const HftsOptions& options, int64_t epoch);
bool hfts_active(const HftsOptions& options);

// Poisson importance sampling: each Gaussian i is kept independently with probability
// π_i = min(1, c·w_i), c chosen so Σ π_i = k (expected subset size k). importance: (N,) ≥ 0.
torch::Tensor inclusion_probabilities(const torch::Tensor& importance, int64_t k);

struct StochasticSubset {
  torch::Tensor indices;    // (M,) int64, ascending
  torch::Tensor inclusion;  // (M,) π of the kept Gaussians
};
// Draws a subset with the torch default generator (so --seed and --resume reproduce it).
StochasticSubset sample_subset(const torch::Tensor& importance, int64_t k);

// Horvitz–Thompson weighting for alpha compositing: a kept Gaussian stands for 1/π copies of itself, so its
// optical depth −log(1−α) is divided by π: α' = 1 − (1 − α)^{1/π}. Then E[Σ_kept −log(1−α'_i)] = Σ_all −log(1−α_i):
// the expected optical depth (log-transmittance) along every ray equals the full render's, exactly.
torch::Tensor unbiased_opacity(const torch::Tensor& opacity, const torch::Tensor& inclusion);

}  // namespace fresnel::train
