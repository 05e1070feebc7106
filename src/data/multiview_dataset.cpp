#include "data/multiview_dataset.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "core/npy.hpp"

namespace fresnel {
namespace fs = std::filesystem;
using json = nlohmann::json;

static std::string numbered(const char* fmt, int64_t v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, static_cast<long long>(v));
  return buf;
}

std::string view_rgb_name(int view) { return numbered("view_%03lld.png", view); }
std::string view_depth_name(int view) { return numbered("view_%03lld_depth.npy", view); }
std::string view_mask_name(int view) { return numbered("view_%03lld_mask.png", view); }
std::string object_id_for_index(int64_t index) { return numbered("obj_%05lld", index); }

bool is_valid_split(const std::string& split) { return split == "train" || split == "val" || split == "test"; }

std::string split_images_dir(const std::string& root, const std::string& split) {
  if (!is_valid_split(split)) throw UsageError("unknown split '" + split + "' (use train, val or test)");
  return (fs::path(root) / (split == "train" ? std::string("images") : "images_" + split)).string();
}

Camera camera_relative_to(const Camera& cam, const Camera& reference) {
  Camera out = cam;
  out.world_to_camera = mat4_mul(cam.world_to_camera, mat4_rigid_inverse(reference.world_to_camera));
  return out;
}

std::vector<Camera> cameras_relative_to(const std::vector<Camera>& cams, const Camera& reference) {
  std::vector<Camera> out;
  out.reserve(cams.size());
  for (const auto& c : cams) out.push_back(camera_relative_to(c, reference));
  return out;
}

const ViewData& ObjectViews::input() const {
  if (input_view < 0 || input_view >= static_cast<int>(views.size()))
    throw Error(dir + ": input view index " + std::to_string(input_view) + " is not loaded");
  return views[input_view];
}

std::vector<Camera> ObjectViews::relative_cameras() const {
  std::vector<Camera> cams;
  for (const auto& v : views) cams.push_back(v.camera);
  return cameras_relative_to(cams, input().camera);
}

// ---- .npy float32 (H,W) ------------------------------------------------------------------------------------

void save_depth_npy(const std::string& path, const torch::Tensor& depth) {
  if (depth.dim() != 2) throw Error(path + ": depth must be (H,W)");
  save_npy(path, depth.detach().to(torch::kCPU, torch::kFloat32).contiguous());
}

torch::Tensor load_depth_npy(const std::string& path) {
  auto t = load_npy(path);
  if (t.scalar_type() != torch::kFloat32) throw file_error(path, "depth must be float32 ('<f4')");
  if (t.dim() != 2 || t.size(0) <= 0 || t.size(1) <= 0) throw file_error(path, "depth must have shape (H,W)");
  return t;
}

// ---- dataset ----------------------------------------------------------------------------------------------

static json read_json_file(const std::string& path) {
  try {
    return json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    throw file_error(path, std::string("invalid JSON: ") + e.what());
  }
}

bool MultiViewDataset::looks_like_dataset(const std::string& root) {
  const auto path = (fs::path(root) / "dataset.json").string();
  if (!fs::exists(path)) return false;
  try {
    const json j = read_json_file(path);
    return j.value("format", "") == "fresnel-multiview";
  } catch (const Error&) {
    return false;
  }
}

MultiViewDataset::MultiViewDataset(std::string root) : root_(std::move(root)) {
  const auto path = (fs::path(root_) / "dataset.json").string();
  if (!fs::is_directory(root_)) throw file_error(root_, "dataset directory not found");
  if (!fs::exists(path)) throw file_error(path, "missing (not a multi-view dataset; create one with `fresnel synth`)");
  const json j = read_json_file(path);
  if (j.value("format", "") != "fresnel-multiview")
    throw file_error(path, "field 'format' must be \"fresnel-multiview\"");
  if (!j.contains("image_size") || !j["image_size"].is_number_integer())
    throw file_error(path, "missing integer field 'image_size'");
  if (!j.contains("views_per_object") || !j["views_per_object"].is_number_integer())
    throw file_error(path, "missing integer field 'views_per_object'");
  image_size_ = j["image_size"].get<int>();
  views_per_object_ = j["views_per_object"].get<int>();
  if (image_size_ <= 0 || views_per_object_ <= 0) throw file_error(path, "image_size and views_per_object must be > 0");
}

