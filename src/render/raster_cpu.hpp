// Internal interface of the CPU rasterizer (one scene, one camera per call): projection, tile binning,
// forward and backward kernels. The autograd Function in render.cpp strings these together.
#pragma once
#include <torch/types.h>

#include <array>
#include <vector>

#include "core/camera.hpp"

namespace fresnel::raster {

// Which compositing rule the kernels apply.
enum class BlendMode { kAlpha = 0, kPhase = 1 };

struct Settings {
  std::array<double, 3> background{0, 0, 0};
  int sh_degree = 0;  // degree actually evaluated (≤ what the colours carry)
  BlendMode mode = BlendMode::kAlpha;
  double phase_amplitude = 0.25;
  // Screen filter (RenderOptions::screen_filter): px² added to the 2D covariance; mip_filter also scales opacity.
  double filter_variance = 0.3;
  bool mip_filter = false;
};

// The Gaussians of one scene, contiguous, one dtype (float or double).
struct Inputs {
  torch::Tensor means, quats, scales, opacities;
  torch::Tensor colors;  // (N,3) plain RGB or (N,K,3) SH
  torch::Tensor phases;  // (N,3) or undefined
  bool has_sh() const { return colors.dim() == 3; }
};

// Everything the backward pass needs from the forward pass of one camera.
struct CameraState {
  torch::Tensor records;       // (M,R) packed per-Gaussian raster records of the M visible Gaussians, in depth
                               // order (rank); one 64-byte record per Gaussian keeps the tile loop cache-friendly
  torch::Tensor order;         // (M) int32: rank → Gaussian id
  torch::Tensor tile_offsets;  // (tiles+1) int64: entries of tile t are [off[t], off[t+1])
  torch::Tensor entries;       // (E) int32 ranks, per tile in depth order
  torch::Tensor final_T;       // (H,W) transmittance after the last contribution
  torch::Tensor last;          // (H,W) int32: 1 + position (within the tile list) of the last contribution
  torch::Tensor phasor;        // (H,W,6) Re/Im of U per channel (phase blending only)
};

// Saving a state for backward: kStateTensors tensors per camera (undefined ones become empty tensors).
constexpr size_t kStateTensors = 7;
inline void pack_state(const CameraState& st, std::vector<torch::Tensor>& out) {
  for (const auto* t : {&st.records, &st.order, &st.tile_offsets, &st.entries, &st.final_T, &st.last, &st.phasor})
    out.push_back(t->defined() ? *t : torch::empty({0}));
}
inline CameraState unpack_state(const std::vector<torch::Tensor>& v, size_t camera) {
  CameraState st;
  torch::Tensor* fields[] = {&st.records, &st.order, &st.tile_offsets, &st.entries, &st.final_T, &st.last, &st.phasor};
  for (size_t i = 0; i < kStateTensors; ++i) *fields[i] = v[camera * kStateTensors + i];
  return st;
}

struct ForwardOut {
  torch::Tensor rgb;          // (H,W,3)
  torch::Tensor alpha;        // (H,W)
  torch::Tensor depth_accum;  // (H,W)
  CameraState state;
};

struct Grads {
  torch::Tensor means, quats, scales, opacities, colors, phases;  // accumulated across cameras
};

ForwardOut forward(const Inputs& in, const Camera& cam, const Settings& s);
// Adds this camera's gradients into `g` (tensors preallocated with the inputs' shapes).
void backward(const Inputs& in, const Camera& cam, const Settings& s, const CameraState& st,
              const torch::Tensor& grad_rgb, const torch::Tensor& grad_alpha, const torch::Tensor& grad_depth_accum,
              Grads& g);

// The tile kernels use 256-bit SIMD lanes when the CPU has AVX2 (checked at run time) and 128-bit lanes
// otherwise. Forward results are bit-identical either way; gradients agree to float rounding (their
// per-lane partial sums are grouped differently). Tests limit the lanes to check the 128-bit path too.
void limit_lanes_to_128_bits(bool on);

// Projection and binning only (also used by the wave-field renderer).
CameraState project_and_bin(const Inputs& in, const Camera& cam, const Settings& s);

// Coherent wave-field renderer (QSR): U_c = Σ A_i c_ic e^{iφ_ic}, A_i = o_i·e^power (no occlusion).
struct WaveOut {
  torch::Tensor intensity;  // (H,W,3) |U_c|²
  torch::Tensor coverage;   // (H,W) Σ A_i
  torch::Tensor field;      // (H,W,6) Re/Im of U per channel (saved for backward)
  CameraState state;
};
WaveOut wave_forward(const Inputs& in, const Camera& cam, const Settings& s);
void wave_backward(const Inputs& in, const Camera& cam, const Settings& s, const WaveOut& fwd,
                   const torch::Tensor& grad_intensity, const torch::Tensor& grad_coverage, Grads& g);

}  // namespace fresnel::raster
