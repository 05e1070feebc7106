// What the viewer shows: the Gaussians as loaded (kept for export), their GPU packing, and the
// camera that frames them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/gaussians.hpp"
#include "orbit_camera.hpp"
#include "render/screen_filter.hpp"
#include "splat_data.hpp"

namespace fresnel::viewer {

struct Scene {
  Gaussians gaussians;
  SplatData splats;
  std::vector<uint32_t> shuffled;  // fixed random permutation: a max-count subset is a uniform sample
  std::string source;              // file name or description, for the UI
  OrbitCamera home;                // camera after loading and after R
  ScreenFilter screen_filter;      // what the model was trained with (<file>.cameras.json, the checkpoint)
};

// Packs `g` and frames it. `input_view`: the Gaussians live in an input camera's frame (predictions from an
// image), so the home camera sits at that camera (yaw = pitch = 0, looking along +z at the scene centre);
// otherwise the home camera is the original viewer's (pitch 0.3) at a distance that fits the scene.
Scene make_scene(const Gaussians& g, const std::string& source, bool input_view, double fov_y);

// Indices to draw when at most `max_count` splats are wanted (all when max_count <= 0 or ≥ count).
std::vector<uint32_t> draw_candidates(const Scene& scene, int64_t max_count);

}  // namespace fresnel::viewer
