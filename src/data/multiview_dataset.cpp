#include "data/multiview_dataset.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"

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

void save_depth_npy(const std::string& path, const torch::Tensor& depth_in) {
  torch::Tensor depth = depth_in.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  if (depth.dim() != 2) throw Error(path + ": depth must be (H,W)");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(depth.size(0)) + ", " +
                       std::to_string(depth.size(1)) + "), }";
  // Magic (6) + version (2) + header length (2) + header + '\n' is padded to a multiple of 64 bytes.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  atomic_write(path, [&](std::ostream& out) {
    out.write("\x93NUMPY\x01\x00", 8);
    const uint16_t len = static_cast<uint16_t>(header.size());
    const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
    out.write(len_bytes, 2);
    out.write(header.data(), header.size());
    out.write(reinterpret_cast<const char*>(depth.data_ptr<float>()), depth.numel() * sizeof(float));
  });
}

torch::Tensor load_depth_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, "depth file not found or unreadable");
  char magic[10];
  if (!in.read(magic, 10) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw file_error(path, "not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  size_t header_len = static_cast<unsigned char>(magic[8]) | (static_cast<unsigned char>(magic[9]) << 8);
  if (major >= 2) {  // v2/v3: 4-byte header length
    char extra[2];
    if (!in.read(extra, 2)) throw file_error(path, "truncated .npy header");
    header_len |= (size_t(static_cast<unsigned char>(extra[0])) << 16) |
                  (size_t(static_cast<unsigned char>(extra[1])) << 24);
  }
  if (header_len > (1u << 20)) throw file_error(path, "implausible .npy header length");
  std::string header(header_len, '\0');
  if (!in.read(&header[0], header_len)) throw file_error(path, "truncated .npy header");
  if (header.find("'<f4'") == std::string::npos) throw file_error(path, "depth must be little-endian float32 ('<f4')");
  if (header.find("'fortran_order': False") == std::string::npos)
    throw file_error(path, "depth must be stored in C order");
  const auto open = header.find("'shape': (");
  const auto close = header.find(')', open);
  if (open == std::string::npos || close == std::string::npos) throw file_error(path, "missing shape in .npy header");
  std::vector<int64_t> shape;
  std::string dims = header.substr(open + 10, close - open - 10);
  size_t pos = 0;
  while (pos < dims.size()) {
    while (pos < dims.size() && (dims[pos] == ' ' || dims[pos] == ',')) ++pos;
    if (pos >= dims.size()) break;
    size_t used = 0;
    try {
      shape.push_back(std::stoll(dims.substr(pos), &used));
    } catch (const std::exception&) {
      throw file_error(path, "malformed shape in .npy header");
    }
    pos += used;
  }
  if (shape.size() != 2 || shape[0] <= 0 || shape[1] <= 0) throw file_error(path, "depth must have shape (H,W)");
  auto t = torch::empty({shape[0], shape[1]}, torch::kFloat32);
  const std::streamsize bytes = t.numel() * static_cast<std::streamsize>(sizeof(float));
  if (!in.read(reinterpret_cast<char*>(t.data_ptr<float>()), bytes))
    throw file_error(path, "truncated depth data (expected " + std::to_string(bytes) + " bytes)");
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
  if (j.value("format", "") != "fresnel-multiview") throw file_error(path, "field 'format' must be \"fresnel-multiview\"");
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
  if (std::find(indices.begin(), indices.end(), input_index) == indices.end()) indices.insert(indices.begin(), input_index);

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
      throw file_error(rgb_path, "image is " + std::to_string(view.rgb.size(1)) + "x" + std::to_string(view.rgb.size(0)) +
                                     " but its camera says " + std::to_string(w) + "x" + std::to_string(h));
    if (view.depth.size(0) != h || view.depth.size(1) != w) throw file_error(depth_path, "shape does not match the image");
    if (view.mask.size(0) != h || view.mask.size(1) != w) throw file_error(mask_path, "shape does not match the image");
    if (!torch::isfinite(view.depth).all().item<bool>()) throw file_error(depth_path, "contains NaN or Inf");
    if (v == input_index) obj.input_view = static_cast<int>(obj.views.size());
    obj.views.push_back(std::move(view));
  }
  return obj;
}

}  // namespace fresnel
