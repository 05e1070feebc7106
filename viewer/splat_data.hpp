// Gaussians packed for the GPU: four RGBA32F texels per splat, fetched by index in the vertex shader
//   texel 0: mean xyz, 0      texel 1: Σ00 Σ01 Σ02 Σ11      texel 2: Σ12 Σ22 0 0      texel 3: r g b opacity
// Σ is the world-space 3D covariance R·diag(s²)·Rᵀ, computed once at load; the splat-scale slider multiplies
// it by scale² in the shader, so no repacking is needed while the user drags sliders.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/gaussians.hpp"

namespace fresnel::viewer {

constexpr int kTexelsPerSplat = 4;
constexpr int kFloatsPerSplat = kTexelsPerSplat * 4;

struct SplatData {
  int64_t count = 0;
  // count × kFloatsPerSplat; shared with the sorting thread, never modified after packing.
  std::shared_ptr<const std::vector<float>> texels = std::make_shared<const std::vector<float>>();
  std::vector<float> means;  // count × 3, for framing the camera
};

// Packs unbatched Gaussians (any device/dtype; SH colours use their degree-0 term). Throws fresnel::Error
// for batched or invalid input.
SplatData pack_splats(const Gaussians& gaussians);

// The original viewer's test cloud (GaussianCloud::create_test_cloud): `count` random Gaussians in
// [−extent, extent]³, scales U(0.05, 0.3), colours U(0.2, 1), random rotation, opacity 0.8; fixed seed 42.
Gaussians make_test_cloud(int64_t count, double extent);

}  // namespace fresnel::viewer
