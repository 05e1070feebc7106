#include "guide/density_batch.hpp"

#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "core/atomic_write.hpp"
#include "core/log.hpp"
#include "core/npy.hpp"
#include "core/progress.hpp"
#include "guide/saliency.hpp"

namespace fresnel::guide {
namespace fs = std::filesystem;

Fallback parse_fallback(const std::string& name) {
  if (name == "none") return Fallback::None;
  if (name == "saliency") return Fallback::Saliency;
  throw UsageError("--vlm_fallback: expected none or saliency, got '" + name + "'");
}

std::string density_file_name(const std::string& stem) { return stem + "_vlm_density.npy"; }

void save_density(const std::string& path, const DensityGrid& grid, int g) {
  if (grid.size() != static_cast<size_t>(g) * g) throw Error(path + ": density grid has the wrong size");
  auto t = torch::from_blob(const_cast<float*>(grid.data()), {g, g}, torch::kFloat).clone().clamp(0.0, 1.0);
  save_npy(path, t);
}

DensityBatchStats run_density_batch(const DensityBatchOptions& o) {
  if (!valid_grid_size(o.grid_size)) throw UsageError("--vlm_grid_size must be 4, 8 or 16");
  if (o.concurrency < 1 || o.concurrency > 64) throw UsageError("--vlm_concurrency must be between 1 and 64");
  if (!o.use_vlm && o.fallback == Fallback::None) throw UsageError("density maps need --use_vlm or --vlm_fallback");

  DensityBatchStats stats;
  stats.total = static_cast<int64_t>(o.images.size());
  auto map_path = [&](const std::string& img) {
    return (fs::path(o.out_dir) / density_file_name(fs::path(img).stem().string())).string();
  };
  std::vector<std::string> pending;
  for (const auto& img : o.images) {
    if (fs::exists(map_path(img))) {
      ++stats.skipped;
    } else {
      pending.push_back(img);
    }
  }
  if (pending.empty()) return stats;
  ensure_directory(o.out_dir);

  bool use_vlm = o.use_vlm;
  if (use_vlm) {
    try {
      VlmClient(o.vlm).check_connection();
    } catch (const VlmUnavailable& e) {
      if (o.required) throw;
      stats.vlm_unreachable = true;
      use_vlm = false;
      log_warn(std::string(e.what()) + (o.fallback == Fallback::Saliency
                                            ? ". Going on with the saliency fallback."
                                            : ". Going on without VLM density maps (training weights those "
                                              "images uniformly); --vlm_required makes this an error."));
    }
  }
  std::unique_ptr<SaliencyDensity> saliency;
  if (o.fallback == Fallback::Saliency) saliency = std::make_unique<SaliencyDensity>(o.grid_size);
  const ReplyCache cache(o.cache_dir.empty() ? (fs::path(o.out_dir) / "vlm_cache").string() : o.cache_dir);
  log_info("vlm density: " + std::to_string(pending.size()) + " of " + std::to_string(o.images.size()) +
           " images need a " + std::to_string(o.grid_size) + "x" + std::to_string(o.grid_size) + " map" +
           (use_vlm ? " from " + net::redact_url(o.vlm.url) + " (model " + o.vlm.model + ", " +
                          std::to_string(o.concurrency) + " at a time" + (o.smart ? ", smart mode" : "") + ")"
                    : std::string()) +
           (saliency ? (use_vlm ? ", saliency fallback" : " from the saliency fallback") : ""));

  std::unique_ptr<Progress> bar;
  if (o.progress) bar = std::make_unique<Progress>("vlm density", static_cast<int64_t>(pending.size()), "img");
  std::mutex stats_mutex;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    std::unique_ptr<VlmClient> client;
    std::unique_ptr<VlmDensity> vlm;
    if (use_vlm) {
      client = std::make_unique<VlmClient>(o.vlm);
      vlm = std::make_unique<VlmDensity>(*client, cache, o.grid_size, o.smart);
    }
    for (size_t i = next++; i < pending.size(); i = next++) {
      const std::string& img = pending[i];
      DensityResult result;
      bool fallback_used = false;
      try {
        const std::string bytes = read_text_file(img);
        if (vlm) {
          result = vlm->compute(encode_for_vlm(bytes, img));
          if (!result.grid) log_warn(img + ": no VLM density map: " + result.problem);
        }
        if (!result.grid && saliency) {
          const std::vector<uchar> raw(bytes.begin(), bytes.end());
          const cv::Mat bgr = cv::imdecode(raw, cv::IMREAD_COLOR);
          if (bgr.empty()) throw file_error(img, "not a readable image");
          const int requests = result.requests;
          result = saliency->compute(bgr);
          result.requests = requests;
          fallback_used = true;
        }
        if (result.grid) save_density(map_path(img), *result.grid, o.grid_size);
        log_debug(img + ": " + (result.grid ? result.method : "no map"));
      } catch (const std::exception& e) {
        result.grid.reset();
        result.problem = e.what();
        log_warn(img + ": " + e.what());
      }
      {
        std::lock_guard<std::mutex> lock(stats_mutex);
        stats.requests += result.requests;
        if (!result.grid) {
          stats.without_map.push_back(img + ": " + (result.problem.empty() ? "VLM not reachable" : result.problem));
        } else if (fallback_used) {
          ++stats.from_fallback;
        } else {
          ++stats.from_vlm;
        }
      }
      if (bar) bar->advance();
    }
  };
  const int threads = std::min<int>(o.concurrency, static_cast<int>(pending.size()));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (bar) bar->finish();
  std::sort(stats.without_map.begin(), stats.without_map.end());
  return stats;
}

}  // namespace fresnel::guide
