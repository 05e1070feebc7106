// `fresnel synth`: procedural multi-view dataset for novel-view evaluation (docs/dataset.md).
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/v2_features.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "data/synth_dataset.hpp"
#include "data/synth_v2.hpp"
#include "encode/weights.hpp"

namespace fresnel::cli {

void register_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "synth",
      "Generate a procedural multi-view dataset: objects of 1-4 textured primitives ray cast from an input view and "
      "V other views (RGB, metric depth, mask, cameras), split into train/val/test. Deterministic for a seed.");
  auto opts = std::make_shared<synth::SynthOptions>();
  auto split = std::make_shared<std::string>("0.8,0.1,0.1");
  cmd->add_option("--out", opts->out_dir, "Output dataset directory")->required();
  cmd->add_option("--objects", opts->objects, "Number of objects")->capture_default_str();
  cmd->add_option("--views", opts->views, "Views per object besides the input view (within --azimuth_range of it)")
      ->capture_default_str();
  cmd->add_option("--azimuth_range", opts->azimuth_range_deg,
                  "Other views lie within ±DEG azimuth of the input view (180: all around, backs included)")
      ->check(CLI::Range(10.0, 180.0))
      ->capture_default_str();
  cmd->add_option("--elevation_range", opts->elevation_range_deg,
                  "Other views lie within ±DEG elevation of the input view's")
      ->check(CLI::Range(0.0, 90.0))
      ->capture_default_str();
  cmd->add_option("--size", opts->image_size, "Image width and height in pixels")->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Random seed (same seed, same bytes)")->capture_default_str();
  cmd->add_option("--split", *split, "Train,val,test fractions, e.g. 0.8,0.1,0.1")->capture_default_str();
  cmd->add_option("--aa", opts->supersample, "Anti-aliasing: NxN rays per pixel")->capture_default_str();
  auto v2 = std::make_shared<bool>(false);
  cmd->add_flag("--v2", *v2,
                "Write a Fresnel v2 (TRELLIS distillation) dataset instead: image.png, features.pt, coords.pt, "
                "slat.pt, gaussians.ply, cameras.json (input camera), metadata.json per object (docs/v2.md); uses "
                "--out, --objects, --seed, --aa, --dinov2_weights, --dinov2_size; --views, --azimuth_range and "
                "--elevation_range only choose the objects: the same flags without --v2 write the held-out views of "
                "the same objects for `fresnel eval`");
  auto dino = std::make_shared<V2FeatureFlags>();
  add_v2_feature_flags(cmd, *dino);
  set_guarded_callback(cmd, [opts, split, v2, dino] {
    if (!*v2 && !dino->dinov2_weights.empty()) throw UsageError("--dinov2_weights needs --v2");
    if (*v2) {
      synth::V2Options v2opts;
      v2opts.out_dir = opts->out_dir;
      v2opts.objects = opts->objects;
      v2opts.seed = opts->seed;
      v2opts.supersample = opts->supersample;
      v2opts.views = opts->views;
      v2opts.azimuth_range_deg = opts->azimuth_range_deg;
      v2opts.elevation_range_deg = opts->elevation_range_deg;
      if (!dino->dinov2_weights.empty()) {
        auto model = encode::load_dinov2(dino->dinov2_weights, dino->dinov2_size);
        v2opts.features = [m = model.ptr()](const torch::Tensor& rgb) {
          return encode::trellis_condition_features(*m, rgb);
        };
        v2opts.features_description =
            "TRELLIS conditioning of image.png: " + encode::trellis_condition_description(model->config) + " from " +
            dino->dinov2_weights;
        std::cout << "synth --v2 features: " << v2opts.features_description << "\n";
      } else {
        std::cout << "synth --v2 features: the fixed patch embedding (1, 1369, 620); no --dinov2_weights\n";
      }
      synth::generate_v2_dataset(v2opts);
      std::cout << "wrote " << opts->objects << " v2 objects to " << opts->out_dir << "\n";
      return;
    }
    opts->split = synth::parse_split(*split);
    synth::generate_dataset(*opts);
    const auto counts = synth::split_counts(opts->objects, opts->split);
    std::cout << "wrote " << opts->objects << " objects (" << counts[0] << " train, " << counts[1] << " val, "
              << counts[2] << " test) x " << (opts->views + 1) << " views of " << opts->image_size << "x"
              << opts->image_size << " to " << opts->out_dir << "\n";
  });
}

}  // namespace fresnel::cli
