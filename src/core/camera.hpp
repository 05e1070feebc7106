// Pinhole camera in the OpenCV convention: x right, y down, z forward (see docs/conventions.md).
// world_to_camera maps world points into the camera frame; intrinsics are in pixels.
#pragma once
#include <torch/types.h>

#include <array>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace fresnel {

using Vec3 = std::array<double, 3>;
using Mat4 = std::array<double, 16>;  // row-major

// Intrinsics as fractions of the image size (fx/W, fy/H, cx/W, cy/H) of the original's training camera: the input
// camera models, decoders and exports assume when none is given.
constexpr std::array<double, 4> kDefaultNormalizedIntrinsics = {0.8, 0.8, 0.5, 0.5};

Mat4 mat4_identity();
Mat4 mat4_mul(const Mat4& a, const Mat4& b);
Mat4 mat4_rigid_inverse(const Mat4& m);  // inverse of [R t; 0 1]

struct Camera {
  Mat4 world_to_camera = mat4_identity();
  double fx = 1, fy = 1, cx = 0, cy = 0;
  int width = 1, height = 1;
  double near_plane = 0.01, far_plane = 100.0;

  // Camera centre in world coordinates.
  Vec3 position() const;
  // Maps a world point to {u, v, z_camera}.
  Vec3 project(const Vec3& world) const;
  Vec3 to_camera(const Vec3& world) const;

  // Same camera with another image size; intrinsics scale with it.
  Camera resized(int new_width, int new_height) const;
  // Vertical field of view in radians.
  double fov_y() const;

  // Camera at `eye` looking at `target`; `up` is the world up direction (image "up" = −y).
  static Camera look_at(const Vec3& eye, const Vec3& target, const Vec3& up, double fx, double fy, int width,
                        int height);
  // Converts the original's −Z camera (OpenGL-style view, u = fx·x/(−z)+cx, v = fy·(−y)/(−z)+cy) into a camera
  // of the converted world p' = (x, −y, −z) — the same flip legacy .bin files get at their boundary.
  static Camera from_legacy_minus_z(const Mat4& legacy_view, double fx, double fy, double cx, double cy, int width,
                                    int height);

  nlohmann::json to_json() const;
  // Throws fresnel::Error naming `where` and the missing or malformed field.
  static Camera from_json(const nlohmann::json& j, const std::string& where = "camera");
};

// n cameras evenly spaced in azimuth around `target` at `radius` and `elevation` (radians, positive = above),
// world up = −y (OpenCV world). Azimuth 0 looks along +z from −z side (i.e. camera at target − radius·ẑ).
std::vector<Camera> orbit_cameras(int n, double radius, double elevation, const Vec3& target, double fx, double fy,
                                  int width, int height);
// Camera at azimuth/elevation (radians) on a sphere of `radius` around `target`, looking at it.
Camera spherical_camera(double azimuth, double elevation, double radius, const Vec3& target, double fx, double fy,
                        int width, int height);

// JSON files holding a list of cameras: {"cameras":[...]}. Writes atomically.
void save_cameras_json(const std::string& path, const std::vector<Camera>& cams);
std::vector<Camera> load_cameras_json(const std::string& path);

}  // namespace fresnel