std::string MultiViewDataset::object_dir(const std::string& split, const std::string& id) const {
  if (!is_valid_split(split)) throw UsageError("unknown split '" + split + "' (use train, val or test)");
  return (fs::path(root_) / split / id).string();
}

std::vector<std::string> MultiViewDataset::object_ids(const std::string& split) const {
  if (!is_valid_split(split)) throw UsageError("unknown split '" + split + "' (use train, val or test)");
  std::vector<std::string> ids;
  const fs::path dir = fs::path(root_) / split;
  if (!fs::is_directory(dir)) return ids;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && fs::exists(e.path() / "cameras.json")) ids.push_back(e.path().filename().string());
  std::sort(ids.begin(), ids.end());
  return ids;
}

ObjectViews MultiViewDataset::load_object(const std::string& split, const std::string& id,
                                          const std::vector<int>& wanted) const {
  ObjectViews obj;
  obj.id = id;
  obj.split = split;
  obj.dir = object_dir(split, id);
  const auto cams = load_cameras_json((fs::path(obj.dir) / "cameras.json").string());
  int input_index = 0;
  const auto object_json = (fs::path(obj.dir) / "object.json").string();
  if (fs::exists(object_json)) {
    const json j = read_json_file(object_json);
    input_index = j.value("input_view", 0);
  }
  if (input_index < 0 || input_index >= static_cast<int>(cams.size()))
    throw file_error(object_json, "input_view " + std::to_string(input_index) + " out of range");

  std::vector<int> indices = wanted;
  if (indices.empty())
    for (int v = 0; v < static_cast<int>(cams.size()); ++v) indices.push_back(v);
  if (std::find(indices.begin(), indices.end(), input_index) == indices.end())
    indices.insert(indices.begin(), input_index);

  for (int v : indices) {
    if (v < 0 || v >= static_cast<int>(cams.size()))
      throw file_error(obj.dir, "view " + std::to_string(v) + " requested but cameras.json has " +
                                    std::to_string(cams.size()) + " cameras");
    ViewData view;
    view.index = v;
    view.camera = cams[v];
    const auto rgb_path = (fs::path(obj.dir) / view_rgb_name(v)).string();
    const auto depth_path = (fs::path(obj.dir) / view_depth_name(v)).string();
    const auto mask_path = (fs::path(obj.dir) / view_mask_name(v)).string();
    view.rgb = load_image(rgb_path);
    view.depth = load_depth_npy(depth_path);
    view.mask = load_image(mask_path).select(2, 0).contiguous();
    const int64_t h = view.camera.height, w = view.camera.width;
    if (view.rgb.size(0) != h || view.rgb.size(1) != w)
      throw file_error(rgb_path, "image is " + std::to_string(view.rgb.size(1)) + "x" +
                                     std::to_string(view.rgb.size(0)) + " but its camera says " + std::to_string(w) +
                                     "x" + std::to_string(h));
    if (view.depth.size(0) != h || view.depth.size(1) != w)
      throw file_error(depth_path, "shape does not match the image");
    if (view.mask.size(0) != h || view.mask.size(1) != w) throw file_error(mask_path, "shape does not match the image");
    if (!torch::isfinite(view.depth).all().item<bool>()) throw file_error(depth_path, "contains NaN or Inf");
    if (v == input_index) obj.input_view = static_cast<int>(obj.views.size());
    obj.views.push_back(std::move(view));
  }
  return obj;
}

}  // namespace fresnel
