// `fresnel export-onnx`: the experiment-2 decoder of a checkpoint as an ONNX model with the original's interface
// (inputs features/depth, outputs positions/scales/rotations/colors/opacities), checked in OpenCV DNN.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "export/decoder_onnx.hpp"
#include "export/onnx_verify.hpp"
#include "train/checkpoint.hpp"

namespace fresnel::cli {

namespace {

struct ExportOnnxArgs {
  std::string checkpoint, output;
  int64_t depth_size = 518, opset = 14;
  bool verify = true;
};

void run_export_onnx(const ExportOnnxArgs& a) {
  namespace fs = std::filesystem;
  train::FresnelModel model = train::load_model(a.checkpoint);
  const auto& cfg = model->config();
  auto decoder = decode::as_direct_patch(model->decoder(), a.checkpoint + ": export-onnx");
  onnx_export::DecoderExportOptions eo;
  eo.depth_size = a.depth_size;
  eo.opset = a.opset;
  eo.intrinsics = cfg.input_intrinsics;
  if (cfg.builtin() && model->encoder) eo.grid_h = eo.grid_w = model->encoder->options().grid;
  const std::string out =
      a.output.empty() ? "checkpoints/gaussian_decoder_exp" + std::to_string(cfg.experiment()) + ".onnx" : a.output;
  const auto parent = fs::path(out).parent_path();
  if (!parent.empty()) ensure_directory(parent.string());

  // Verify a temporary file first, so a model that fails the check never appears under the requested name.
  const std::string tmp = out + ".unverified.onnx";
  const auto summary = onnx_export::export_direct_patch_decoder(decoder, eo, tmp);
  try {
    if (a.verify) {
      const auto r = onnx_export::check_decoder_parity(decoder, eo, tmp, 1, 1234);
      std::printf("checked in OpenCV DNN against libtorch on random inputs: max |difference| %.3g\n", r.max_abs_diff);
      if (!(r.max_abs_diff <= 1e-4))
        throw Error(out + ": OpenCV DNN disagrees with libtorch by " + std::to_string(r.max_abs_diff) +
                    " (more than 1e-4); the model was not written");
    }
    fs::rename(tmp, out);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  std::printf(
      "wrote %s: opset %lld, %lld nodes, inputs features (B,%lld,%lld,%lld) and depth (B,1,%lld,%lld), "
      "%lld Gaussians per image\n",
      out.c_str(), (long long)eo.opset, (long long)summary.nodes, (long long)cfg.decoder.feature_dim,
      (long long)eo.grid_h, (long long)eo.grid_w, (long long)eo.depth_size, (long long)eo.depth_size,
      (long long)summary.gaussians);
}

}  // namespace

void register_export_onnx(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "export-onnx",
      "Export a checkpoint's decoder (experiment 2) to ONNX with the original's interface: inputs 'features' "
      "(B,C,37,37) and 'depth' (B,1,518,518), outputs 'positions', 'scales', 'rotations', 'colors', 'opacities'. "
      "The model runs in OpenCV DNN and ONNX Runtime; it is checked against libtorch before it is written.");
  auto a = std::make_shared<ExportOnnxArgs>();
  cmd->add_option("--checkpoint", a->checkpoint, "Checkpoint written by `fresnel train` (decoder_exp2_*.pt)")
      ->required();
  cmd->add_option("-o,--output", a->output,
                  "Output .onnx file (default: checkpoints/gaussian_decoder_exp2.onnx, the original's name)");
  cmd->add_option("--depth_size", a->depth_size, "Side of the square depth input (the original: 518)")
      ->check(CLI::Range(int64_t(1), int64_t(8192)))
      ->capture_default_str();
  cmd->add_option("--opset", a->opset, "ONNX opset version (14 or later)")
      ->check(CLI::Range(int64_t(14), int64_t(17)))
      ->capture_default_str();
  cmd->add_flag("!--no-verify", a->verify, "Skip the OpenCV DNN check against libtorch");
  set_guarded_callback(cmd, [a] { run_export_onnx(*a); });
}

}  // namespace fresnel::cli
