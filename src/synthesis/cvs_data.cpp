#include "synthesis/cvs_data.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/feature_files.hpp"
#include "core/image_io.hpp"
#include "core/npy.hpp"
#include "data/multiview_dataset.hpp"

namespace fresnel::synthesis {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

RelativePose relative_pose(const Camera& source, const Camera& target) {
  // camera_relative_to gives W_t·W_s⁻¹ = [R_t·R_sᵀ | t_t − R_t·R_sᵀ·t_s]: the one place the convention lives.
  const Mat4 m = camera_relative_to(target, source).world_to_camera;
  RelativePose p;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) p.R[3 * r + c] = m[4 * r + c];
    p.t[r] = m[4 * r + 3];
  }
  return p;
}

torch::Tensor rotations_tensor(const std::vector<RelativePose>& poses) {
  auto out = torch::empty({int64_t(poses.size()), 3, 3});
  auto a = out.accessor<float, 3>();
  for (size_t b = 0; b < poses.size(); ++b)
    for (int i = 0; i < 9; ++i) a[b][i / 3][i % 3] = float(poses[b].R[i]);
  return out;
}

torch::Tensor translations_tensor(const std::vector<RelativePose>& poses) {
  auto out = torch::empty({int64_t(poses.size()), 3});
  auto a = out.accessor<float, 2>();
  for (size_t b = 0; b < poses.size(); ++b)
    for (int i = 0; i < 3; ++i) a[b][i] = float(poses[b].t[i]);
  return out;
}

FeatureSource parse_feature_source(const std::string& name) {
  if (name == "auto") return FeatureSource::Auto;
  if (name == "dinov2") return FeatureSource::Dinov2;
  if (name == "builtin") return FeatureSource::Builtin;
  throw UsageError("--features must be auto, dinov2 or builtin (got '" + name + "')");
}

torch::Tensor to_network_image(const torch::Tensor& hwc01, int size) {
  auto img = hwc01;
  if (img.size(0) != size || img.size(1) != size)
    img = resize_image(img, size, size, img.size(0) > size ? ResizeFilter::Area : ResizeFilter::Bilinear);
  return img.permute({2, 0, 1}).contiguous() * 2 - 1;
}

torch::Tensor resize_depth(const torch::Tensor& depth_hw, int size) {
  auto d = depth_hw.reshape({1, 1, depth_hw.size(-2), depth_hw.size(-1)}).to(torch::kFloat);
  if (d.size(2) != size || d.size(3) != size)
    d = F::interpolate(d, F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(torch::kNearest));
  return d[0];
}

namespace {

std::array<double, 9> read_matrix3(const nlohmann::json& j, const std::string& path) {
  if (!j.is_array() || j.size() != 3) throw file_error(path, "'R' must be a 3×3 array");
  std::array<double, 9> R{};
  for (int r = 0; r < 3; ++r) {
    if (!j[r].is_array() || j[r].size() != 3) throw file_error(path, "'R' must be a 3×3 array");
    for (int c = 0; c < 3; ++c) {
      if (!j[r][c].is_number()) throw file_error(path, "'R' holds a non-number");
      R[3 * r + c] = j[r][c].get<double>();
    }
  }
  return R;
}

}  // namespace

RelativePose load_pose_json(const std::string& path) {
  if (!fs::exists(path)) throw file_error(path, "pose file not found");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("R") || !j.contains("t")) throw file_error(path, "pose needs 'R' and 't'");
  RelativePose p;
  p.R = read_matrix3(j["R"], path);
  const auto& t = j["t"];
  if (!t.is_array() || t.size() != 3) throw file_error(path, "'t' must be 3 numbers");
  for (int i = 0; i < 3; ++i) {
    if (!t[i].is_number()) throw file_error(path, "'t' holds a non-number");
    p.t[i] = t[i].get<double>();
  }
  for (double v : p.R)
    if (!std::isfinite(v)) throw file_error(path, "'R' is not finite");
  for (double v : p.t)
    if (!std::isfinite(v)) throw file_error(path, "'t' is not finite");
  if (j.value("frame", std::string()) == "opencv-relative") return p;
  if (j.contains("frame")) throw file_error(path, "unknown pose frame '" + j["frame"].dump() + "'");
  // The original's file: absolute world→camera pose of an OpenGL-style (−Z) camera in the decoder's world, whose
  // input camera is the identity. Convert both to our cameras and take the relative pose.
  Mat4 view = mat4_identity();
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) view[4 * r + c] = p.R[3 * r + c];
    view[4 * r + 3] = p.t[r];
  }
  const Camera target = Camera::from_legacy_minus_z(view, 1, 1, 0, 0, 1, 1);
  const Camera source = Camera::from_legacy_minus_z(mat4_identity(), 1, 1, 0, 0, 1, 1);
  return relative_pose(source, target);
}

