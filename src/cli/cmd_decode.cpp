// `fresnel decode`: the original's decoder_inference.py — DINOv2 features + depth map files in the original's raw
// layouts → Gaussians file, printing the Gaussian count on stdout (for scripts).
#include <cstdio>
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/file_checks.hpp"
#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "infer/feature_decoding.hpp"

namespace fresnel::cli {

namespace {

struct DecodeArgs {
  std::string features, depth, output, checkpoint;
  int64_t depth_size = 518;
};

void run_decode(const DecodeArgs& a) {
  const Gaussians g = infer::decode_feature_files(a.features, a.depth, a.checkpoint, a.depth_size);
  save_gaussians(a.output, g);
  std::printf("%lld\n", (long long)g.count());
}

}  // namespace

void register_decode(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "decode",
      "Decode precomputed DINOv2 features ({stem}_dinov2.bin, 37x37xC float32) and a depth map ({stem}_depth.bin, "
      "SxS float32) into Gaussians with an experiment-2 checkpoint, like the original's decoder_inference.py; "
      "prints the number of Gaussians.");
  auto a = std::make_shared<DecodeArgs>();
  cmd->add_option("features", a->features, "Features file: 37x37xC float32, row-major HWC, no header")->required();
  cmd->add_option("depth", a->depth, "Depth file: SxS float32, no header (normalised, 1 = near)")->required();
  cmd->add_option("output", a->output, "Output Gaussians: " + gaussian_formats_help())
      ->required()
      ->check(gaussian_file_check());
  cmd->add_option("--checkpoint", a->checkpoint, "Checkpoint written by `fresnel train` (experiment 2)")->required();
  cmd->add_option("--depth_size", a->depth_size, "Depth is resized (nearest) to this size first, as the original")
      ->check(CLI::Range(int64_t(1), int64_t(8192)))
      ->capture_default_str();
  set_guarded_callback(cmd, [a] { run_decode(*a); });
}

}  // namespace fresnel::cli
