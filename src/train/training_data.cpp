#include "train/training_data.hpp"

#include <algorithm>
#include <filesystem>
#include <random>

#include "core/error.hpp"
#include "core/feature_files.hpp"
#include "core/image_io.hpp"
#include "core/log.hpp"
#include "core/npy.hpp"
#include "data/multiview_dataset.hpp"

namespace fresnel::train {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9e3779b97f4a7c15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

torch::Tensor color_jitter(const torch::Tensor& img, double b, double c, double s) {
  auto x = (img * b).clamp(0.0, 1.0);
  auto luma = [](const torch::Tensor& t) { return 0.299 * t[0] + 0.587 * t[1] + 0.114 * t[2]; };
  const auto m = luma(x).mean();
  x = ((x - m) * c + m).clamp(0.0, 1.0);
  auto g = luma(x).unsqueeze(0);
  return ((x - g) * s + g).clamp(0.0, 1.0);
}

namespace {

torch::Tensor resize_chw(const torch::Tensor& chw, int size, torch::enumtype::kBilinear mode = torch::kBilinear) {
  if (chw.size(1) == size && chw.size(2) == size) return chw;
  return F::interpolate(
      chw.unsqueeze(0),
      F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(mode).align_corners(false))[0];
}

torch::Tensor resize_nearest(const torch::Tensor& chw, int size) {
  if (chw.size(1) == size && chw.size(2) == size) return chw;
  return F::interpolate(chw.unsqueeze(0),
                        F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(torch::kNearest))[0];
}

struct Jitter {
  bool on = false;
  double b = 1, c = 1, s = 1;
  static Jitter draw(bool enabled, std::mt19937_64& rng) {
    Jitter j;
    std::uniform_real_distribution<double> u(0.0, 1.0);
    if (!enabled || u(rng) >= 0.5) return j;
    j.on = true;
    j.b = 0.8 + 0.4 * u(rng);
    j.c = 0.8 + 0.4 * u(rng);
    j.s = 0.9 + 0.2 * u(rng);
    return j;
  }
  torch::Tensor apply(const torch::Tensor& img) const { return on ? color_jitter(img, b, c, s) : img; }
};

// The original's layout: DATA_DIR/*.{jpg,jpeg,png,webp} and DATA_DIR/features/.
class SingleViewSource : public SampleSource {
 public:
  explicit SingleViewSource(const SourceOptions& o) : o_(o) {
    if (!fs::is_directory(o.data_dir)) throw Error(o.data_dir + ": data directory not found");
    for (const auto& e : fs::directory_iterator(o.data_dir))
      if (e.is_regular_file() && is_image_file(e.path().string())) files_.push_back(e.path().string());
    std::sort(files_.begin(), files_.end());
    if (o.max_images > 0 && static_cast<int64_t>(files_.size()) > o.max_images) files_.resize(o.max_images);
    if (files_.empty()) throw Error(o.data_dir + ": no training images (" + supported_image_extensions() + ")");
    features_dir_ = (fs::path(o.data_dir) / "features").string();
  }
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  decode::DepthMode depth_mode() const override { return decode::DepthMode::Normalized; }
  std::string describe() const override {
    return std::to_string(files_.size()) + " images (single-view layout) in " + o_.data_dir;
  }
  Sample load(int64_t index, uint64_t seed) const override {
    std::mt19937_64 rng(seed);
    const std::string& path = files_.at(index);
    const std::string stem = fs::path(path).stem().string();
    Sample s;
    s.name = stem;
    // preprocess writes the exact encoder input (after background removal and crop) as {stem}_input.png: features,
    // depth and target then share one crop.
    const auto input_png = fs::path(features_dir_) / (stem + "_input.png");
    auto img = load_image(fs::exists(input_png) ? input_png.string() : path);  // (H,W,3)
    img = resize_image(img, o_.image_size, o_.image_size, ResizeFilter::Lanczos).clamp(0.0, 1.0);
    s.image = Jitter::draw(o_.augment, rng).apply(img.permute({2, 0, 1}).contiguous());
    if (o_.load_features)
      s.features = load_dinov2_features((fs::path(features_dir_) / dinov2_file_name(stem, o_.feature_file)).string(),
                                        o_.feature_dim);
    const auto depth_path = fs::path(features_dir_) / depth_file_name(stem);
    if (fs::exists(depth_path)) s.depth = resize_chw(load_depth_bin(depth_path.string()).unsqueeze(0), o_.image_size);
    const auto vlm_path = fs::path(features_dir_) / (stem + "_vlm_density.npy");
    if (fs::exists(vlm_path)) {
      auto g = load_npy_float(vlm_path.string());
      if (g.dim() != 2) throw file_error(vlm_path.string(), "VLM density must be a 2-D grid");
      if (!torch::isfinite(g).all().item<bool>()) throw file_error(vlm_path.string(), "VLM density has NaN/Inf");
      s.vlm_density = 0.5 + resize_chw(g.clamp(0.0, 1.0).unsqueeze(0), o_.image_size);
    }
    s.intrinsics = decode::default_normalized_intrinsics(1, torch::TensorOptions())[0];
    return s;
  }

