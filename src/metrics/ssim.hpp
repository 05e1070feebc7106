// Structural similarity (SSIM) as a metric and as a differentiable loss.
//
// Definition (Wang et al. 2004, as in the 3DGS reference `utils/loss_utils.py` and the original's
// `visual_eval.compute_ssim`): 11×11 Gaussian window with σ = 1.5 (normalised to sum 1), C1 = 0.01², C2 = 0.03²
// (data range 1), local statistics by a per-channel "same" convolution with ZERO padding (so border windows
// see zeros, exactly like the reference), SSIM map averaged over channels and pixels.
//
// Two implementations held equal by tests (the gsplat habit):
//   * fused:     one CPU kernel per (image, channel) plane, separable window, forward and analytic backward,
//                wrapped in a torch::autograd::Function; gradient flows to `prediction` only (the target is data);
//   * reference: plain tensor ops (conv2d), differentiable by autograd; the readable twin.
#pragma once
#include <torch/types.h>

namespace fresnel {

constexpr int kSsimWindow = 11;
constexpr double kSsimSigma = 1.5;
constexpr double kSsimC1 = 0.01 * 0.01;
constexpr double kSsimC2 = 0.03 * 0.03;

// The normalised 1-D Gaussian window (11 values, sum 1) in the given dtype; the 2-D window is its outer product.
torch::Tensor ssim_gaussian_window_1d(torch::Dtype dtype = torch::kFloat32);

// Per-image mean SSIM, (B,) for inputs (B,C,H,W) in [0,1] (float32 or float64, CPU). Fused kernel.
// Differentiable w.r.t. `prediction`. Throws fresnel::Error on mismatched or non-4-D shapes.
torch::Tensor ssim_per_image(const torch::Tensor& prediction, const torch::Tensor& target);
// Mean SSIM over the batch (scalar). Fused kernel.
torch::Tensor ssim(const torch::Tensor& prediction, const torch::Tensor& target);
// Training loss 1 − SSIM (scalar). Fused kernel.
torch::Tensor ssim_loss(const torch::Tensor& prediction, const torch::Tensor& target);

// Reference twin: the SSIM map (B,C,H,W) and the per-image mean (B,), from conv2d; differentiable by autograd
// w.r.t. both inputs. Any device.
torch::Tensor ssim_map_reference(const torch::Tensor& prediction, const torch::Tensor& target);
torch::Tensor ssim_per_image_reference(const torch::Tensor& prediction, const torch::Tensor& target);

}  // namespace fresnel
