// Benchmark scenes and the timing harness behind `fresnel bench render` and bench/bench_render.cpp.
// Scenes imitate the decoder's output (spec §4.2): a 37×37 patch grid with K Gaussians per patch,
// x,y ∈ [−1,1] plus in-cell offsets, depth z ∈ [2,4] from a smooth depth field, scales log-uniform
// in [0.02, 0.2] world units, sigmoid opacities, seen by the original's frontal training camera
// (fx = fy = 0.8·R, principal point at the centre) in our OpenCV frame.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "core/camera.hpp"
#include "core/gaussians.hpp"

namespace fresnel {

Gaussians decoder_like_scene(int64_t n, uint64_t seed = 0);
// A pixel-aligned decoder's output (`fresnel train --pixel_aligned`) for a resolution² input seen by
// bench_camera(resolution): `per_pixel` Gaussians on each pixel's ray at depth 2–4, scales of 0.5–2 pixel
// footprints (z/f), mostly opaque. Many small splats: the opposite regime to decoder_like_scene.
Gaussians pixel_aligned_scene(int resolution, int per_pixel, uint64_t seed = 0);
Camera bench_camera(int resolution);

// Number of (Gaussian, tile) pairs the binning produces for one camera.
int64_t count_tile_intersections(const Gaussians& g, const Camera& cam);

struct RenderBenchCase {
  std::string name;
  int64_t gaussians = 0;
  int resolution = 0;
  bool with_twin = false;
  int per_pixel = 0;  // > 0: pixel_aligned_scene(resolution, per_pixel) instead of decoder_like_scene(gaussians)
};

// Times forward and forward+backward (median of `reps` after one warm-up) and, when asked, the dense
// reference twin on the same scene (row chunks, so its memory stays bounded). Returns one JSON object.
// On a CUDA device the scene lives there (the CUDA rasterizer runs) and each timing waits for the GPU; no twin.
nlohmann::json run_render_bench(const RenderBenchCase& c, int reps, const torch::Device& device = torch::kCPU);

}  // namespace fresnel