 private:
  SourceOptions o_;
  std::vector<std::string> files_;
  std::string features_dir_;
};

class MultiViewSource : public SampleSource {
 public:
  explicit MultiViewSource(const SourceOptions& o) : o_(o), ds_(o.data_dir) {
    ids_ = ds_.object_ids(o.split);
    if (o.max_images > 0 && static_cast<int64_t>(ids_.size()) > o.max_images) ids_.resize(o.max_images);
    if (ids_.empty()) throw Error(o.data_dir + ": no objects in split '" + o.split + "'");
    const int extra = ds_.views_per_object() - 1;
    if (o.novel_views > extra)
      throw UsageError("SourceOptions::novel_views " + std::to_string(o.novel_views) + " exceeds the " +
                       std::to_string(extra) + " extra views per object of " + o.data_dir);
    if (o.load_features) features_dir_ = (fs::path(split_images_dir(o.data_dir, o.split)) / "features").string();
  }
  int64_t size() const override { return static_cast<int64_t>(ids_.size()); }
  decode::DepthMode depth_mode() const override {
    // Precomputed features come with Depth Anything's normalised depth files; otherwise the dataset's metric depth.
    return o_.load_features ? decode::DepthMode::Normalized : decode::DepthMode::Metric;
  }
  int extra_views_per_sample() const override { return ds_.views_per_object() - 1; }
  std::string describe() const override {
    return std::to_string(ids_.size()) + " objects × " + std::to_string(ds_.views_per_object()) + " views in " +
           o_.data_dir + " (" + o_.split + ")";
  }
  Sample load(int64_t index, uint64_t seed) const override {
    std::mt19937_64 rng(seed);
    const auto& id = ids_.at(index);
    std::vector<int> extra;
    for (int v = 1; v < ds_.views_per_object(); ++v) extra.push_back(v);
    std::shuffle(extra.begin(), extra.end(), rng);
    extra.resize(std::min<size_t>(extra.size(), static_cast<size_t>(o_.novel_views)));
    std::sort(extra.begin(), extra.end());
    auto obj = ds_.load_object(o_.split, id, extra.empty() ? std::vector<int>{0} : extra);
    const auto jitter = Jitter::draw(o_.augment, rng);
    const int S = o_.image_size;
    auto rel = obj.relative_cameras();
    auto to_view = [&](const ViewData& v, const Camera& cam) {
      TrainView t;
      t.rgb = jitter.apply(resize_chw(v.rgb.permute({2, 0, 1}).contiguous(), S));
      t.depth = resize_nearest(v.depth.unsqueeze(0), S);
      t.mask = resize_chw(v.mask.unsqueeze(0), S);
      t.camera = cam.resized(S, S);
      return t;
    };
    Sample s;
    s.name = id;
    const auto& in = obj.input();
    auto input_view = to_view(in, rel[obj.input_view]);
    s.image = input_view.rgb;
    s.mask = input_view.mask;
    if (o_.load_features) {
      const std::string stem = id;
      s.features = load_dinov2_features((fs::path(features_dir_) / dinov2_file_name(stem, o_.feature_file)).string(),
                                        o_.feature_dim);
      const auto depth_path = fs::path(features_dir_) / depth_file_name(stem);
      if (fs::exists(depth_path)) s.depth = resize_chw(load_depth_bin(depth_path.string()).unsqueeze(0), S);
    } else {
      s.depth = input_view.depth;
    }
    const Camera& c = input_view.camera;
    s.intrinsics =
        torch::tensor({float(c.fx / c.width), float(c.fy / c.height), float(c.cx / c.width), float(c.cy / c.height)});
    for (size_t i = 0; i < obj.views.size(); ++i)
      if (static_cast<int>(i) != obj.input_view && obj.views[i].index != in.index)
        s.views.push_back(to_view(obj.views[i], rel[i]));
    return s;
  }

