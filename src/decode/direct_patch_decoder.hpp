// DirectPatchDecoder (the original's experiment 2, spec §4.2): a per-patch MLP maps each cell of a feature grid
// (B,C,h,w) — DINOv2's 37×37 or the built-in encoder's — to K Gaussians. Our fix of the original's geometry
// (spec §3 OBS): with zero position offsets a Gaussian sits on the ray through its patch centre in the input
// camera at the depth given by the depth map, so it projects onto that centre (pixel-aligned) and nearer depth
// means nearer Gaussians. Everything is in the input camera's frame (OpenCV axes, camera at the origin).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/types.h>

#include <optional>
#include <vector>

#include "core/gaussians.hpp"
#include "decode/decoder_common.hpp"

namespace fresnel::decode {

struct DirectPatchDecoderOptions {
  int64_t feature_dim = 384;
  int64_t gaussians_per_patch = 4;                     // K (the original's class default is 8, its trainer passes 4)
  std::vector<int64_t> hidden = {512, 512, 256, 128};  // the original's MLP
  double dropout = 0.1;
  bool use_fresnel_zones = false;
  int64_t num_fresnel_zones = 8;
  bool use_edge_aware = false;
  double edge_scale_factor = 0.5;
  double edge_opacity_boost = 0.2;
  bool use_phase_output = false;
  bool use_pose_encoding = false;
  int64_t pose_embed_dim = 64;
  bool use_depth_fusion = false;
  int64_t depth_feature_dim = 64;
  DepthMode depth_mode = DepthMode::Normalized;
  double position_offset_scale = 0.25;  // offsets in normalised image coordinates [−1,1], as the original's grid
  // Pixel-aligned parameterisation (ours, docs/training.md "Pixel-aligned decoding"): meant for a feature grid at
  // image resolution (the built-in encoder's `feature_grid`). Colours are residuals on the input image's colour
  // at the patch, scales are multiples of the patch footprint, each Gaussian has a depth offset along its ray,
  // and the last layer starts near zero, so an untrained decoder reproduces the unprojected-pixels baseline
  // (slot 0 opaque on the surface, slots ≥ 1 faint and behind it, free to learn what the input view hides).
  bool pixel_aligned = false;
  double pixel_scale_floor = 0.0;  // smallest scale / footprint in pixel-aligned mode (decode/pixel_aligned.hpp)
};

// Per-Gaussian raw output slots (spec §4.2): [0:3] pos, [3:6] scale, [6:12] rot6d, [12:15] colour, [15] opacity,
// [16:19] phase (only with phase output).
constexpr int64_t kRawParams = 16;
constexpr int64_t kRawParamsWithPhase = 19;

struct DecoderOutput {
  Gaussians gaussians;          // batched (B,N,…), N = h·w·K, flattened (row, col, k)
  torch::Tensor edge_strength;  // (B,1,h,w) when edge-aware
  torch::Tensor residuals;      // experiment 1: concatenated raw deltas (for the residual loss)
};

struct DecoderInputs {
  torch::Tensor features;     // (B,C,h,w)
  torch::Tensor depth;        // (B,1,H,W) optional; normalised (1 = near) or metric z, see DepthMode
  torch::Tensor intrinsics;   // (B,4) normalised (fx/W, fy/H, cx/W, cy/H); default kDefaultNormalizedIntrinsics
  std::optional<int64_t> num_gaussians;  // HFTS: keep the first k of K per patch
  torch::Tensor elevation, azimuth;      // (B,) radians, for the pose encoding
  torch::Tensor images;                  // (B,3,H,W) in [0,1]; required in pixel-aligned mode (colour residuals)
};

class DirectPatchDecoderImpl : public torch::nn::Module {
 public:
  explicit DirectPatchDecoderImpl(DirectPatchDecoderOptions options = {});
  DecoderOutput forward(const DecoderInputs& in);
  // Raw MLP output (B,h,w,K,P), before activations; exposed for tests and exporters.
  torch::Tensor raw_outputs(const torch::Tensor& features, const torch::Tensor& depth);
  // Turns raw outputs (B,h,w,k,P) into Gaussians (the activations and geometry of spec §4.2, our frame).
  DecoderOutput activate(const torch::Tensor& raw, const DecoderInputs& in);

  const DirectPatchDecoderOptions& options() const { return options_; }
  int64_t params_per_gaussian() const { return options_.use_phase_output ? kRawParamsWithPhase : kRawParams; }

  torch::nn::Sequential mlp{nullptr};
  DepthEncoder depth_encoder{nullptr};
  EdgeDetector edge_detector{nullptr};
  PoseEncoder pose_encoder{nullptr};
  torch::nn::Sequential pose_modulator{nullptr};
  torch::Tensor depth_offset;  // learnable, init 2 (see normalized_depth_to_z)

 private:
  DirectPatchDecoderOptions options_;
};
TORCH_MODULE(DirectPatchDecoder);

// Depth resampled to the feature grid (bilinear, align_corners = false) and mapped to camera z, plus the
// normalised depth used by zones and edges. depth: (B,1,H,W).
struct GridDepth {
  torch::Tensor z;           // (B,1,h,w) camera z
  torch::Tensor normalized;  // (B,1,h,w) in [0,1], 1 = near
};
GridDepth grid_depth(const torch::Tensor& depth, int64_t h, int64_t w, DepthMode mode,
                     const torch::Tensor& depth_offset, bool snap_zones, int64_t num_zones);

// Metric depth (B,1,H,W) (≤ 0 = background) on an h×w grid for pixel-aligned Gaussians: each cell takes its
// nearest surface (no blending of object and background into mid-air points); background cells are put one
// object radius behind the farthest surface of their image, where black Gaussians hide nothing.
torch::Tensor surface_grid_depth(const torch::Tensor& depth, int64_t h, int64_t w);

}  // namespace fresnel::decode
