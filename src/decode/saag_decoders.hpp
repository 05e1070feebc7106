// The SAAG-based learned decoders (spec §4.3), fed with SAAG Gaussians computed from the real depth map of each
// image (the original trained them on random dummy Gaussians when no `_saag.bin` existed):
//  - SAAGRefinementNet (experiment 1): samples the feature grid where each SAAG Gaussian projects in the input
//    camera, concatenates its 14 parameters, and an MLP [256,128] predicts 16 scaled residuals.
//  - FeatureGuidedSAAG (experiment 3): a zero-initialised per-patch head (C→64→6) predicting SAAG parameter
//    multipliers; the differentiable ones (base size, aspect, opacity) modulate each SAAG Gaussian.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/types.h>

#include "core/gaussians.hpp"
#include "decode/decoder.hpp"
#include "decode/saag.hpp"

namespace fresnel::decode {

// Bilinear samples of a (B,C,h,w) grid where camera-frame points (B,N,3) project through normalised intrinsics
// (B,4); border padding. Returns (B,N,C) and the projected normalised image coordinates (B,N,2).
std::pair<torch::Tensor, torch::Tensor> sample_features_at_points(const torch::Tensor& features,
                                                                  const torch::Tensor& points,
                                                                  const torch::Tensor& intrinsics);

// SAAG Gaussians (fixed count per image) for a batch, from images (B,3,S,S), depth (B,1,S,S) and normalised
// intrinsics (B,4); computed on the CPU, returned on the images' device.
Gaussians batch_saag(const torch::Tensor& images, const torch::Tensor& depth, const torch::Tensor& intrinsics,
                     const SaagOptions& options);

struct SaagRefinementOptions {
  int64_t feature_dim = 384;
  SaagOptions saag;  // how the SAAG Gaussians are built from the depth map
  std::vector<int64_t> hidden = {256, 128};
  double residual_scale = 0.1;
  double dropout = 0.1;
};

class SaagRefinementNetImpl : public GaussianDecoderImpl {
 public:
  explicit SaagRefinementNetImpl(SaagRefinementOptions options = {});
  DecoderKind kind() const override { return DecoderKind::SaagRefinement; }
  // Builds SAAG Gaussians from in.depth and in.images, then refines them.
  DecoderOutput forward(const DecoderInputs& in) override;
  // saag: batched Gaussians (B,N,…) in the input camera frame.
  DecoderOutput refine(const torch::Tensor& features, const Gaussians& saag, const torch::Tensor& intrinsics);
  const SaagRefinementOptions& options() const { return options_; }
  torch::nn::Sequential mlp{nullptr};
  torch::Tensor pos_scale, scale_scale, color_scale, opacity_scale;

 private:
  SaagRefinementOptions options_;
};
TORCH_MODULE(SaagRefinementNet);

struct FeatureGuidedOptions {
  int64_t feature_dim = 384;
  int64_t hidden = 64;
  SaagOptions saag;  // how the SAAG Gaussians are built from the depth map
};

// The multipliers (B,h,w) of experiment 3 that are applied to the SAAG Gaussians.
struct SaagModulation {
  torch::Tensor aspect, base_size, opacity;
};

class FeatureGuidedSaagImpl : public GaussianDecoderImpl {
 public:
  explicit FeatureGuidedSaagImpl(FeatureGuidedOptions options = {});
  DecoderKind kind() const override { return DecoderKind::FeatureGuidedSaag; }
  SaagModulation modulation(const torch::Tensor& features);
  // Builds SAAG Gaussians from in.depth and in.images, then modulates them.
  DecoderOutput forward(const DecoderInputs& in) override;
  // Applies the per-location base-size / aspect / opacity multipliers to SAAG Gaussians (B,N,…).
  DecoderOutput modulate(const torch::Tensor& features, const Gaussians& saag, const torch::Tensor& intrinsics);
  torch::nn::Sequential head{nullptr};

 private:
  FeatureGuidedOptions options_;
};
TORCH_MODULE(FeatureGuidedSaag);

}  // namespace fresnel::decode
