// Stochastic subset rendering: draw K of N Gaussians with probability proportional to an importance,
// exactly K distinct indices, and return each one's inclusion probability π_i so the trainer can weight
// contributions by 1/π_i (Horvitz–Thompson: unbiased for any sum over Gaussians).
#pragma once
#include <torch/types.h>

#include <cstdint>

namespace fresnel {

struct SubsetSample {
  torch::Tensor indices;    // (K) int64, ascending, distinct
  torch::Tensor inclusion;  // (K) float64, π_i ∈ (0,1], Σ over all N Gaussians of π equals K
  torch::Tensor weights;    // (K) float64, 1/π_i
};

// π_i = min(1, c·w_i) with c chosen so Σπ = K, where w = importance + 1e-6·mean(importance) keeps every
// π_i > 0 (needed for unbiasedness). Systematic sampling over the cumulative π gives inclusion
// probability exactly π_i and exactly K indices. Same seed → same sample. K ≥ N returns everything (π = 1).
// Throws fresnel::Error for a wrong shape, negative or non-finite importance, or K < 1.
SubsetSample sample_importance_subset(const torch::Tensor& importance, int64_t k, uint64_t seed);

// The inclusion probabilities π for all N Gaussians (the rule above), float64 (N).
torch::Tensor inclusion_probabilities(const torch::Tensor& importance, int64_t k);

}  // namespace fresnel
