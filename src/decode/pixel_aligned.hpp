// The pixel-aligned parameterisation of experiment 2's raw outputs (ours; DirectPatchDecoderOptions::pixel_aligned).
// Raw slots are those of the original (spec §4.2) with a different meaning where noted:
//   [0:2] offset of the ray in patch units (the original: in normalised image units),
//   [2]   depth offset: z = z_surface · e^(raw/4) (the original's z slot, unused by the patch decoder),
//   [3:6] log-scale relative to the patch footprint z/f,
//   [12:15] colour logit residual on the input image's colour at the patch, [15] opacity logit.
#pragma once
#include <torch/types.h>

#include "decode/decoder_common.hpp"

namespace fresnel::decode {

struct PixelAlignedParams {
  torch::Tensor means, scales, colors, opacities;  // (B,h,w,K,·)
  torch::Tensor normalized_depth;                  // (B,1,h,w), 1 = near (edges, zones)
};

// raw (B,h,w,K,P); images (B,3,H,W); depth (B,1,H,W) or undefined; intrinsics (B,4) normalised.
// scale_floor: smallest scale as a fraction of the footprint (0: none). Below about half a pixel the renderer's
// 0.3 px² low-pass hides a Gaussian's size, so nothing in the loss keeps scales from drifting to the minimum; the
// render is unchanged at the training resolution, but a closer or larger view shows dots. A floor keeps them
// splats: scale = footprint · (floor + (0.3 − floor) · e^raw), still 0.3 at raw = 0.
PixelAlignedParams pixel_aligned_params(const torch::Tensor& raw, const torch::Tensor& images,
                                        const torch::Tensor& depth, const torch::Tensor& intrinsics, DepthMode mode,
                                        const torch::Tensor& depth_offset, double scale_floor = 0.0);

// Sets the decoder's last layer (out = K·P) so that raw outputs start near zero with per-slot biases: slot 0
// opaque on the surface, slots ≥ 1 faint and behind it.
void init_pixel_aligned_head(torch::nn::Linear& last, int64_t gaussians_per_patch, int64_t params_per_gaussian);

// Scale of a Gaussian relative to its patch footprint when its raw log-scale is 0 (the unprojected-pixels
// baseline's 0.25 of a pixel plus margin for the coarser grids).
constexpr double kPixelScaleFactor = 0.3;

}  // namespace fresnel::decode
