// `fresnel eval`: novel-view evaluation of Gaussians on a multi-view dataset (docs/metrics.md).
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/device_option.hpp"
#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "decode/saag.hpp"
#include "evaluate/baselines.hpp"
#include "evaluate/evaluate.hpp"
#include "infer/inference_model.hpp"
#include "synthesis/cvs_generate.hpp"

namespace fresnel::cli {
namespace {

struct EvalArgs {
  std::string data_dir, checkpoint, gaussians_dir, baseline, views_dir, views = "all", split = "test", out,
                                                                        lpips_weights;
  int64_t max_objects = 0;
  int contact_objects = 4;
  std::string device = "cpu";  // the checkpoint's model; scoring renders run on the CPU
  double antialias = 0, render_scale = 1.0;
  std::string screen_filter = "auto";
};

// Baseline (b): the original's surface-aligned generator (SAAG, spec §12.7) on the input view's metric depth
// (0 = background, skipped), in the input camera frame like every prediction.
GaussianPredictor saag_baseline_predictor() {
  return [](const ObjectViews& obj) {
    const ViewData& in = obj.input();
    const Camera& c = in.camera;
    const auto K = torch::tensor({c.fx / c.width, c.fy / c.height, c.cx / c.width, c.cy / c.height}, torch::kDouble);
    decode::SaagOptions o;
    o.depth_mode = decode::DepthMode::Metric;
    o.subsample = 1;
    return decode::saag_from_depth(in.rgb.permute({2, 0, 1}), in.depth, K, o);
  };
}

void run_eval(const EvalArgs& a) {
  const int sources =
      int(!a.checkpoint.empty()) + int(!a.gaussians_dir.empty()) + int(!a.baseline.empty()) + int(!a.views_dir.empty());
  if (sources != 1) throw UsageError("give exactly one of --checkpoint, --gaussians, --baseline or --views_dir");
  if (!is_valid_split(a.split)) throw UsageError("--split must be train, val or test (got '" + a.split + "')");
  EvalOptions opt;
  opt.split = a.split;
  opt.views = parse_eval_views(a.views);
  opt.max_objects = a.max_objects;
  opt.contact_sheet_objects = a.contact_objects;
  opt.render_scale = a.render_scale;
  ObjectPredictor predict;
  if (!a.baseline.empty()) {
    if (a.baseline == "unprojected") {
      predict = without_depth(unprojected_predictor());
      opt.method = "baseline: unprojected pixels";
    } else if (a.baseline == "saag") {
      predict = without_depth(saag_baseline_predictor());
      opt.method = "baseline: SAAG (the original's non-learned generator) on ground-truth depth";
    } else {
      throw UsageError("--baseline must be 'unprojected' or 'saag' (got '" + a.baseline + "')");
    }
  } else if (!a.views_dir.empty()) {
    opt.method = "views: " + a.views_dir;  // images generated per object (fresnel cvs generate --dataset)
  } else if (!a.gaussians_dir.empty()) {
    predict = gaussian_files_predictor(a.gaussians_dir);
    opt.method = "gaussians: " + a.gaussians_dir;
  } else {
    predict = infer::checkpoint_predictor(std::make_shared<const infer::InferenceModel>(
                                              infer::InferenceModel::load(a.checkpoint, resolve_device(a.device))),
                                          a.antialias);
    opt.method = "checkpoint: " + a.checkpoint;
  }
  if (a.screen_filter != "auto") opt.render.screen_filter = parse_screen_filter(a.screen_filter);
  if (a.screen_filter != "auto" && predict) {  // an explicit filter overrides what the model or files name
    predict = [inner = predict](const ObjectViews& obj) {
      ObjectPrediction p = inner(obj);
      p.screen_filter.reset();
      return p;
    };
  }
  if (!a.lpips_weights.empty()) opt.lpips = Lpips::load(a.lpips_weights);
  const MultiViewDataset dataset(a.data_dir);
  const EvalReport report = a.views_dir.empty() ? evaluate_dataset(dataset, predict, opt)
                                                : synthesis::evaluate_view_images(dataset, a.views_dir, opt);
  write_report(report, a.out);
  std::cout << report.to_markdown().substr(0, report.to_markdown().find("\n## Per object")) << "\n"
            << "wrote " << a.out << "/report.json, report.md"
            << (report.contact_sheet.defined() ? ", contact_sheet.png" : "") << "\n";
}

}  // namespace

void register_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval",
      "Evaluate Gaussians on a multi-view dataset (fresnel synth): render each object's Gaussians at the dataset "
      "cameras (relative to the input camera) and report PSNR, SSIM and LPIPS for the input view and novel views.");
  auto a = std::make_shared<EvalArgs>();
  cmd->add_option("--data_dir", a->data_dir, "Multi-view dataset directory (with dataset.json)")->required();
  cmd->add_option("--checkpoint", a->checkpoint, "Decoder checkpoint to evaluate");
  cmd->add_option("--gaussians", a->gaussians_dir,
                  "Directory of <object_id>.<ext> Gaussians in each object's input camera frame, <ext> one of " +
                      supported_gaussian_extensions());
  cmd->add_option("--views_dir", a->views_dir,
                  "Score generated view images DIR/<object_id>/view_NNN.png (fresnel cvs generate --dataset) "
                  "against the real views");
  cmd->add_option("--baseline", a->baseline,
                  "Built-in baseline: unprojected (input pixels at ground-truth depth) or saag (the original's "
                  "non-learned generator on ground-truth depth)");
  cmd->add_option("--views", a->views, "Views to score: input, novel or all")->capture_default_str();
  cmd->add_option("--split", a->split, "Dataset split: train, val or test")->capture_default_str();
  cmd->add_option("--max_objects", a->max_objects, "Evaluate at most N objects (0: all)")->capture_default_str();
  cmd->add_option("--lpips_weights", a->lpips_weights,
                  "LPIPS weights (safetensors, AlexNet or VGG16 trunk + lin0..lin4; see docs/metrics.md). Without "
                  "it LPIPS is reported as unavailable");
  cmd->add_option("--contact_objects", a->contact_objects, "Objects shown in contact_sheet.png (0: none)")
      ->capture_default_str();
  cmd->add_option(
         "--antialias", a->antialias,
         "--checkpoint: extra 3D smoothing variance (pixels² at the training resolution) as `infer --antialias`")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  cmd->add_option("--render_scale", a->render_scale,
                  "Render at this fraction of the dataset's resolution and upsample bilinearly to it (0.5 on a 2x "
                  "dataset: the 'plain upscaling' reference for anti-aliasing)")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();
  cmd->add_option("--screen_filter", a->screen_filter,
                  "Rasterizer screen filter: auto (what the checkpoint was trained with, or what the Gaussians' "
                  "<id>.cameras.json names; else dilation), dilation, mip, dilation:V or mip:V (V in pixels²)")
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Output directory for report.json, report.md, contact_sheet.png")->required();
  add_device_option(*cmd, a->device);
  set_guarded_callback(cmd, [a] { run_eval(*a); });
}

}  // namespace fresnel::cli
