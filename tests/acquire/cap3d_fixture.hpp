// Cap3D-layout test data, built independently of the code under test: synth objects (data/synth_scene.hpp) ray
// cast from cameras given as Cap3D does (c2w = [x|y|z|origin] in a Blender Z-up world, OpenCV camera axes,
// x_fov/y_fov), written as per-object zips (RGBA PNG, 16-bit depth PNG = depth/5·65535 with 65535 background,
// camera JSON) with libzip. Header-only so tests/cli can use it too.
#pragma once
#include <zip.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/camera.hpp"
#include "data/synth_scene.hpp"
#include "testutil/testutil.hpp"

namespace fresnel::test {

constexpr double kCap3dFov = 0.6911112070083618;  // 39.6°, Cap3D's x_fov = y_fov
constexpr double kCap3dFixtureDistance = 3.2;     // our synth objects have radius 0.9, Cap3D's 0.87

// Writes a zip of (name, bytes) entries with libzip and returns its bytes. `store` keeps entries uncompressed
// (Cap3D's outer zips store the inner zips).
inline std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries, const std::string& path,
                            bool store = false) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!z) throw std::runtime_error("make_zip: cannot create " + path);
  for (const auto& [name, bytes] : entries) {
    zip_source_t* s = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    const zip_int64_t idx = zip_file_add(z, name.c_str(), s, ZIP_FL_ENC_UTF_8);
    if (idx < 0) throw std::runtime_error("make_zip: cannot add " + name);
    if (store) zip_set_file_compression(z, uint64_t(idx), ZIP_CM_STORE, 0);
  }
  if (zip_close(z) != 0) throw std::runtime_error("make_zip: cannot write " + path);
  return read_bytes(path);
}

// Camera looking at the origin from azimuth/elevation (degrees) in a Z-up world, axes x right, y down, z forward.
inline void cap3d_axes(double az_deg, double el_deg, double distance, Vec3& origin, Vec3& x, Vec3& y, Vec3& z) {
  const double az = az_deg * M_PI / 180, el = el_deg * M_PI / 180;
  origin = {distance * std::cos(el) * std::cos(az), distance * std::cos(el) * std::sin(az), distance * std::sin(el)};
  z = {-origin[0] / distance, -origin[1] / distance, -origin[2] / distance};
  const Vec3 up{0, 0, 1};
  x = {z[1] * up[2] - z[2] * up[1], z[2] * up[0] - z[0] * up[2], z[0] * up[1] - z[1] * up[0]};
  const double n = std::sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
  for (auto& c : x) c /= n;
  y = {z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]};
}

// Ray caster camera for Cap3D axes: rows of world→camera are the camera axes, t = −R·origin.
inline Camera camera_from_cap3d_axes(const Vec3& origin, const Vec3& x, const Vec3& y, const Vec3& z, int size) {
  Camera c;
  const Vec3 rows[3] = {x, y, z};
  for (int r = 0; r < 3; ++r) {
    for (int k = 0; k < 3; ++k) c.world_to_camera[r * 4 + k] = rows[r][k];
    c.world_to_camera[r * 4 + 3] = -(rows[r][0] * origin[0] + rows[r][1] * origin[1] + rows[r][2] * origin[2]);
  }
  c.fx = c.fy = 0.5 * size / std::tan(0.5 * kCap3dFov);
  c.cx = c.cy = 0.5 * size;
  c.width = c.height = size;
  return c;
}

struct Cap3dFixtureObject {
  std::string zip_bytes;
  std::vector<Camera> cameras;               // as the ray caster used them (world = Blender world)
  std::vector<synth::RenderedView> renders;  // empty for a blank object
};

inline std::string five_digits(int i) {
  char b[16];
  std::snprintf(b, sizeof b, "%05d", i);
  return b;
}

inline std::string encode_png(const cv::Mat& m) {
  std::vector<uchar> buf;
  if (!cv::imencode(".png", m, buf)) throw std::runtime_error("encode_png failed");
  return std::string(buf.begin(), buf.end());
}

// One object of `views` views at size×size, seen from a ring of azimuths and three elevations. `blank`: every
// view empty (as some Cap3D objects). Entries live under `folder` when it is not empty.
inline Cap3dFixtureObject make_cap3d_object(uint64_t seed, int64_t index, int views, int size,
                                            const std::string& scratch_zip, bool blank = false,
                                            const std::string& folder = "") {
  Cap3dFixtureObject out;
  const synth::ObjectSpec spec = synth::random_object(seed, index, 0);
  std::vector<std::pair<std::string, std::string>> entries;
  const double elevations[3] = {20, 0, 40};
  for (int k = 0; k < views; ++k) {
    Vec3 o, x, y, z;
    cap3d_axes(360.0 * k / views + 17.0 * double(index), elevations[k % 3], kCap3dFixtureDistance, o, x, y, z);
    const Camera cam = camera_from_cap3d_axes(o, x, y, z, size);
    out.cameras.push_back(cam);
    cv::Mat rgba(size, size, CV_8UC4, cv::Scalar(0, 0, 0, 0));
    cv::Mat depth(size, size, CV_16U, cv::Scalar(65535));
    if (!blank) {
      const synth::RenderedView r = synth::raycast(spec.scene, cam, 1);
      auto rgb = r.rgb.accessor<float, 3>();
      auto d = r.depth.accessor<float, 2>();
      auto m = r.mask.accessor<float, 2>();
      for (int v = 0; v < size; ++v)
        for (int u = 0; u < size; ++u) {
          if (m[v][u] < 0.5f) continue;
          auto& px = rgba.at<cv::Vec4b>(v, u);
          for (int ch = 0; ch < 3; ++ch) px[2 - ch] = cv::saturate_cast<uchar>(std::lround(rgb[v][u][ch] * 255.0));
          px[3] = 255;
          depth.at<uint16_t>(v, u) = uint16_t(std::min(65534L, std::lround(d[v][u] / 5.0 * 65535.0)));
        }
      out.renders.push_back(r);
    }
    const nlohmann::json j = {
        {"format_version", 6},          {"max_depth", 5.0},        {"bbox", {{-0.5, -0.5, -0.5}, {0.5, 0.5, 0.5}}},
        {"origin", {o[0], o[1], o[2]}}, {"x", {x[0], x[1], x[2]}}, {"y", {y[0], y[1], y[2]}},
        {"z", {z[0], z[1], z[2]}},      {"x_fov", kCap3dFov},      {"y_fov", kCap3dFov}};
    const std::string p = (folder.empty() ? "" : folder + "/") + five_digits(k);
    entries.push_back({p + ".png", encode_png(rgba)});
    entries.push_back({p + "_depth.png", encode_png(depth)});
    entries.push_back({p + "_MatAlpha.png", encode_png(cv::Mat(size, size, CV_8U, cv::Scalar(255)))});
    entries.push_back({p + ".json", j.dump()});
  }
  out.zip_bytes = make_zip(entries, scratch_zip);
  return out;
}

}  // namespace fresnel::test
