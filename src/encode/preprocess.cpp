#include "encode/preprocess.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/feature_files.hpp"
#include "core/image_io.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "encode/background_removal.hpp"
#include "encode/image_preprocess.hpp"
#include "encode/weights.hpp"

namespace fresnel::encode {
namespace fs = std::filesystem;

std::vector<std::string> list_images(const std::string& dir) {
  if (!fs::is_directory(dir)) throw file_error(dir, "data directory not found");
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && is_image_file(e.path().string())) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::pair<int, int> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  try {
    if (slash != std::string::npos) {
      size_t a = 0, b = 0;
      const int i = std::stoi(text.substr(0, slash), &a), n = std::stoi(text.substr(slash + 1), &b);
      if (a == slash && b == text.size() - slash - 1 && n >= 1 && i >= 0 && i < n) return {i, n};
    }
  } catch (const std::exception&) {
  }
  throw UsageError("shard: expected i/n with 0 <= i < n (e.g. 0/4 … 3/4), got '" + text + "'");
}

std::string input_image_file_name(const std::string& stem) { return stem + "_input.png"; }

namespace {

// Depth Anything output (H,W) → min-max [0,1] (zeros when flat, as the original) → S×S with PIL's BILINEAR on
// floats. Unlike the original there is no 8-bit quantisation step.
torch::Tensor normalise_depth(const torch::Tensor& depth, int64_t size) {
  auto d = depth.to(torch::kFloat).contiguous();
  const float lo = d.min().item<float>(), hi = d.max().item<float>();
  d = hi - lo > 1e-6f ? (d - lo) / (hi - lo) : torch::zeros_like(d);
  if (d.size(0) != size || d.size(1) != size) d = pil_resize(d, size, size, PilFilter::Bilinear);
  return d.clamp(0, 1);
}

std::string require_weights(const std::string& path, const std::string& what, const std::string& field) {
  if (path.empty())
    throw UsageError("preprocess needs " + what + " weights (PreprocessOptions::" + field +
                     "): an official safetensors file (see `fresnel models` and docs/encoders.md). "
                     "Preprocessing exists only for the pretrained-encoder path; the built-in encoder "
                     "(ModelConfig::encoder = \"builtin\") reads images directly and needs no preprocessing.");
  if (!fs::exists(path))
    throw file_error(path, what + " weights not found (PreprocessOptions::" + field +
                               "). Without them preprocess cannot write " +
                               (what == "DINOv2" ? "the dinov2 feature files" : "the depth files") +
                               "; the built-in encoder path (ModelConfig::encoder = \"builtin\") needs no "
                               "preprocessing.");
  return path;
}

}  // namespace

PreprocessStats run_preprocess(const PreprocessOptions& o) {
  if (o.depth_size < 1 || o.depth_size > 4096)
    throw UsageError("PreprocessOptions::depth_size must be between 1 and 4096");
  if (o.shard_count < 1 || o.shard_index < 0 || o.shard_index >= o.shard_count)
    throw UsageError("PreprocessOptions::shard_index must lie in [0, shard_count)");
  const int64_t channels = dinov2_channels(o.dinov2_size);  // UsageError for an unknown size
  const auto images = list_images(o.data_dir);
  const std::string out_dir = o.output_dir.empty() ? (fs::path(o.data_dir) / "features").string() : o.output_dir;

  PreprocessStats stats;
  std::vector<std::string> mine;
  for (size_t i = 0; i < images.size(); ++i)
    if (static_cast<int>(i % o.shard_count) == o.shard_index) mine.push_back(images[i]);
  stats.total = static_cast<int64_t>(mine.size());
  if (images.empty()) throw file_error(o.data_dir, "no images (" + supported_image_extensions() + ") found");

  auto outputs_of = [&](const std::string& img) {
    const std::string stem = fs::path(img).stem().string();
    std::vector<std::string> files = {(fs::path(out_dir) / dinov2_file_name(stem, o.dinov2_size)).string(),
                                      (fs::path(out_dir) / depth_file_name(stem)).string()};
    if (o.remove_background) files.push_back((fs::path(out_dir) / input_image_file_name(stem)).string());
    return files;
  };
  std::vector<std::string> pending;
  for (const auto& img : mine) {
    const auto files = outputs_of(img);
    if (std::all_of(files.begin(), files.end(), [](const std::string& f) { return fs::exists(f); })) {
      ++stats.skipped;
    } else {
      pending.push_back(img);
    }
  }
  log_info("preprocess: " + std::to_string(mine.size()) + " images in shard " + std::to_string(o.shard_index) + "/" +
           std::to_string(o.shard_count) + ", " + std::to_string(stats.skipped) + " already done, output " + out_dir);
  if (pending.empty()) return stats;

  // Load models only when there is work (a finished folder needs no weights).
  auto dinov2 = load_dinov2(require_weights(o.dinov2_weights, "DINOv2", "dinov2_weights"), o.dinov2_size);
  if (dinov2->config.hidden != channels)
    throw file_error(o.dinov2_weights, "feature width " + std::to_string(dinov2->config.hidden) +
                                           " does not match PreprocessOptions::dinov2_size " + o.dinov2_size);
  auto depth = load_depth_anything(require_weights(o.depth_weights, "Depth Anything V2", "depth_weights"));
  dinov2->to(o.device);
  depth->to(o.device);
  std::unique_ptr<BackgroundRemover> remover;
  if (o.remove_background) remover = std::make_unique<BackgroundRemover>(o.bg_model);
  ensure_directory(out_dir);
  log_info(std::string("preprocess: DINOv2-") + dinov2->config.name + " features, Depth Anything V2-" +
           depth->config.name + " depth (" + std::to_string(o.depth_size) + "²)" +
           (o.remove_background
                ? std::string(", background removal: ") + (o.bg_model.empty() ? "GrabCut" : "U²-Net ONNX")
                : std::string()));

  // Inference mode (not just no-grad) also skips version counting; the encoders take their two-core CPU path.
  c10::InferenceMode inference;
  std::unique_ptr<Progress> bar;
  if (o.progress) bar = std::make_unique<Progress>("preprocess", static_cast<int64_t>(pending.size()), "img");
  for (const auto& img : pending) {
    try {
      const auto files = outputs_of(img);
      auto loaded = to_u8(load_image(img, /*keep_alpha=*/o.remove_background));
      PreparedImage prepared = remover ? remover->prepare(loaded) : prepare_without_removal(loaded);
      auto pixels = encoder_input(prepared.rgb).to(o.device);
      if (!fs::exists(files[0])) {
        auto feats = dinov2->patch_features(pixels)[0].cpu();  // (37,37,C)
        save_dinov2_features(files[0], feats.permute({2, 0, 1}).contiguous());
      }
      if (!fs::exists(files[1]))
        save_depth_bin(files[1], normalise_depth(depth->forward(pixels)[0].cpu(), o.depth_size));
      if (o.remove_background && !fs::exists(files[2])) save_image(files[2], prepared.rgb.to(torch::kFloat) / 255.0);
      log_debug(img + ": " + prepared.method);
      ++stats.processed;
    } catch (const std::exception& e) {
      ++stats.failed;
      stats.failures.push_back(img + ": " + e.what());
      log_warn("preprocess failed: " + img + ": " + e.what());
    }
    if (bar) bar->advance();
  }
  if (bar) bar->finish();
  return stats;
}

}  // namespace fresnel::encode
