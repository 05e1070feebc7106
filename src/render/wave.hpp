// Coherent wave-field renderer (the original's QSR WaveFieldRenderer, spec §5.3), differentiable:
//   U_c(pixel) = Σ_i A_i · c_ic · e^{iφ_ic},  A_i = o_i · exp(power_i(pixel)),  intensity I_c = |U_c|².
// No sorting or occlusion (a coherent sum is order-free). Uses the same projection, 3σ support and
// 1/255 amplitude cut as the rasterizer, tile by tile, so no N·H·W buffer exists.
#pragma once
#include <torch/types.h>

#include <vector>

#include "core/camera.hpp"
#include "core/gaussians.hpp"
#include "render/render.hpp"

namespace fresnel {

struct WaveOutput {
  torch::Tensor intensity;  // (C,H,W,3) |U_c|² (unbounded; the caller normalises or composites)
  torch::Tensor coverage;   // (C,H,W) Σ_i A_i
};

// Requires gaussians.phases (N,3) in radians. Background and phase options of `options` are unused;
// sh_degree applies as in render().
WaveOutput render_wave(const Gaussians& gaussians, const std::vector<Camera>& cameras,
                       const RenderOptions& options = {});

}  // namespace fresnel
