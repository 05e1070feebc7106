// `fresnel infer`: images → 3D Gaussians files with a trained checkpoint (the original's decoder_inference.py
// path, but from the image: background removal, encoders, decoder).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/device_option.hpp"
#include "cli/file_checks.hpp"
#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "core/image_io.hpp"
#include "core/log.hpp"
#include "core/object_frame.hpp"
#include "core/progress.hpp"
#include "encode/preprocess.hpp"
#include "infer/image_reconstruction.hpp"

namespace fresnel::cli {

namespace {

struct InferArgs {
  std::vector<std::string> images;
  std::string output, format = "ply";
  infer::ReconstructionOptions rec;
  bool saag = false;
  int64_t num_gaussians = 0;
  std::string device = "cpu";
  std::string shard = "0/1";
  GaussianSaveOptions save;
  std::string frame = "camera";
};

void run_infer(InferArgs& a) {
  namespace fs = std::filesystem;
  a.rec.use_learned_decoder = !a.saag;
  a.rec.device = resolve_device(a.device);
  if (a.num_gaussians > 0) a.rec.num_gaussians = a.num_gaussians;
  const auto [shard_index, shard_count] = encode::parse_shard(a.shard);
  if (shard_count > 1) {  // images i, i+n, … of the sorted list: one Slurm array task each (docs/distributed.md)
    if (is_gaussian_file(a.output)) throw UsageError("-o: with --shard, give a directory");
    auto sorted = a.images;
    std::sort(sorted.begin(), sorted.end());
    a.images.clear();
    for (size_t i = 0; i < sorted.size(); ++i)
      if (static_cast<int>(i % shard_count) == shard_index) a.images.push_back(sorted[i]);
    log_info("infer: shard " + a.shard + ": " + std::to_string(a.images.size()) + " of " +
             std::to_string(sorted.size()) + " images");
    if (a.images.empty()) return;
  }
  // One image and a Gaussians file name → that file; otherwise -o is a directory of {stem}.{format}.
  const bool single_file = a.images.size() == 1 && is_gaussian_file(a.output);
  if (!single_file) {
    if (fs::path(a.output).has_extension() && is_gaussian_file(a.output))
      throw UsageError("-o: with several images, give a directory (one file per image is written into it)");
    ensure_directory(a.output);
  }
  const std::string dir_extension = gaussian_format_named(a.format).extension;
  infer::ImageReconstructor reconstructor(a.rec);
  Progress progress("infer", int64_t(a.images.size()), "img");
  int failed = 0;
  for (const auto& img : a.images) {
    const std::string out =
        single_file ? a.output : (fs::path(a.output) / (fs::path(img).stem().string() + dir_extension)).string();
    try {
      const auto r = reconstructor.run(img);
      // Camera frame as predicted, or centred/upright/unit-sized for other viewers; the input camera goes beside.
      const bool object = a.frame == "object";
      const ObjectFrame frame = object ? fit_object_frame(r.gaussians) : ObjectFrame{};
      save_gaussians(out, object ? to_object_frame(r.gaussians, frame) : r.gaussians, a.save);
      save_frame_cameras(cameras_json_path_for(out), r.input_camera, object ? &frame : nullptr,
                         screen_filter_name(r.screen_filter));
      std::printf("%s -> %s: %lld Gaussians (%s)\n", img.c_str(), out.c_str(), (long long)r.gaussians.count(),
                  r.method.c_str());
    } catch (const UsageError&) {
      throw;
    } catch (const std::exception& e) {
      if (a.images.size() == 1) throw;
      log_warn(std::string("infer: ") + e.what());
      ++failed;
    }
    progress.advance();
  }
  progress.finish();
  if (failed > 0) throw Error(std::to_string(failed) + " of " + std::to_string(a.images.size()) + " images failed");
}

}  // namespace

void register_infer(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "infer",
      "Reconstruct 3D Gaussians from images with a trained checkpoint: optional background removal, the encoders the "
      "checkpoint was trained with (its built-in encoder, or DINOv2 + Depth Anything weights), the decoder. Output "
      "Gaussians are in the input camera's frame (OpenCV axes) or, with --frame object, centred and of unit size "
      "for web viewers; <name>.cameras.json beside each file holds the input camera in that frame.");
  auto a = std::make_shared<InferArgs>();
  cmd->add_option("images", a->images, "Input images (" + supported_image_extensions() + ")")
      ->required()
      ->check(image_file_check());
  cmd->add_option("-o,--output", a->output,
                  "Output file for one image, or a directory for several; a file's extension picks its format: " +
                      gaussian_formats_help())
      ->required();
  cmd->add_option("--checkpoint", a->rec.checkpoint, "Decoder checkpoint written by `fresnel train`");
  cmd->add_option("--format", a->format, "File format inside an output directory")
      ->check(gaussian_format_check())
      ->capture_default_str();
  add_gaussian_save_options(cmd, a->save);
  cmd->add_option("--antialias", a->rec.smoothing_variance_px2,
                  "Extra 3D smoothing filter (Mip-Splatting) baked into the scales, in pixels² at the model's training "
                  "resolution, on top of what a model trained with `train --antialias` applies itself: keeps an older "
                  "model's Gaussians from falling apart into dots when shown larger (0.3 typical). 0: none")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  cmd->add_option("--frame", a->frame,
                  "camera: the input camera's frame (OpenCV: x right, y down, z forward; what eval, render and the "
                  "viewer use). object: centred at the origin, longest side 1, same axes (the 3DGS PLY convention "
                  "web viewers such as SuperSplat show upright)")
      ->check(CLI::IsMember({"camera", "object"}))
      ->capture_default_str();
  cmd->add_flag("--saag", a->saag,
                "Use the non-learned SAAG generator on the depth map (the checkpoint's depth, or --depth_model)");
  cmd->add_flag("--remove_background", a->rec.remove_background,
                "Remove the background and crop around the object first (as the original's preprocessing)");
  cmd->add_option("--bg_model", a->rec.bg_model, "U2-Net ONNX model for --remove_background (default: GrabCut)");
  cmd->add_option("--dinov2", a->rec.dinov2_weights,
                  "DINOv2 weights (safetensors) for checkpoints trained on precomputed features");
  cmd->add_option("--depth_model", a->rec.depth_weights, "Depth Anything V2 weights (safetensors)");
  cmd->add_option("--num_gaussians", a->num_gaussians, "Keep the first K Gaussians per patch (0: all)")
      ->check(CLI::NonNegativeNumber);
  add_device_option(*cmd, a->device);
  cmd->add_option("--shard", a->shard, "Process only images i, i+n, i+2n, ... of the sorted list: i/n with 0 <= i < n")
      ->capture_default_str();
  set_guarded_callback(cmd, [a] { run_infer(*a); });
}

}  // namespace fresnel::cli
