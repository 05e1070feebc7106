#include "scene.hpp"

#include <algorithm>
#include <numeric>
#include <random>

namespace fresnel::viewer {

Scene make_scene(const Gaussians& g, const std::string& source, bool input_view, double fov_y) {
  Scene s;
  s.gaussians = g;
  s.splats = pack_splats(g);
  s.source = source;
  s.shuffled.resize(size_t(s.splats.count));
  std::iota(s.shuffled.begin(), s.shuffled.end(), 0u);
  std::shuffle(s.shuffled.begin(), s.shuffled.end(), std::mt19937(1234));
  s.home.fov_y = fov_y;
  frame_points(s.home, s.splats.means.data(), s.splats.count);
  if (input_view) {
    s.home.yaw = s.home.pitch = 0.0;
    s.home.distance = std::clamp(s.home.target[2], kMinDistance, kMaxDistance);
  } else {
    s.home.pitch = 0.3;
  }
  return s;
}

std::vector<uint32_t> draw_candidates(const Scene& scene, int64_t max_count) {
  const int64_t n = scene.splats.count;
  if (max_count <= 0 || max_count >= n) {
    std::vector<uint32_t> all(static_cast<size_t>(n));
    std::iota(all.begin(), all.end(), 0u);
    return all;
  }
  return std::vector<uint32_t>(scene.shuffled.begin(), scene.shuffled.begin() + max_count);
}

}  // namespace fresnel::viewer
