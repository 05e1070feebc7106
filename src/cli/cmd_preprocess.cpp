// `fresnel preprocess`: the original's preprocess_training_data.py — DINOv2 features and Depth Anything V2 depth for
// every image of a folder, optionally after background removal, resumable and shardable.
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/device_option.hpp"
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
  auto use_vlm = std::make_shared<bool>(false);
  auto vlm_url = std::make_shared<std::string>("http://localhost:1234/v1/chat/completions");
  auto vlm_grid = std::make_shared<int>(8);
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
  cmd->add_flag("--use_vlm", *use_vlm, "Also write {stem}_vlm_density.npy from a VLM (not available in this build)");
  cmd->add_option("--vlm_url", *vlm_url, "VLM chat-completions endpoint for --use_vlm")->capture_default_str();
  cmd->add_option("--vlm_grid_size", *vlm_grid, "VLM density grid size for --use_vlm")
      ->check(CLI::IsMember({4, 8, 16}))
      ->capture_default_str();
  auto device = std::make_shared<std::string>("cpu");
  add_device_option(*cmd, *device);
  set_guarded_callback(cmd, [o, shard, use_vlm, device] {
    o->device = resolve_device(*device);
    if (*use_vlm)
      throw UsageError(
          "--use_vlm: the VLM density client is not part of this build yet; run preprocess without "
          "--use_vlm (training works without VLM density maps)");
    std::tie(o->shard_index, o->shard_count) = encode::parse_shard(*shard);
    const auto stats = encode::run_preprocess(*o);
    std::cout << "preprocess: " << stats.processed << " processed, " << stats.skipped << " already done, "
              << stats.failed << " failed, " << stats.total << " in this shard\n";
    for (const auto& f : stats.failures) std::cout << "  failed: " << f << "\n";
    if (stats.failed > 0) throw Error(std::to_string(stats.failed) + " image(s) failed (listed above)");
  });
}

}  // namespace fresnel::cli
