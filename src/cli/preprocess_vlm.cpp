#include "cli/preprocess_vlm.hpp"

#include <filesystem>
#include <iostream>

#include "cli/vlm_flags.hpp"
#include "core/error.hpp"
#include "guide/density_batch.hpp"

namespace fresnel::cli {

void add_preprocess_vlm_flags(CLI::App* cmd, PreprocessVlmFlags& f) {
  cmd->add_flag("--use_vlm", f.use_vlm,
                "Also write {stem}_vlm_density.npy (GxG float32 in [0,1]) from a vision-language model; without "
                "encoder weights only the density maps are written (enough for --encoder builtin)");
  add_vlm_client_flags(cmd, f.vlm);
  cmd->add_option("--vlm_grid_size", f.grid_size, "VLM density grid size")
      ->check(CLI::IsMember({4, 8, 16}))
      ->capture_default_str();
  cmd->add_flag("--vlm_smart", f.smart, "Smart mode: ask the image type; faces get a landmark blob map");
  cmd->add_option("--vlm_concurrency", f.concurrency, "VLM requests in flight (LM Studio serves one at a time)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_flag("--vlm_required", f.required,
                "Fail (exit 1) when the VLM is unreachable or an image gets no map, instead of going on without");
  add_vlm_fallback_flag(cmd, f.fallback);
}

void run_preprocess_vlm(const encode::PreprocessOptions& o, PreprocessVlmFlags f) {
  guide::DensityBatchOptions b;
  const auto all = encode::list_images(o.data_dir);
  for (size_t i = 0; i < all.size(); ++i)
    if (static_cast<int>(i % o.shard_count) == o.shard_index) b.images.push_back(all[i]);
  b.out_dir = o.output_dir.empty() ? (std::filesystem::path(o.data_dir) / "features").string() : o.output_dir;
  b.grid_size = f.grid_size;
  b.use_vlm = f.use_vlm;
  f.vlm.api_key = guide::VlmOptions::api_key_from_env();
  b.vlm = f.vlm;
  b.smart = f.smart;
  b.concurrency = f.concurrency;
  b.required = f.required;
  b.fallback = guide::parse_fallback(f.fallback);
  b.progress = o.progress;
  const auto s = guide::run_density_batch(b);
  std::cout << "vlm density: " << s.from_vlm << " from the VLM, " << s.from_fallback << " from the fallback, "
            << s.skipped << " already present, " << s.without_map.size() << " without a map, " << s.requests
            << " VLM request(s)\n";
  for (const auto& w : s.without_map) std::cout << "  no density map: " << w << "\n";
  if (f.required && !s.without_map.empty())
    throw Error(std::to_string(s.without_map.size()) +
                " image(s) got no VLM density map (--vlm_required; listed above)");
}

}  // namespace fresnel::cli