void save_pose_json(const std::string& path, const RelativePose& p) {
  nlohmann::json R = nlohmann::json::array();
  for (int r = 0; r < 3; ++r) R.push_back({p.R[3 * r], p.R[3 * r + 1], p.R[3 * r + 2]});
  nlohmann::json j = {{"R", R}, {"t", {p.t[0], p.t[1], p.t[2]}}, {"frame", "opencv-relative"}};
  write_text_file(path, j.dump(2) + "\n");
}

namespace {

// fresnel synth datasets: one sample per (object, other view).
class MultiViewPairs : public CvsSource {
 public:
  explicit MultiViewPairs(const CvsSourceOptions& o) : o_(o), ds_(o.data_dir) {
    ids_ = ds_.object_ids(o.split);
    if (o.max_objects > 0 && int64_t(ids_.size()) > o.max_objects) ids_.resize(o.max_objects);
    others_ = ds_.views_per_object() - 1;
    const std::string meta = (fs::path(o.data_dir) / "dataset.json").string();
    if (others_ < 1)
      throw file_error(meta,
                       "the dataset has no views besides the input view; CVS learns from other views "
                       "(fresnel synth --views N)");
    if (ids_.empty()) throw file_error(meta, "split '" + o.split + "' has no objects");
    features_dir_ = (fs::path(split_images_dir(o.data_dir, o.split)) / "features").string();
  }
  std::string describe() const override {
    return o_.data_dir + " (" + o_.split + ": " + std::to_string(ids_.size()) + " objects × " +
           std::to_string(others_) + " other views)";
  }
  int64_t size() const override { return int64_t(ids_.size()) * others_; }
  bool has_dinov2_features() const override { return fs::exists(feature_path(ids_.front())); }
  CvsSample load(int64_t i, uint64_t) const override {
    const auto& id = ids_.at(size_t(i / others_));
    const int view = 1 + int(i % others_);
    auto obj = ds_.load_object(o_.split, id, {view});
    const ViewData* target = nullptr;
    for (const auto& v : obj.views)
      if (v.index == view) target = &v;
    if (!target) throw Error(obj.dir + ": view " + std::to_string(view) + " was not loaded");
    CvsSample s;
    s.name = id + "/" + view_rgb_name(view);
    s.input = to_network_image(obj.input().rgb, o_.image_size);
    s.target = to_network_image(target->rgb, o_.image_size);
    s.target_depth = resize_depth(target->depth, o_.image_size);
    s.pose = relative_pose(obj.input().camera, target->camera);
    if (o_.load_features) s.features = load_dinov2_features(feature_path(id));
    return s;
  }

 private:
  std::string feature_path(const std::string& id) const {
    return (fs::path(features_dir_) / dinov2_file_name(id, "small")).string();
  }
  CvsSourceOptions o_;
  MultiViewDataset ds_;
  std::vector<std::string> ids_;
  int64_t others_ = 0;
  std::string features_dir_;
};

bool is_bootstrap_image_dir(const fs::path& d) { return fs::exists(d / "input.png"); }

// The original's bootstrap layout: one sample per (image directory, view directory).
class BootstrapPairs : public CvsSource {
 public:
  explicit BootstrapPairs(const CvsSourceOptions& o) : o_(o) {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(o.data_dir))
      if (e.is_directory() && is_bootstrap_image_dir(e.path())) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    if (o.max_objects > 0 && int64_t(dirs.size()) > o.max_objects) dirs.resize(o.max_objects);
    for (const auto& d : dirs) {
      std::vector<fs::path> views;
      for (const auto& e : fs::directory_iterator(d))
        if (e.is_directory() && e.path().filename().string().rfind("view_", 0) == 0) views.push_back(e.path());
      std::sort(views.begin(), views.end());
      if (views.empty())
        throw file_error(d.string(), "has no view_* directories; CVS learns from other views of each image");
      for (const auto& v : views) pairs_.emplace_back(d, v);
    }
    if (pairs_.empty()) throw file_error(o.data_dir, "no image directories with input.png");
  }
  std::string describe() const override {
    return o_.data_dir + " (bootstrap layout: " + std::to_string(pairs_.size()) + " (image, view) pairs)";
  }
  int64_t size() const override { return int64_t(pairs_.size()); }
  bool has_dinov2_features() const override { return fs::exists(pairs_.front().first / "input_features.npy"); }
  CvsSample load(int64_t i, uint64_t) const override {
    const auto& [dir, view] = pairs_.at(size_t(i));
    CvsSample s;
    s.name = dir.filename().string() + "/" + view.filename().string();
    // The pose first: a missing pose file fails before any image is decoded.
    s.pose = load_pose_json((view / "pose.json").string());
    s.input = to_network_image(load_image((dir / "input.png").string()), o_.image_size);
    s.target = to_network_image(load_image((view / "rgb.png").string()), o_.image_size);
    const auto depth_path = (view / "depth.npy").string();
    auto depth = load_npy_float(depth_path);
    if (depth.dim() == 3 && depth.size(0) == 1) depth = depth[0];
    if (depth.dim() != 2) throw file_error(depth_path, "depth must be (H,W) or (1,H,W)");
    if (!torch::isfinite(depth).all().item<bool>()) throw file_error(depth_path, "depth holds NaN or Inf");
    s.target_depth = resize_depth(depth, o_.image_size);
    if (o_.load_features) {
      const auto fpath = (dir / "input_features.npy").string();
      auto f = load_npy_float(fpath);
      if (f.dim() != 3 || f.size(0) != kDinoGrid || f.size(1) != kDinoGrid)
        throw file_error(fpath, "features must be (37,37,C)");
      s.features = f.permute({2, 0, 1}).contiguous();
    }
    return s;
  }

