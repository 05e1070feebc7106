#include "core/camera.hpp"

#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace fresnel {
using json = nlohmann::json;

Mat4 mat4_identity() { return {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}; }

Mat4 mat4_mul(const Mat4& a, const Mat4& b) {
  Mat4 r{};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      double s = 0;
      for (int k = 0; k < 4; ++k) s += a[i * 4 + k] * b[k * 4 + j];
      r[i * 4 + j] = s;
    }
  return r;
}

Mat4 mat4_rigid_inverse(const Mat4& m) {
  Mat4 r = mat4_identity();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r[i * 4 + j] = m[j * 4 + i];
  for (int i = 0; i < 3; ++i) r[i * 4 + 3] = -(r[i * 4 + 0] * m[3] + r[i * 4 + 1] * m[7] + r[i * 4 + 2] * m[11]);
  return r;
}

static Vec3 sub(const Vec3& a, const Vec3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
static Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
static double norm(const Vec3& a) { return std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]); }
static Vec3 normalized(const Vec3& a) {
  const double n = norm(a);
  return {a[0] / n, a[1] / n, a[2] / n};
}

Vec3 Camera::to_camera(const Vec3& p) const {
  const auto& m = world_to_camera;
  return {m[0] * p[0] + m[1] * p[1] + m[2] * p[2] + m[3], m[4] * p[0] + m[5] * p[1] + m[6] * p[2] + m[7],
          m[8] * p[0] + m[9] * p[1] + m[10] * p[2] + m[11]};
}

Vec3 Camera::project(const Vec3& world) const {
  const Vec3 c = to_camera(world);
  return {fx * c[0] / c[2] + cx, fy * c[1] / c[2] + cy, c[2]};
}

Vec3 Camera::position() const {
  const Mat4 inv = mat4_rigid_inverse(world_to_camera);
  return {inv[3], inv[7], inv[11]};
}

Camera Camera::resized(int w, int h) const {
  Camera c = *this;
  const double sx = double(w) / width, sy = double(h) / height;
  c.fx *= sx;
  c.cx *= sx;
  c.fy *= sy;
  c.cy *= sy;
  c.width = w;
  c.height = h;
  return c;
}

double Camera::fov_y() const { return 2.0 * std::atan(0.5 * height / fy); }

Camera Camera::look_at(const Vec3& eye, const Vec3& target, const Vec3& up, double fx, double fy, int width,
                       int height) {
  const Vec3 forward = normalized(sub(target, eye));  // camera +z
  Vec3 right = cross(forward, up);                    // camera +x  (with up = −y_world this is x right)
  if (norm(right) < 1e-9) right = cross(forward, Vec3{1, 0, 0});
  if (norm(right) < 1e-9) right = cross(forward, Vec3{0, 0, 1});
  right = normalized(right);
  const Vec3 down = cross(forward, right);  // camera +y
  Camera c;
  Mat4& m = c.world_to_camera;
  const Vec3 rows[3] = {right, down, forward};
  for (int i = 0; i < 3; ++i) {
    m[i * 4 + 0] = rows[i][0];
    m[i * 4 + 1] = rows[i][1];
    m[i * 4 + 2] = rows[i][2];
    m[i * 4 + 3] = -(rows[i][0] * eye[0] + rows[i][1] * eye[1] + rows[i][2] * eye[2]);
  }
  m[12] = m[13] = m[14] = 0;
  m[15] = 1;
  c.fx = fx;
  c.fy = fy;
  c.cx = width / 2.0;
  c.cy = height / 2.0;
  c.width = width;
  c.height = height;
  return c;
}

Camera Camera::from_legacy_minus_z(const Mat4& legacy_view, double fx, double fy, double cx, double cy, int width,
                                   int height) {
  // Legacy: u = fx·x/(−z)+cx, v = fy·(−y)/(−z)+cy, in a world with y up and the camera looking down −z.
  // Legacy files are converted at their boundary by the world flip F = diag(1,−1,−1) (p' = F·p, see
  // legacy_bin_format), and the camera axes flip the same way, so the OpenCV view is F·V·F.
  const Mat4 flip = {1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1};
  Camera c;
  c.world_to_camera = mat4_mul(mat4_mul(flip, legacy_view), flip);
  c.fx = fx;
  c.fy = fy;
  c.cx = cx;
  c.cy = cy;
  c.width = width;
  c.height = height;
  return c;
}

