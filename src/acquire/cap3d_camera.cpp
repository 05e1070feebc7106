#include "acquire/cap3d_camera.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace fresnel::acquire {

Vec3 cap3d_world_to_ours(const Vec3& b) { return {b[0], -b[2], b[1]}; }

static Vec3 read_vec3(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_array() || j[key].size() != 3)
    throw file_error(where, std::string("field '") + key + "' must be an array of 3 numbers");
  Vec3 v{};
  for (int i = 0; i < 3; ++i) {
    if (!j[key][i].is_number()) throw file_error(where, std::string("field '") + key + "' must hold numbers");
    v[i] = j[key][i].get<double>();
    if (!std::isfinite(v[i])) throw file_error(where, std::string("field '") + key + "' is not finite");
  }
  return v;
}

static double read_angle(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_number()) throw file_error(where, std::string("missing number '") + key + "'");
  const double a = j[key].get<double>();
  if (!std::isfinite(a) || a <= 0 || a >= M_PI)
    throw file_error(where, std::string("field '") + key + "' must be a field of view in radians in (0, pi)");
  return a;
}

static double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
static Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}

double cap3d_max_depth(const nlohmann::json& j, const std::string& where) {
  if (!j.contains("max_depth")) return kCap3dDefaultMaxDepth;
  if (!j["max_depth"].is_number() || !(j["max_depth"].get<double>() > 0) ||
      !std::isfinite(j["max_depth"].get<double>()))
    throw file_error(where, "field 'max_depth' must be a positive number");
  return j["max_depth"].get<double>();
}

Camera cap3d_camera_from_json(const nlohmann::json& j, int width, int height, const std::string& where) {
  if (!j.is_object()) throw file_error(where, "camera file must be a JSON object");
  const Vec3 origin = read_vec3(j, "origin", where);
  const Vec3 axes[3] = {read_vec3(j, "x", where), read_vec3(j, "y", where), read_vec3(j, "z", where)};
  constexpr double kTol = 1e-3;
  for (int a = 0; a < 3; ++a) {
    if (std::abs(dot(axes[a], axes[a]) - 1) > kTol) throw file_error(where, "camera axes x, y, z must be unit vectors");
    for (int b = a + 1; b < 3; ++b)
      if (std::abs(dot(axes[a], axes[b])) > kTol) throw file_error(where, "camera axes x, y, z must be orthogonal");
  }
  if (dot(cross(axes[0], axes[1]), axes[2]) < 0) throw file_error(where, "camera axes x, y, z must be right-handed");
  const double x_fov = read_angle(j, "x_fov", where), y_fov = read_angle(j, "y_fov", where);

  // Rows of world→camera rotation = camera axes expressed in our world; t = −R·origin.
  Vec3 rows[3];
  for (int a = 0; a < 3; ++a) rows[a] = cap3d_world_to_ours(axes[a]);
  const Vec3 o = cap3d_world_to_ours(origin);
  Camera cam;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) cam.world_to_camera[r * 4 + c] = rows[r][c];
    cam.world_to_camera[r * 4 + 3] = -dot(rows[r], o);
  }
  cam.width = width;
  cam.height = height;
  // Blender: the sensor spans the field of view edge to edge, pixel centres at i + 0.5.
  cam.fx = 0.5 * width / std::tan(0.5 * x_fov);
  cam.fy = 0.5 * height / std::tan(0.5 * y_fov);
  cam.cx = 0.5 * width;
  cam.cy = 0.5 * height;
  cam.near_plane = 0.1;
  cam.far_plane = 10.0;
  return cam;
}

}  // namespace fresnel::acquire
