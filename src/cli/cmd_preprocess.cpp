// `fresnel preprocess`: the original's preprocess_training_data.py — DINOv2 features and Depth Anything V2 depth for
// every image of a folder, optionally after background removal, resumable and shardable.
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/device_option.hpp"
#include "cli/preprocess_vlm.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "encode/preprocess.hpp"

namespace fresnel::cli {

void register_preprocess(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "preprocess",
      "Compute {stem}_dinov2.bin (37x37xC float32) and {stem}_depth.bin (SxS float32 in [0,1]) for every image in "
      "--data_dir with DINOv2 and Depth Anything V2 (official safetensors weights). Finished images are skipped, so "
      "an interrupted run resumes; --shard splits the work across machines.");
  auto o = std::make_shared<encode::PreprocessOptions>();
  auto shard = std::make_shared<std::string>("0/1");
  auto vlm = std::make_shared<PreprocessVlmFlags>();
  cmd->add_option("--data_dir", o->data_dir, "Folder of training images (" + supported_image_extensions() + ")")
      ->required();
  cmd->add_option("--output_dir", o->output_dir, "Output folder (default: <data_dir>/features)");
  cmd->add_option("--depth_size", o->depth_size, "Side of the saved depth map in pixels")->capture_default_str();
  cmd->add_option("--dinov2_size", o->dinov2_size, "DINOv2 size: small (384-d), base (768-d) or large (1024-d)")
      ->check(CLI::IsMember({"small", "base", "large"}))
      ->capture_default_str();
  cmd->add_option("--dinov2_weights", o->dinov2_weights,
                  "DINOv2 safetensors (facebook/dinov2-<size> model.safetensors, or facebookresearch names)");
  cmd->add_option("--depth_weights", o->depth_weights,
                  "Depth Anything V2 safetensors (depth-anything/Depth-Anything-V2-<Size>-hf, or original names)");
  cmd->add_flag("--remove_background", o->remove_background,
                "Remove the background and crop the object to a 518x518 square on black; also writes "
                "{stem}_input.png, the exact image the encoders saw (training uses it as the target)");
  cmd->add_option("--bg_model", o->bg_model,
                  "U2-Net ONNX model (as rembg's u2net.onnx) for --remove_background; default: built-in GrabCut");
  cmd->add_option("--shard", *shard, "Process only images i, i+n, i+2n, ... of the sorted list: i/n with 0 <= i < n")
      ->capture_default_str();
  add_preprocess_vlm_flags(cmd, *vlm);
  auto device = std::make_shared<std::string>("cpu");
  add_device_option(*cmd, *device);
  set_guarded_callback(cmd, [o, shard, vlm, device] {
    o->device = resolve_device(*device);
    std::tie(o->shard_index, o->shard_count) = encode::parse_shard(*shard);
    // Density maps alone (no encoder weights given) are what the built-in encoder path needs.
    if (vlm->wanted() && o->dinov2_weights.empty() && o->depth_weights.empty()) return run_preprocess_vlm(*o, *vlm);
    const auto stats = encode::run_preprocess(*o);
    std::cout << "preprocess: " << stats.processed << " processed, " << stats.skipped << " already done, "
              << stats.failed << " failed, " << stats.total << " in this shard\n";
    for (const auto& f : stats.failures) std::cout << "  failed: " << f << "\n";
    if (vlm->wanted()) run_preprocess_vlm(*o, *vlm);
    if (stats.failed > 0) throw Error(std::to_string(stats.failed) + " image(s) failed (listed above)");
  });
}

}  // namespace fresnel::cli
