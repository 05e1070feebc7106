// Helpers shared by the rasterizer and wave-field autograd Functions (input checks, dtype handling,
// saving cameras and settings for the backward pass). Internal to src/render/.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/camera.hpp"
#include "core/gaussians.hpp"
#include "render/raster_cpu.hpp"
#include "render/render.hpp"

namespace fresnel::render_detail {

// Shape/dtype checks that cost no pass over the data; throws fresnel::Error naming the field.
void check_call(const std::string& where, const Gaussians& g, const std::vector<Camera>& cams, bool batched);
// The SH degree actually evaluated and the compositing mode.
raster::Settings settings_for(const Gaussians& g, const RenderOptions& options, bool phase_mode);
// means, quats, scales, opacities, colors, phases (empty tensor when unused): one floating dtype, contiguous.
std::vector<torch::Tensor> prepare_tensors(const Gaussians& g, bool need_phases);
raster::Inputs make_inputs(const torch::Tensor& means, const torch::Tensor& quats, const torch::Tensor& scales,
                           const torch::Tensor& opacities, const torch::Tensor& colors, const torch::Tensor& phases);
raster::Grads zero_grads(const raster::Inputs& in);

torch::Tensor encode_cameras(const std::vector<Camera>& cams);
std::vector<Camera> decode_cameras(const torch::Tensor& t);
torch::Tensor encode_settings(const raster::Settings& s);
raster::Settings decode_settings(const torch::Tensor& t);

// Σw·z / α where α > 0, else 0 (gradient-safe).
torch::Tensor expected_depth(const torch::Tensor& depth_accum, const torch::Tensor& alpha);

}  // namespace fresnel::render_detail
