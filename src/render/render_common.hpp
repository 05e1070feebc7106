// Helpers shared by the rasterizer and wave-field autograd Functions (input checks, dtype handling,
// saving cameras and settings for the backward pass). Internal to src/render/.
#pragma once
#include <torch/csrc/autograd/custom_function.h>
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

// What both autograd Functions keep for backward: the six Gaussian tensors (as given to make_inputs), the
// per-camera raster states (raster::pack_state), the cameras and the settings.
void save_for_backward(torch::autograd::AutogradContext* ctx, const std::vector<torch::Tensor>& gaussian_tensors,
                       const std::vector<torch::Tensor>& states, const std::vector<Camera>& cams,
                       const raster::Settings& settings);
struct SavedForBackward {
  std::vector<torch::Tensor> tensors;  // means, quats, scales, opacities, colors, phases
  raster::Inputs in;
  std::vector<Camera> cams;
  raster::Settings settings;
  std::vector<torch::Tensor> states;
  raster::Grads grads;  // zeros shaped like the inputs, for the kernels to accumulate into
};
SavedForBackward load_saved(torch::autograd::AutogradContext* ctx);
// An output's incoming gradient as a contiguous tensor of the inputs' dtype, or zeros of `shape` when autograd
// passes none (that output was not used).
torch::Tensor grad_or_zeros(const torch::Tensor& grad, at::IntArrayRef shape, const torch::TensorOptions& opt);

// Σw·z / α where α > 0, else 0 (gradient-safe).
torch::Tensor expected_depth(const torch::Tensor& depth_accum, const torch::Tensor& alpha);

}  // namespace fresnel::render_detail