 private:
  SourceOptions o_;
  MultiViewDataset ds_;
  std::vector<std::string> ids_;
  std::string features_dir_;
};

torch::Tensor stack_field(const std::vector<Sample>& s, torch::Tensor Sample::*field, const char* name) {
  const bool first = (s[0].*field).defined();
  std::vector<torch::Tensor> parts;
  for (const auto& x : s) {
    if ((x.*field).defined() != first)
      throw Error(std::string("batch: field '") + name + "' present in only some samples (" + x.name + ")");
    if (first) parts.push_back(x.*field);
  }
  return first ? torch::stack(parts) : torch::Tensor();
}

}  // namespace

Batch collate(const std::vector<Sample>& s) {
  if (s.empty()) throw Error("batch: no samples");
  Batch b;
  for (const auto& x : s) b.names.push_back(x.name);
  b.images = stack_field(s, &Sample::image, "image");
  b.features = stack_field(s, &Sample::features, "features");
  b.depth = stack_field(s, &Sample::depth, "depth");
  b.mask = stack_field(s, &Sample::mask, "mask");
  b.vlm_density = stack_field(s, &Sample::vlm_density, "vlm_density");
  b.intrinsics = stack_field(s, &Sample::intrinsics, "intrinsics");
  const size_t V = s[0].views.size();
  if (V > 0) {
    std::vector<torch::Tensor> imgs, masks, depths;
    bool all_depths = true;
    for (const auto& x : s) {
      if (x.views.size() != V) throw Error("batch: samples have different numbers of views (" + x.name + ")");
      std::vector<torch::Tensor> vi, vm;
      std::vector<Camera> cams;
      for (const auto& v : x.views) {
        vi.push_back(v.rgb);
        vm.push_back(v.mask.defined() ? v.mask : torch::ones({1, v.rgb.size(1), v.rgb.size(2)}));
        cams.push_back(v.camera);
        all_depths = all_depths && v.depth.defined();
        if (all_depths) depths.push_back(v.depth);
      }
      imgs.push_back(torch::stack(vi));
      masks.push_back(torch::stack(vm));
      b.view_cameras.push_back(std::move(cams));
    }
    b.view_images = torch::stack(imgs);
    b.view_masks = torch::stack(masks);
    if (all_depths) b.view_depths = torch::stack(depths).view({int64_t(s.size()), int64_t(V), 1, imgs[0].size(2),
                                                                 imgs[0].size(3)});
  }
  return b;
}

std::unique_ptr<SampleSource> open_source(const SourceOptions& o) {
  if (MultiViewDataset::looks_like_dataset(o.data_dir)) return std::make_unique<MultiViewSource>(o);
  return std::make_unique<SingleViewSource>(o);
}

BatchLoader::BatchLoader(const SampleSource& source, std::vector<int64_t> order, int64_t batch_size,
                         uint64_t epoch_seed, int num_workers, int prefetch)
    : order_(std::move(order)) {
  const int64_t size = std::max<int64_t>(1, batch_size);
  const int64_t batches = (static_cast<int64_t>(order_.size()) + size - 1) / size;
  loader_ = std::make_unique<BackgroundLoader<Batch>>(
      batches,
      [this, &source, size, epoch_seed](int64_t i) {
        std::vector<Sample> samples;
        const int64_t lo = i * size, hi = std::min<int64_t>(lo + size, order_.size());
        for (int64_t k = lo; k < hi; ++k) samples.push_back(source.load(order_[k], mix_seed(epoch_seed, order_[k])));
        return collate(samples);
      },
      num_workers, prefetch);
}

}  // namespace fresnel::train