json Camera::to_json() const {
  json j;
  j["width"] = width;
  j["height"] = height;
  j["fx"] = fx;
  j["fy"] = fy;
  j["cx"] = cx;
  j["cy"] = cy;
  j["near"] = near_plane;
  j["far"] = far_plane;
  json rows = json::array();
  for (int i = 0; i < 4; ++i)
    rows.push_back(
        {world_to_camera[i * 4], world_to_camera[i * 4 + 1], world_to_camera[i * 4 + 2], world_to_camera[i * 4 + 3]});
  j["world_to_camera"] = rows;
  return j;
}

Camera Camera::from_json(const json& j, const std::string& where) {
  auto num = [&](const char* key) -> double {
    if (!j.contains(key)) throw Error(where + ": missing field '" + std::string(key) + "'");
    if (!j[key].is_number()) throw Error(where + ": field '" + std::string(key) + "' must be a number");
    return j[key].get<double>();
  };
  Camera c;
  c.width = int(num("width"));
  c.height = int(num("height"));
  c.fx = num("fx");
  c.fy = num("fy");
  c.cx = num("cx");
  c.cy = num("cy");
  if (j.contains("near")) c.near_plane = num("near");
  if (j.contains("far")) c.far_plane = num("far");
  if (c.width <= 0 || c.height <= 0) throw Error(where + ": width and height must be positive");
  if (!(c.fx > 0) || !(c.fy > 0)) throw Error(where + ": fx and fy must be positive");
  if (!j.contains("world_to_camera")) throw Error(where + ": missing field 'world_to_camera'");
  const auto& m = j["world_to_camera"];
  if (!m.is_array() || m.size() != 4) throw Error(where + ": field 'world_to_camera' must be a 4×4 array");
  for (int i = 0; i < 4; ++i) {
    if (!m[i].is_array() || m[i].size() != 4) throw Error(where + ": field 'world_to_camera' must be a 4×4 array");
    for (int k = 0; k < 4; ++k) {
      if (!m[i][k].is_number()) throw Error(where + ": field 'world_to_camera' has a non-numeric entry");
      c.world_to_camera[i * 4 + k] = m[i][k].get<double>();
    }
  }
  return c;
}

Camera spherical_camera(double azimuth, double elevation, double radius, const Vec3& target, double fx, double fy,
                        int width, int height) {
  // World up is −y (OpenCV). Azimuth 0, elevation 0: camera on the −z side looking along +z.
  const double ce = std::cos(elevation);
  const Vec3 eye = {target[0] + radius * ce * std::sin(azimuth), target[1] - radius * std::sin(elevation),
                    target[2] - radius * ce * std::cos(azimuth)};
  return Camera::look_at(eye, target, Vec3{0, -1, 0}, fx, fy, width, height);
}

std::vector<Camera> orbit_cameras(int n, double radius, double elevation, const Vec3& target, double fx, double fy,
                                  int width, int height) {
  std::vector<Camera> cams;
  for (int i = 0; i < n; ++i)
    cams.push_back(spherical_camera(2.0 * M_PI * i / n, elevation, radius, target, fx, fy, width, height));
  return cams;
}

void save_cameras_json(const std::string& path, const std::vector<Camera>& cams) {
  json j;
  j["convention"] = "opencv: x right, y down, z forward; world_to_camera row-major; intrinsics in pixels";
  j["cameras"] = json::array();
  for (const auto& c : cams) j["cameras"].push_back(c.to_json());
  write_text_file(path, j.dump(2));
}

std::vector<Camera> load_cameras_json(const std::string& path) {
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    throw file_error(path, std::string("invalid JSON: ") + e.what());
  }
  if (!j.contains("cameras") || !j["cameras"].is_array()) throw file_error(path, "missing array 'cameras'");
  std::vector<Camera> cams;
  for (size_t i = 0; i < j["cameras"].size(); ++i)
    cams.push_back(Camera::from_json(j["cameras"][i], path + ": cameras[" + std::to_string(i) + "]"));
  return cams;
}

}  // namespace fresnel
