// Anti-aliasing for Gaussians predicted at one resolution and shown at any other: Mip-Splatting's 3D smoothing
// filter (Yu et al., CVPR 2024), baked into the Gaussians so that every renderer and file format gets it.
//
// A model trained at S×S pixels never sees detail finer than its pixel footprint z/f (z the depth, f the focal
// length in pixels at S): training renders add the rasterizer's 0.3 px² screen-space low-pass, so nothing stops
// pixel-aligned Gaussians from shrinking below the pixel spacing. Rendered larger (2×, 4×, a viewer) they fall
// apart into a grid of dots. The filter convolves each Gaussian with an isotropic 3D Gaussian of variance
//   σ² = variance_px2 · (z / f)²           (variance_px2 in pixels² of the training resolution)
// i.e. Σ' = Σ + σ²I. With Σ = R·diag(s²)·Rᵀ this is exactly s' = √(s² + σ²) with R unchanged, so the result is
// stored in any file as ordinary scales ("the scale it implies"). Mip-Splatting also scales opacity by
// √(det Σ / det Σ') = Π s/s' so that the filter blurs a Gaussian without adding to its integral (a sub-pixel
// Gaussian becomes a faint pixel-sized one instead of an opaque one): `compensate_opacity`, what a model trained
// with the filter uses (train --antialias). Added after training (infer --antialias on a model trained without it)
// opacity is kept: compensation would erase the small Gaussians such a model relies on (docs/inference.md,
// "Anti-aliasing").
#pragma once
#include "core/camera.hpp"
#include "core/gaussians.hpp"

namespace fresnel {

// Default variance: the training-time 0.3 px² low-pass, moved from screen space into 3D.
constexpr double kDefaultSmoothingVariancePx2 = 0.3;

// `camera`: the camera the Gaussians were predicted for, at the resolution the model was trained at. Gaussians
// behind it (z ≤ near) are left unchanged. variance_px2 ≤ 0 returns the input.
Gaussians apply_smoothing_filter(const Gaussians& g, const Camera& camera, double variance_px2,
                                 bool compensate_opacity = false);
// The same for (possibly batched) Gaussians in their input camera's frame (camera at the origin looking along +z),
// as a model predicts them: focal_px is (B,) or a scalar, the focal length in pixels at the training resolution.
// Differentiable in the scales, so a model can be trained with the filter in place (train --antialias).
Gaussians apply_smoothing_filter_input_frame(const Gaussians& g, const torch::Tensor& focal_px, double variance_px2,
                                             bool compensate_opacity = false);

}  // namespace fresnel
