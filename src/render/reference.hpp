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

// The twin's stages, exposed so that the stage-level tests (tests/render/test_render_stages.cpp) can say which
// stage of the fast kernels disagrees. Stage 1, projection: per Gaussian of one camera, differentiable where valid.
struct Projection {
  torch::Tensor u, v;                 // (N) projected centre in pixels
  torch::Tensor cov_a, cov_b, cov_c;  // (N) 2D covariance [[a, b], [b, c]], screen filter included
  torch::Tensor A, B, C;              // (N) conic [[A, B], [B, C]] = covariance⁻¹ (0 where not valid)
  torch::Tensor z;                    // (N) camera-space depth (1 where outside [near, far])
  torch::Tensor opacity;              // (N) × the Mip filter's opacity scale when that filter is on
  torch::Tensor color;                // (N,3) the RGB colours, or SH evaluated along the view direction
  torch::Tensor valid;                // (N) bool: in the depth range, finite and invertible, opacity ≥ 1/255
  torch::Tensor cosp, sinp;           // (N,3) cos and sin of the phases (only when the Gaussians carry them)
};
Projection project(const Gaussians& gaussians, const Camera& camera, const RenderOptions& options);

// Stage 2, the dense footprint over pixel rows [row_begin, row_end) (pixels row-major, P of them): amplitude
// o·e^power (N,P), and accepted (N,P), the pixel–Gaussian pairs that may contribute: a valid Gaussian, the pixel
// centre inside its 3σ ellipse and o·e^power ≥ 1/255. Amplitude is 0 where not accepted.
struct Footprint {
  torch::Tensor amplitude, accepted;
};
Footprint footprint(const Projection& projection, const Camera& camera, int row_begin, int row_end);

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
