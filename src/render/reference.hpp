// Reference twin of the rasterizer, FOR TESTS AND BENCHMARK COMPARISONS ONLY: a dense implementation
// written with plain libtorch ops (autograd gives its gradients). It evaluates every Gaussian at every
// pixel, so its memory is O(N·pixels): never use it to render real scenes. The tests hold the fast
// kernels equal to it, forward and backward.
#pragma once
#include <torch/types.h>

#include <vector>

#include "core/camera.hpp"
#include "core/gaussians.hpp"
#include "render/render.hpp"
#include "render/wave.hpp"

namespace fresnel::reference {

// Rows [row_begin, row_end) of one camera's image (row_end < 0: to the bottom). Output shapes
// rgb (R,W,3), alpha (R,W), depth_accum (R,W), depth (R,W).
RenderOutput render_rows(const Gaussians& gaussians, const Camera& camera, const RenderOptions& options,
                         int row_begin = 0, int row_end = -1);

// Same contract as fresnel::render (unbatched Gaussians, several cameras).
RenderOutput render(const Gaussians& gaussians, const std::vector<Camera>& cameras, const RenderOptions& options = {});

// Same contract as fresnel::render_wave.
WaveOutput render_wave(const Gaussians& gaussians, const std::vector<Camera>& cameras,
                       const RenderOptions& options = {});

}  // namespace fresnel::reference
