// Loss terms of decoder training (spec §6.5), each a small function so tests can check it alone, and the
// weighted sum `compute_losses`. Images are (B,3,R,R) in [0,1]; depth maps (B,1,R,R).
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <string>

namespace fresnel::train {

struct LossConfig {
  double rgb_weight = 1.0, ssim_weight = 0.5, lpips_weight = 0.0, depth_weight = 0.1, residual_weight = 0.01;
  bool use_vlm = false;
  double vlm_weight = 0.5;
  bool boundary = false;
  int64_t num_zones = 8;
  double boundary_weight = 0.1;
  double wave_equation_weight = 0.0;
  double wavelength = 0.05;
  bool phase_retrieval = false;
  double phase_retrieval_weight = 0.1;
  double focal_depth = 0.5;
  bool frequency = false;
  double frequency_weight = 0.1, high_freq_weight = 2.0, frequency_cutoff = 0.1;
  bool tensegrity = false;
  double tensegrity_weight = 0.01;
  double depth_head_weight = 1.0;   // built-in encoder: supervised depth head
  double novel_view_weight = 1.0;   // multi-view supervision
  double mask_weight = 0.5;         // rendered alpha vs object mask (datasets with masks), every rendered view
};

// Per-pixel L1; with `weights` (B,1,R,R): mean(|r − t|·w).
torch::Tensor pixel_l1_loss(const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& weights = {});
// VLM pixel weights: (1 − vlm_weight) + vlm_weight·density (density in [0.5,1.5]), detached.
torch::Tensor vlm_pixel_weights(const torch::Tensor& density, double vlm_weight);
// Soft mask near uniform Fresnel zone boundaries: sigmoid((10/τ)(τ − min_k |d − b_k|)), b_k = k/n, τ = 0.02.
torch::Tensor fresnel_boundary_mask(const torch::Tensor& depth01, int64_t num_zones, double tau = 0.02);
// mean(mean_c |r − t| · mask).
torch::Tensor boundary_loss(const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& mask);
// L1 between depth maps standardised with batch-global mean/std (std ≥ 1e-4), as the original.
torch::Tensor standardized_depth_loss(const torch::Tensor& rendered, const torch::Tensor& target);
// Phase retrieval: φ = (2π/λ)|d − focal| from the target depth; U = √I·e^{iφ} per channel for render and target;
// MSE of |FFT2| (unnormalised FFT, as the original).
torch::Tensor phase_retrieval_loss(const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& depth01,
                                   const torch::Tensor& wavelength, double focal_depth);
// MSE(|F_r|,|F_t|) below the radial cutoff (cycles/pixel) + high_weight · MSE above it.
torch::Tensor frequency_loss(const torch::Tensor& r, const torch::Tensor& t, double cutoff, double high_weight);
// Helmholtz residual mean((∇²U + (2π/λ)²U)²), 4-neighbour Laplacian with h = 1/size.
torch::Tensor wave_equation_loss(const torch::Tensor& u, double wavelength);
// Tensegrity: distances to the 6 nearest neighbours vs 0.1·φ^{j/2}, MSE. positions (B,N,3).
torch::Tensor tensegrity_loss(const torch::Tensor& positions);

// The original's LearnableWavelengths with its saturation fixed (spec §6.5 OBS): λ = clamp(softplus(raw), 0.01,
// 0.5) with raw initialised to softplus⁻¹(λ₀), so λ starts at the requested values and gets gradients.
struct LearnableWavelengthsImpl : torch::nn::Module {
  LearnableWavelengthsImpl(double r = 0.0635, double g = 0.05, double b = 0.041);
  torch::Tensor forward();  // (3,)
  torch::Tensor raw;
};
TORCH_MODULE(LearnableWavelengths);

}  // namespace fresnel::train
