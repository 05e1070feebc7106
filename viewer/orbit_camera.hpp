// Orbit camera of the viewer, with the original viewer's mouse mapping (spec §12.8), expressed as a
// fresnel::Camera in the OpenCV convention so that `fresnel render --cameras` sees exactly the same view.
#pragma once
#include "core/camera.hpp"

namespace fresnel::viewer {

struct OrbitCamera {
  double yaw = 0.0;       // azimuth around the target, radians (0: looking along +z, the input view)
  double pitch = 0.0;     // elevation, radians, clamped to ±1.5; positive looks down on the target
  double distance = 5.0;  // clamped to [0.5, 50]
  Vec3 target{0, 0, 0};
  double fov_y = 45.0 * 3.14159265358979323846 / 180.0;  // the original C++ camera's field of view

  // LMB drag by (dx, dy) pixels: yaw −= 0.01·dx, pitch += 0.01·dy (clamped).
  void orbit(double dx, double dy);
  // RMB drag: moves the target in the image plane by distance·0.002 per pixel (scene follows the mouse).
  void pan(double dx, double dy);
  // Scroll by dy notches: distance ·= (1 − 0.1·dy), clamped.
  void zoom(double dy);

  // Camera for an image of width × height pixels.
  Camera camera(int width, int height) const;
};

constexpr double kMaxPitch = 1.5;
constexpr double kMinDistance = 0.5;
constexpr double kMaxDistance = 50.0;

// Frames a scene: target at the per-axis median of `means` (N×3, row-major), distance so that the
// central 98% of the points (per axis) fits the vertical field of view from any direction. Keeps yaw and pitch.
void frame_points(OrbitCamera& cam, const float* means, int64_t count);

}  // namespace fresnel::viewer
