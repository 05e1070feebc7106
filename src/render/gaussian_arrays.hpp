// The Gaussians of one scene and their gradients as raw arrays, for the per-Gaussian kernels (projection and its
// backward: raster_binning.cpp, raster_gradients.cpp, raster_cuda.cu), which take these instead of a dozen
// positional pointers.
#pragma once
#include <cstdint>

#include "render/gaussian_math.hpp"
#include "render/raster_cpu.hpp"

namespace fresnel::raster {

template <typename S>
struct GaussianArrays {
  const S* means;      // (N,3)
  const S* quats;      // (N,4)
  const S* scales;     // (N,3)
  const S* opacities;  // (N)
  const S* colors;     // (N,3) RGB, or (N,K,3) SH coefficients
  const S* phases;     // (N,3), or null
  int64_t color_rows;  // K (1 for RGB)
  bool sh;             // colours are SH coefficients
  int sh_degree;       // the degree evaluated (≤ what the colours carry)

  FRESNEL_HD const S* colors_of(int64_t i) const { return colors + i * color_rows * 3; }
};

// Gradient arrays shaped like the Gaussians' (phases null when they have none); the kernels add into them.
template <typename S>
struct GaussianGradArrays {
  S* means;
  S* quats;
  S* scales;
  S* opacities;
  S* colors;
  S* phases;
};

template <typename S>
GaussianArrays<S> gaussian_arrays(const Inputs& in, const Settings& s) {
  const bool sh = in.has_sh();
  return {in.means.data_ptr<S>(),
          in.quats.data_ptr<S>(),
          in.scales.data_ptr<S>(),
          in.opacities.data_ptr<S>(),
          in.colors.data_ptr<S>(),
          in.phases.defined() ? in.phases.data_ptr<S>() : nullptr,
          sh ? in.colors.size(1) : 1,
          sh,
          s.sh_degree};
}

template <typename S>
GaussianGradArrays<S> gaussian_grad_arrays(const Grads& g) {
  return {g.means.data_ptr<S>(),     g.quats.data_ptr<S>(),  g.scales.data_ptr<S>(),
          g.opacities.data_ptr<S>(), g.colors.data_ptr<S>(), g.phases.defined() ? g.phases.data_ptr<S>() : nullptr};
}

}  // namespace fresnel::raster
