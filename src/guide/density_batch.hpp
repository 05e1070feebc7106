// `preprocess --use_vlm` / `--vlm_fallback saliency`: `{stem}_vlm_density.npy` (G×G float32 in [0,1], the original's
// name and layout) for every image of a list. Existing maps are skipped, maps are written atomically, VLM replies are
// cached, requests go out `concurrency` at a time, and an unreachable server is a warning unless `required`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "guide/density.hpp"
#include "guide/vlm_client.hpp"

namespace fresnel::guide {

enum class Fallback { None, Saliency };
Fallback parse_fallback(const std::string& name);  // "none" | "saliency"; UsageError otherwise

struct DensityBatchOptions {
  std::vector<std::string> images;
  std::string out_dir;
  int grid_size = 8;
  bool use_vlm = false;
  VlmOptions vlm;
  bool smart = false;
  int concurrency = 1;    // LM Studio answers one request at a time
  bool required = false;  // an unreachable server or an image without a map is an error
  Fallback fallback = Fallback::None;
  std::string cache_dir;  // empty → <out_dir>/vlm_cache
  bool progress = true;
};

struct DensityBatchStats {
  int64_t total = 0;
  int64_t skipped = 0;  // map already present
  int64_t from_vlm = 0;
  int64_t from_fallback = 0;
  int64_t requests = 0;  // chat requests sent (cache misses)
  bool vlm_unreachable = false;
  std::vector<std::string> without_map;  // "path: reason"
};

std::string density_file_name(const std::string& stem);  // "{stem}_vlm_density.npy"
// Writes a G×G float32 .npy atomically.
void save_density(const std::string& path, const DensityGrid& grid, int grid_size);

// Images that get no map are counted and listed in the stats (the caller decides the exit code). Throws
// VlmUnavailable (required and the server is down), Error (setup problems such as missing Haar cascades) or
// UsageError (bad options).
DensityBatchStats run_density_batch(const DensityBatchOptions& options);

}  // namespace fresnel::guide
