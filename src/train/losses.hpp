// Loss terms of decoder training (spec §6.5), each a small function so tests can check it alone, and
// `compute_losses`: the one place that decides which terms a step has and how they are weighted. Images are
// (B,3,R,R) in [0,1]; depth maps (B,1,R,R).
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace fresnel {
class Lpips;
}

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
  double depth_head_weight = 1.0;  // built-in encoder: supervised depth head
  double depth_grad_weight = 0.0;  // built-in encoder: gradient matching of the depth head (sharp edges)
  bool depth_all_views = false;    // built-in encoder: also supervise the depth head on the other views loaded
  double novel_view_weight = 1.0;  // multi-view supervision
  double mask_weight = 0.5;        // rendered alpha vs object mask (datasets with masks), every rendered view

  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("rgb_weight", c.rgb_weight);
    visit("ssim_weight", c.ssim_weight);
    visit("lpips_weight", c.lpips_weight);
    visit("depth_weight", c.depth_weight);
    visit("residual_weight", c.residual_weight);
    visit("use_vlm", c.use_vlm);
    visit("vlm_weight", c.vlm_weight);
    visit("boundary", c.boundary);
    visit("num_zones", c.num_zones);
    visit("boundary_weight", c.boundary_weight);
    visit("wave_equation_weight", c.wave_equation_weight);
    visit("wavelength", c.wavelength);
    visit("phase_retrieval", c.phase_retrieval);
    visit("phase_retrieval_weight", c.phase_retrieval_weight);
    visit("focal_depth", c.focal_depth);
    visit("frequency", c.frequency);
    visit("frequency_weight", c.frequency_weight);
    visit("high_freq_weight", c.high_freq_weight);
    visit("frequency_cutoff", c.frequency_cutoff);
    visit("tensegrity", c.tensegrity);
    visit("tensegrity_weight", c.tensegrity_weight);
    visit("depth_head_weight", c.depth_head_weight);
    visit("depth_grad_weight", c.depth_grad_weight);
    visit("depth_all_views", c.depth_all_views);
    visit("novel_view_weight", c.novel_view_weight);
    visit("mask_weight", c.mask_weight);
  }
};
// JSON through LossConfig's field table (train/config_fields.hpp): every field, by its name.
void to_json(nlohmann::json& j, const LossConfig& c);
void from_json(const nlohmann::json& j, LossConfig& c);

// What a step hands to compute_losses. Undefined tensors switch their terms off.
struct LossInputs {
  torch::Tensor rendered, target;  // (B,3,R,R): the supervised view (the input view, or multi-pose's view)
  torch::Tensor pixel_weights;     // (B,1,R,R) VLM weights of the L1 term, or undefined
  torch::Tensor rendered_depth;    // (B,1,R,R) accumulated depth of the supervised view
  torch::Tensor target_depth;      // (B,1,R,R) camera z of the supervised view
  torch::Tensor depth01;           // (B,1,R,R) its normalised depth (1 = near): zones, phase retrieval
  torch::Tensor wavelength;        // λ for phase retrieval (learnable); undefined = LossConfig::wavelength
  torch::Tensor residuals;         // decoder residuals (SAAG refinement)
  torch::Tensor means;             // (B,N,3) Gaussian positions (tensegrity)
  torch::Tensor predicted_depth, depth_target, depth_valid;  // (B,1,S,S) built-in depth head, its target, 0/1 mask
  torch::Tensor novel_rendered, novel_target;                // (B·V,3,R,R) other views
  torch::Tensor alpha, masks;                                // (B,C,R,R) alpha and object masks of every view
  const Lpips* lpips = nullptr;                              // needed when lpips_weight > 0
};

// Weighted loss terms by name ("rgb", "ssim", …) and their sum.
struct LossTerms {
  std::map<std::string, torch::Tensor> terms;
  torch::Tensor total;
  std::map<std::string, double> values() const;  // every term and "total", as numbers
};

// The terms a step has: "rgb" always; the others when their weight (or switch) is on and their inputs are given.
// Throws fresnel::UsageError when lpips_weight > 0 and no LPIPS network is given.
LossTerms compute_losses(const LossConfig& config, const LossInputs& inputs);

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
// Multi-scale gradient matching (MiDaS's L_grad, on metric depth): at scales 1, 1/2, …, the mean absolute x and y
// differences of the error (pred − target) over pixel pairs that are both valid. Zero for a prediction that is the
// target plus a constant; it penalises smeared or misplaced edges that a per-pixel L1 barely sees. (B,1,H,W).
torch::Tensor depth_gradient_loss(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& valid,
                                  int64_t scales = 3);
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
