// SAAG — surface-aligned anisotropic Gaussians, the original's non-learned generator (spec §12.7,
// src/core/pointcloud.cpp), in our frame: pixels are unprojected through the camera intrinsics at the z given by
// the one depth mapping (decode::normalized_depth_to_z, or metric z), so SAAG and the learned decoders agree.
// The original normalised its cloud to extent 3; sizes here are relative to the cloud extent the same way
// (base_size · extent / 3), so the look is unchanged at any scale.
#pragma once
#include <torch/types.h>

#include "core/gaussians.hpp"
#include "decode/decoder_common.hpp"

namespace fresnel::decode {

struct SaagOptions {
  int subsample = 2;
  double base_size = 0.008;
  double aspect = 5.0;
  double edge_threshold = 0.15;
  double edge_shrink = 0.3;
  double min_confidence = 0.1;
  double normal_strength = 1.0;
  double opacity = 0.9;
  double gradient_scale = 50.0;
  bool volumetric_shell = true;
  double shell_thickness = 0.3;
  bool silhouette_wrap = true;
  bool adaptive_density = true;
  uint32_t seed = 12345;
  DepthMode depth_mode = DepthMode::Normalized;
  double depth_offset = kDefaultDepthOffset;
};

// image (3,H,W) in [0,1]; depth (H,W) (normalised, 1 = near, or metric z); intrinsics normalised (4,).
// Returns unbatched Gaussians. With the extras off and min_confidence 0 the count is fixed:
// ceil(H/subsample)·ceil(W/subsample) (used to batch experiment 1).
Gaussians saag_from_depth(const torch::Tensor& image, const torch::Tensor& depth, const torch::Tensor& intrinsics,
                          const SaagOptions& options = {});

// Options giving one surface Gaussian per sampled pixel (no extras, no confidence filter): a fixed count.
SaagOptions saag_fixed_count_options(int subsample, DepthMode mode);

}  // namespace fresnel::decode
