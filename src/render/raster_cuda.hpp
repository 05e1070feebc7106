// CUDA rasterizer entry points (built only when FRESNEL_WITH_CUDA): the same algorithm as raster_cpu.cpp
// for alpha blending in float32, sharing render/gaussian_math.hpp and render/constants.hpp. One thread per
// pixel, 16×16 blocks per tile, (tile, depth) keys sorted on the GPU; gradients are accumulated with
// atomics (so GPU gradients are not bit-deterministic, unlike the CPU path).
#pragma once
#include "render/raster_cpu.hpp"

namespace fresnel::raster {

ForwardOut forward_cuda(const Inputs& in, const Camera& cam, const Settings& s);
void backward_cuda(const Inputs& in, const Camera& cam, const Settings& s, const CameraState& st,
                   const torch::Tensor& grad_rgb, const torch::Tensor& grad_alpha,
                   const torch::Tensor& grad_depth_accum, Grads& g);

}  // namespace fresnel::raster
