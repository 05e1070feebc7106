#include "evaluate/baselines.hpp"

#include <torch/torch.h>

#include <filesystem>

#include "core/error.hpp"
#include "core/file_extension.hpp"
#include "core/gaussian_io.hpp"
#include "core/object_frame.hpp"

namespace fresnel {

Gaussians unprojected_gaussians(const ViewData& input, double scale_factor) {
  const auto& cam = input.camera;
  const int64_t H = input.rgb.size(0), W = input.rgb.size(1);
  const auto covered = (input.mask > 0) & (input.depth > 0);
  const auto idx = covered.reshape({-1}).nonzero().squeeze(1);
  const auto z = input.depth.reshape({-1}).index_select(0, idx).to(torch::kFloat64);
  const auto coverage = input.mask.reshape({-1}).index_select(0, idx).to(torch::kFloat64);
  const auto u = (idx % W).to(torch::kFloat64) + 0.5, v = torch::div(idx, W, "floor").to(torch::kFloat64) + 0.5;
  // Points in the input camera's own frame (its world_to_camera is applied by the caller's cameras).
  auto pts_cam = torch::stack({(u - cam.cx) / cam.fx * z, (v - cam.cy) / cam.fy * z, z}, 1);
  Gaussians g;
  g.means = pts_cam.to(torch::kFloat32);
  const int64_t n = idx.size(0);
  g.quats = torch::zeros({n, 4}, torch::kFloat32);
  g.quats.select(1, 0).fill_(1.0);
  const auto s = (scale_factor * z / (0.5 * (cam.fx + cam.fy))).to(torch::kFloat32);
  g.scales = s.unsqueeze(1).repeat({1, 3});
  g.opacities = (kUnprojectedOpacity * coverage).to(torch::kFloat32);
  const auto rgb = input.rgb.reshape({H * W, 3}).index_select(0, idx);
  g.colors = (rgb / coverage.to(torch::kFloat32).unsqueeze(1)).clamp(0, 1).contiguous();
  return g;
}

GaussianPredictor unprojected_predictor(double scale_factor) {
  return [scale_factor](const ObjectViews& obj) { return unprojected_gaussians(obj.input(), scale_factor); };
}

std::optional<ScreenFilter> screen_filter_from_file(const std::string& cameras_json) {
  const std::string name = load_screen_filter_name(cameras_json);
  if (name.empty()) return std::nullopt;
  try {
    return parse_screen_filter(name);
  } catch (const UsageError& e) {
    throw file_error(cameras_json, e.what());
  }
}

ObjectPredictor gaussian_files_predictor(const std::string& dir) {
  if (!std::filesystem::is_directory(dir)) throw file_error(dir, "Gaussians directory not found");
  return [dir](const ObjectViews& obj) {
    // <object_id> with the first format extension present, in table order.
    std::vector<std::string> tried;
    for (const auto& format : gaussian_formats()) {
      tried.push_back(obj.id + format.extension);
      const auto path = (std::filesystem::path(dir) / tried.back()).string();
      if (!std::filesystem::exists(path)) continue;
      // Files written with `infer --frame object` carry their frame beside them: back to the input camera's.
      ObjectPrediction p;
      p.gaussians = load_gaussians(path);
      const std::string cameras = cameras_json_path_for(path);
      if (!std::filesystem::exists(cameras)) return p;
      ObjectFrame frame;
      if (load_object_frame(cameras, frame)) p.gaussians = from_object_frame(p.gaussians, frame);
      p.screen_filter = screen_filter_from_file(cameras);
      return p;
    }
    throw file_error(dir, "missing Gaussians for object " + obj.id + ": none of " + join_list(tried));
  };
}

}  // namespace fresnel
