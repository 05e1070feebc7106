// CVS loss terms (spec §9.2). Images are (B,3,S,S) in [−1,1], depth maps (B,1,S,S).
//  - ConsistencyLoss (default): λ_rec·L1(x̂0, x0) + λ_perc·L1(φ(x̂0), φ(x0)) with φ a frozen, randomly initialised
//    VGG-like stack, + λ_cons·MSE(x̂0, EMA(x_{t−1}, t−1)).
//  - QualityAwareCVSLoss (--use_gaussian_targets): λ_l1·mean(|x̂0 − y|·q) with the depth-Laplacian quality mask q,
//    + λ_perc·LPIPS(x̂0, y) when LPIPS weights are given, + w_c·L1(x̂0, EMA prediction), + λ_boundary·boundary
//    + λ_gradient·TV(x̂0, q); w_c = λ_cons × (0.1 / 0.3 / 1.0 over the thirds of training) when progressive.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/types.h>

#include <memory>

#include "train/losses.hpp"

namespace fresnel {
class Lpips;
}

namespace fresnel::synthesis {

struct CvsLossConfig {
  double lambda_consistency = 1.0, lambda_reconstruction = 1.0, lambda_perceptual = 0.5;
  bool use_gaussian_targets = false;  // QualityAwareCVSLoss
  bool quality_weighting = true, progressive_consistency = true;
  double lambda_boundary = 0.0, lambda_gradient = 0.0;
  double quality_threshold = 0.01, quality_sharpness = 100.0;

  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("lambda_consistency", c.lambda_consistency);
    visit("lambda_reconstruction", c.lambda_reconstruction);
    visit("lambda_perceptual", c.lambda_perceptual);
    visit("use_gaussian_targets", c.use_gaussian_targets);
    visit("quality_weighting", c.quality_weighting);
    visit("progressive_consistency", c.progressive_consistency);
    visit("lambda_boundary", c.lambda_boundary);
    visit("lambda_gradient", c.lambda_gradient);
    visit("quality_threshold", c.quality_threshold);
    visit("quality_sharpness", c.quality_sharpness);
  }
};

// |4-neighbour Laplacian| with wrap-around (torch.roll) borders, as the original.
torch::Tensor depth_laplacian(const torch::Tensor& depth);
// sigmoid(−sharpness·(|∇²depth| − threshold)): 1 on smooth surfaces, → 0 at depth discontinuities.
torch::Tensor quality_mask(const torch::Tensor& depth, double threshold = 0.01, double sharpness = 100.0);
// mean(|∂x img|·q) + mean(|∂y img|·q) (q undefined: unweighted).
torch::Tensor gradient_penalty(const torch::Tensor& image, const torch::Tensor& mask = {});
// mean over x-edges of err·[|Δx depth| > 0.01] + the same over y-edges; err = channel-mean |pred − target|.
torch::Tensor boundary_loss(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& depth);
// 0.1 for epoch/epochs < 0.33, 0.3 below 0.66, else 1.0.
double progressive_consistency_weight(int64_t epoch, int64_t epochs);

// φ: conv 3→64→64, pool, 64→128→128, pool, 128→256, ReLU after each conv; weights drawn from `seed` (PyTorch's
// default U(±1/√fan_in)) and never optimised.
class PerceptualStackImpl : public torch::nn::Module {
 public:
  explicit PerceptualStackImpl(uint64_t seed);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(PerceptualStack);

// x_{t−1} = α_{t−1}·x̂0 + (1 − α_{t−1})/(1 − α_t + 1e-8)·(x_t − α_t·x̂0), α = √ᾱ, clamped to [−1,1], detached.
torch::Tensor consistency_step_back(const torch::Tensor& x0_pred, const torch::Tensor& x_t,
                                    const torch::Tensor& alpha_t, const torch::Tensor& alpha_prev);

struct CvsLossInputs {
  torch::Tensor pred, target;  // x̂0 and the target view
  torch::Tensor ema_pred;      // EMA prediction (undefined: no consistency term)
  torch::Tensor target_depth;  // quality-aware loss only
  int64_t epoch = 0, epochs = 1;
};

// The weighted terms of one batch: "l1" (or "l1_weighted"), "perceptual", "consistency", "boundary",
// "gradient" and their sum. `perceptual` is φ for ConsistencyLoss; `lpips` (may be null) for the quality-aware
// loss.
train::LossTerms cvs_losses(const CvsLossConfig& config, const CvsLossInputs& in, PerceptualStack* perceptual,
                            const Lpips* lpips);

}  // namespace fresnel::synthesis
