#include "orbit_camera.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fresnel::viewer {

void OrbitCamera::orbit(double dx, double dy) {
  yaw -= 0.01 * dx;
  pitch = std::clamp(pitch + 0.01 * dy, -kMaxPitch, kMaxPitch);
}

void OrbitCamera::pan(double dx, double dy) {
  // Camera axes in world coordinates are the rows of the world→camera rotation.
  const Camera c = camera(2, 2);
  const auto& m = c.world_to_camera;
  const double step = distance * 0.002;
  for (int i = 0; i < 3; ++i) target[i] -= step * (dx * m[0 * 4 + i] + dy * m[1 * 4 + i]);
}

void OrbitCamera::zoom(double dy) { distance = std::clamp(distance * (1.0 - 0.1 * dy), kMinDistance, kMaxDistance); }

Camera OrbitCamera::camera(int width, int height) const {
  const double f = 0.5 * height / std::tan(0.5 * fov_y);
  return spherical_camera(yaw, pitch, distance, target, f, f, width, height);
}

void frame_points(OrbitCamera& cam, const float* means, int64_t count) {
  if (count <= 0) return;
  // Subsample large clouds: a median and a percentile do not need every point.
  const int64_t stride = std::max<int64_t>(1, count / 200000);
  std::vector<float> axis;
  double lo[3], hi[3];
  for (int a = 0; a < 3; ++a) {
    axis.clear();
    for (int64_t i = 0; i < count; i += stride) axis.push_back(means[i * 3 + a]);
    const size_t n = axis.size();
    auto pick = [&](double q) {
      const size_t k = std::min(n - 1, size_t(q * (n - 1)));
      std::nth_element(axis.begin(), axis.begin() + k, axis.end());
      return double(axis[k]);
    };
    cam.target[a] = pick(0.5);
    lo[a] = pick(0.01);
    hi[a] = pick(0.99);
  }
  // Bounding sphere of the central box; at this distance it fits the vertical field of view from any side.
  double r2 = 0;
  for (int a = 0; a < 3; ++a) r2 += std::pow(std::max(hi[a] - cam.target[a], cam.target[a] - lo[a]), 2);
  const double radius = std::max(std::sqrt(r2), 1e-3);
  cam.distance = std::clamp(1.05 * radius / std::sin(0.5 * cam.fov_y), kMinDistance, kMaxDistance);
}

}  // namespace fresnel::viewer
