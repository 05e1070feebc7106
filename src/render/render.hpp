// Differentiable tile-based Gaussian rasterizer (public API). See docs/architecture.md.
// One scene seen by several cameras, or a batch of scenes each with its cameras. All cameras of a call
// share one image size. Differentiable w.r.t. means, quats, scales, opacities, colors (RGB or SH), phases.
#pragma once
#include <torch/types.h>

#include <array>
#include <vector>

#include "core/camera.hpp"
#include "core/gaussians.hpp"
#include "render/screen_filter.hpp"

namespace fresnel {

struct RenderOptions {
  std::array<float, 3> background{0.f, 0.f, 0.f};
  int sh_degree = -1;           // -1: every degree the Gaussians carry
  bool phase_blending = false;  // the original's --use_phase_blending, per-channel (spec §5.2)
  float phase_amplitude = 0.25f;
  ScreenFilter screen_filter;  // dilation 0.3 px² (3DGS) unless the Gaussians were trained with the Mip filter
};

struct RenderOutput {
  torch::Tensor rgb;          // (C,H,W,3)   or (B,C,H,W,3) for a batch of scenes
  torch::Tensor alpha;        // (C,H,W)     or (B,C,H,W)
  torch::Tensor depth;        // expected depth Σ w·z / α (0 where α = 0)
  torch::Tensor depth_accum;  // accumulated depth Σ w·z
};

// One scene (unbatched Gaussians) seen by every camera in `cameras`.
RenderOutput render(const Gaussians& gaussians, const std::vector<Camera>& cameras, const RenderOptions& options = {});

// A batch of scenes (B,N,…); cameras[b] are the cameras of scene b (same count for every scene).
RenderOutput render_batch(const Gaussians& gaussians, const std::vector<std::vector<Camera>>& cameras,
                          const RenderOptions& options = {});

}  // namespace fresnel
