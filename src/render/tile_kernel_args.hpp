// Arguments of the tile kernels, grouped by role: one camera's tile lists, and the per-pixel images a pass writes
// or reads. The CPU kernels (raster_cpu.cpp, wave_cpu.cpp) and the CUDA kernels (raster_cuda.cu) take these
// instead of long runs of same-typed pointers, which a call could swap unnoticed. They are plain structs of
// pointers passed by value: the CPU kernels are inlined into their drivers, so the fields stay in registers.
#pragma once
#include <cstdint>

#include "core/camera.hpp"
#include "render/gaussian_math.hpp"
#include "render/raster_cpu.hpp"

namespace fresnel::raster {

// One camera's tile lists and image size: the entries of tile t are [offsets[t], offsets[t+1]), and entry k is the
// packed record (record_width values) of the Gaussian of rank entries[k].
template <typename S>
struct TileLists {
  const S* records;
  int record_width;
  const int64_t* offsets;
  const int32_t* entries;
  int width, height;

  FRESNEL_HD const S* record_of(int64_t k) const { return records + int64_t(entries[k]) * record_width; }
};

// Per-pixel outputs of alpha blending.
template <typename S>
struct BlendImages {
  S* rgb;          // (H,W,3)
  S* alpha;        // (H,W)
  S* depth_accum;  // (H,W)
  S* final_T;      // (H,W) transmittance after the last contribution
  int32_t* last;   // (H,W) 1 + position (within the tile list) of the last contribution
  S* phasor;       // (H,W,6), phase blending only (else null)
};

// What the alpha-blending backward reads per pixel: the forward's saved state and the incoming gradients.
template <typename S>
struct BlendGradInputs {
  const S* final_T;
  const int32_t* last;
  const S* phasor;  // phase blending only (else null)
  const S* grad_rgb;
  const S* grad_alpha;
  const S* grad_depth_accum;
};

template <typename S>
TileLists<S> tile_lists(const CameraState& st, const Camera& cam) {
  return {st.records.data_ptr<S>(),
          int(st.records.size(1)),
          st.tile_offsets.data_ptr<int64_t>(),
          st.entries.data_ptr<int32_t>(),
          cam.width,
          cam.height};
}

// The phasor image exists only with phase blending (a state restored for backward holds an empty tensor instead).
template <typename S>
S* phasor_of(const CameraState& st, const Settings& s) {
  return s.mode == BlendMode::kPhase ? st.phasor.data_ptr<S>() : nullptr;
}

// The images of `out`, whose tensors (and the state's final_T, last and phasor) are allocated.
template <typename S>
BlendImages<S> blend_images(ForwardOut& out, const Settings& s) {
  CameraState& st = out.state;
  return {out.rgb.data_ptr<S>(),    out.alpha.data_ptr<S>(),     out.depth_accum.data_ptr<S>(),
          st.final_T.data_ptr<S>(), st.last.data_ptr<int32_t>(), phasor_of<S>(st, s)};
}

template <typename S>
BlendGradInputs<S> blend_grad_inputs(const CameraState& st, const Settings& s, const torch::Tensor& grad_rgb,
                                     const torch::Tensor& grad_alpha, const torch::Tensor& grad_depth_accum) {
  return {st.final_T.data_ptr<S>(), st.last.data_ptr<int32_t>(), phasor_of<S>(st, s),
          grad_rgb.data_ptr<S>(),   grad_alpha.data_ptr<S>(),    grad_depth_accum.data_ptr<S>()};
}

}  // namespace fresnel::raster
