// The one decoder interface: every Gaussian decoder maps DecoderInputs (features, depth, images, intrinsics) to
// batched Gaussians in the input camera's frame (OpenCV axes, camera at the origin). Callers (the model, export,
// decode) hold a GaussianDecoder and ask it, never a per-kind member. decoder_factory.hpp builds them.
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

#include <optional>

#include "core/gaussians.hpp"

namespace fresnel::decode {

// The decoder families; the values are the original's `--experiment` numbers, kept in checkpoints and file names
// (decoder_exp{N}_*.pt).
enum class DecoderKind : int {
  SaagRefinement = 1,     // experiment 1: MLP residuals on SAAG Gaussians
  DirectPatch = 2,        // experiment 2: per-patch MLP → K Gaussians (+ pixel-aligned mode)
  FeatureGuidedSaag = 3,  // experiment 3: per-patch multipliers of SAAG parameters
};

struct DecoderInputs {
  torch::Tensor features;    // (B,C,h,w)
  torch::Tensor depth;       // (B,1,H,W); normalised (1 = near) or metric z, see DepthMode. SAAG decoders need it
  torch::Tensor intrinsics;  // (B,4) normalised (fx/W, fy/H, cx/W, cy/H); undefined = the default camera
  std::optional<int64_t> num_gaussians;  // HFTS: keep the first k of K per patch (direct patch decoder)
  torch::Tensor elevation, azimuth;      // (B,) radians, for the pose encoding
  torch::Tensor images;                  // (B,3,H,W) in [0,1]; SAAG colours and pixel-aligned colour residuals need it
};

struct DecoderOutput {
  Gaussians gaussians;          // batched (B,N,…)
  torch::Tensor edge_strength;  // (B,1,h,w) when edge-aware
  torch::Tensor residuals;      // SAAG refinement: concatenated raw deltas (for the residual loss)
};

class GaussianDecoderImpl : public torch::nn::Module {
 public:
  virtual DecoderKind kind() const = 0;
  virtual DecoderOutput forward(const DecoderInputs& in) = 0;
};

}  // namespace fresnel::decode