 private:
  CvsSourceOptions o_;
  std::vector<std::pair<fs::path, fs::path>> pairs_;
};

// The original's self-target dataset: the image is its own target under a random pose (axis-angle |θ| ≤ 30°,
// t ~ N(0, 0.3²)). No view ever shows another side, so nothing about novel views can be learned.
class SelfTargetImages : public CvsSource {
 public:
  explicit SelfTargetImages(const CvsSourceOptions& o) : o_(o) {
    fs::path dir = o.data_dir;
    if (fs::is_directory(dir / "images")) dir /= "images";
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && is_image_file(e.path().string())) files_.push_back(e.path());
    std::sort(files_.begin(), files_.end());
    if (o.max_objects > 0 && int64_t(files_.size()) > o.max_objects) files_.resize(o.max_objects);
    if (files_.empty()) throw file_error(dir.string(), "no images (" + supported_image_extensions() + ")");
    features_dir_ = dir / "features";
  }
  std::string describe() const override {
    return o_.data_dir + " (self-target: " + std::to_string(files_.size()) + " images as their own targets)";
  }
  int64_t size() const override { return int64_t(files_.size()); }
  bool has_dinov2_features() const override { return fs::exists(feature_path(files_.front())); }
  CvsSample load(int64_t i, uint64_t seed) const override {
    const auto& f = files_.at(size_t(i));
    CvsSample s;
    s.name = f.filename().string();
    s.input = to_network_image(load_image(f.string()), o_.image_size);
    s.target = s.input.clone();
    std::mt19937_64 rng(seed ^ (0x9e3779b97f4a7c15ull * uint64_t(i + 1)));
    std::normal_distribution<double> n01(0, 1);
    std::uniform_real_distribution<double> u(-M_PI / 6, M_PI / 6);
    double ax[3] = {n01(rng), n01(rng), n01(rng)};
    const double len = std::sqrt(ax[0] * ax[0] + ax[1] * ax[1] + ax[2] * ax[2]) + 1e-8;
    for (double& a : ax) a /= len;
    const double th = u(rng), sn = std::sin(th), cs = 1 - std::cos(th);
    const double K[9] = {0, -ax[2], ax[1], ax[2], 0, -ax[0], -ax[1], ax[0], 0};
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) {
        double kk = 0;
        for (int m = 0; m < 3; ++m) kk += K[3 * r + m] * K[3 * m + c];
        s.pose.R[3 * r + c] = (r == c ? 1.0 : 0.0) + sn * K[3 * r + c] + cs * kk;
      }
    for (double& t : s.pose.t) t = 0.3 * n01(rng);
    if (o_.load_features) s.features = load_dinov2_features(feature_path(f));
    return s;
  }

 private:
  std::string feature_path(const fs::path& f) const {
    return (features_dir_ / dinov2_file_name(f.stem().string(), "small")).string();
  }
  CvsSourceOptions o_;
  std::vector<fs::path> files_;
  fs::path features_dir_;
};

}  // namespace

std::unique_ptr<CvsSource> open_cvs_source(const CvsSourceOptions& o) {
  if (!fs::is_directory(o.data_dir)) throw file_error(o.data_dir, "data directory not found");
  if (o.image_size < 1) throw UsageError("image_size must be >= 1");
  if (o.self_target) return std::make_unique<SelfTargetImages>(o);
  if (MultiViewDataset::looks_like_dataset(o.data_dir)) return std::make_unique<MultiViewPairs>(o);
  for (const auto& e : fs::directory_iterator(o.data_dir))
    if (e.is_directory() && is_bootstrap_image_dir(e.path())) return std::make_unique<BootstrapPairs>(o);
  throw file_error(o.data_dir,
                   "neither a multi-view dataset (dataset.json, from fresnel synth) nor the bootstrap layout "
                   "(<image>/input.png + view_*/); a folder of single images trains only with --self_target_dataset, "
                   "which learns nothing about other views");
}

}  // namespace fresnel::synthesis
