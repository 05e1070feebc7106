#include "core/object_frame.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace fresnel {

namespace {

torch::Tensor center_tensor(const ObjectFrame& f, const torch::Tensor& like) {
  return torch::tensor({f.center[0], f.center[1], f.center[2]}, like.options());
}

}  // namespace

ObjectFrame fit_object_frame(const Gaussians& g) {
  ObjectFrame f;
  if (g.count() == 0) return f;
  auto means = g.means.detach().to(torch::kCPU, torch::kFloat64).reshape({-1, 3});
  const auto opacity = g.opacities.detach().to(torch::kCPU).reshape({-1});
  const auto solid = opacity >= 0.1;
  if (solid.any().item<bool>()) means = means.index({solid});
  const auto lo = std::get<0>(means.kthvalue(std::max<int64_t>(1, int64_t(0.01 * means.size(0))), 0));
  const auto hi = std::get<0>(means.kthvalue(std::max<int64_t>(1, int64_t(std::ceil(0.99 * means.size(0)))), 0));
  const auto mid = (lo + hi) * 0.5;
  for (int a = 0; a < 3; ++a) f.center[a] = mid[a].item<double>();
  const double extent = (hi - lo).max().item<double>();
  f.scale = extent > 1e-12 ? 1.0 / extent : 1.0;
  return f;
}

Gaussians to_object_frame(const Gaussians& in, const ObjectFrame& f) {
  Gaussians g = in;
  g.means = (in.means - center_tensor(f, in.means)) * f.scale;
  g.scales = in.scales * f.scale;
  return g;
}

Gaussians from_object_frame(const Gaussians& in, const ObjectFrame& f) {
  Gaussians g = in;
  g.means = in.means / f.scale + center_tensor(f, in.means);
  g.scales = in.scales / f.scale;
  return g;
}

Camera camera_in_object_frame(const Camera& cam, const ObjectFrame& f) {
  // p_cam = p_obj / s + c, so x = R·p_cam + t = (R·p_obj + s·(R·c + t)) / s: the rigid map in brackets gives the
  // same pixels (projection ignores a common scale) and depth × s.
  Camera out = cam;
  const Mat4& w = cam.world_to_camera;
  Mat4& o = out.world_to_camera;
  for (int r = 0; r < 3; ++r) {
    double rc = 0;
    for (int k = 0; k < 3; ++k) {
      o[r * 4 + k] = w[r * 4 + k];
      rc += w[r * 4 + k] * f.center[k];
    }
    o[r * 4 + 3] = f.scale * (rc + w[r * 4 + 3]);
  }
  out.near_plane = cam.near_plane * f.scale;
  out.far_plane = cam.far_plane * f.scale;
  return out;
}

std::string cameras_json_path_for(const std::string& gaussians_path) {
  std::filesystem::path p(gaussians_path);
  return (p.parent_path() / (p.stem().string() + ".cameras.json")).string();
}

void save_frame_cameras(const std::string& path, const Camera& input_camera, const ObjectFrame* frame,
                        const std::string& screen_filter) {
  nlohmann::json j;
  j["convention"] = "opencv cameras: x right, y down, z forward; world_to_camera row-major; intrinsics in pixels";
  j["frame"] = frame ? "object" : "camera";
  j["cameras"] =
      nlohmann::json::array({(frame ? camera_in_object_frame(input_camera, *frame) : input_camera).to_json()});
  if (frame) {
    j["object_frame"] = {{"center", {frame->center[0], frame->center[1], frame->center[2]}},
                         {"scale", frame->scale},
                         {"definition",
                          "p_object = scale * diag(1,-1,-1) * (p_camera - center): x right, y up, z "
                          "toward the input camera, longest side 1"}};
  }
  if (!screen_filter.empty()) j["screen_filter"] = screen_filter;
  write_text_file(path, j.dump(2));
}

namespace {
nlohmann::json read_json_file(const std::string& path) {
  try {
    return nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("invalid JSON: ") + e.what());
  }
}
}  // namespace

std::string load_screen_filter_name(const std::string& path) {
  const nlohmann::json j = read_json_file(path);
  if (!j.contains("screen_filter")) return "";
  if (!j["screen_filter"].is_string()) throw file_error(path, "screen_filter must be a string such as \"mip:0.1\"");
  return j["screen_filter"].get<std::string>();
}

bool load_object_frame(const std::string& path, ObjectFrame& frame) {
  const nlohmann::json j = read_json_file(path);
  if (j.value("frame", "camera") != "object") return false;
  const auto& o = j["object_frame"];
  if (!o.is_object() || !o.contains("center") || !o["center"].is_array() || o["center"].size() != 3 ||
      !o.contains("scale") || !o["scale"].is_number())
    throw file_error(path, "frame \"object\" needs object_frame.center (3 numbers) and object_frame.scale");
  for (int a = 0; a < 3; ++a) {
    if (!o["center"][a].is_number()) throw file_error(path, "object_frame.center must hold numbers");
    frame.center[a] = o["center"][a].get<double>();
  }
  frame.scale = o["scale"].get<double>();
  if (!(frame.scale > 0) || !std::isfinite(frame.scale))
    throw file_error(path, "object_frame.scale must be a positive number");
  return true;
}

}  // namespace fresnel
