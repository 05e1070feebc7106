// Novel-view evaluation over a multi-view dataset (docs/metrics.md, docs/benchmarks.md).
//
// For every object of a split: a predictor turns the object's input view into Gaussians in the INPUT CAMERA's
// frame (OpenCV axes, camera at the origin); they are rendered at the dataset cameras re-expressed in that frame
// and compared with the ground truth: PSNR, SSIM (zero padding, like the 3DGS reference) and LPIPS (only with
// user-supplied weights; otherwise reported as unavailable). Scores are kept apart for the input view and for
// novel views. The trainer reuses `evaluate_dataset` for validation with its own predictor.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/gaussians.hpp"
#include "data/multiview_dataset.hpp"
#include "metrics/lpips.hpp"
#include "render/render.hpp"

namespace fresnel {

// Predicts Gaussians (unbatched, input camera frame) for one object from its input view (obj.input()).
using GaussianPredictor = std::function<Gaussians(const ObjectViews&)>;

enum class EvalViews { Input, Novel, All };
// "input" | "novel" | "all"; throws UsageError otherwise.
EvalViews parse_eval_views(const std::string& text);
const char* eval_views_name(EvalViews v);

struct EvalOptions {
  std::string split = "test";
  EvalViews views = EvalViews::All;
  int64_t max_objects = 0;             // 0: every object of the split
  std::shared_ptr<const Lpips> lpips;  // null: LPIPS unavailable
  RenderOptions render;                // background black, like the dataset
  int contact_sheet_objects = 4;       // objects shown in the contact sheet (0: none)
  bool show_progress = true;
  std::string method = "model";  // name written into the report
};

struct ViewScore {
  int view = 0;  // view number in the object directory
  bool is_input = false;
  double psnr = 0, ssim = 0, lpips = 0;  // lpips is NaN when unavailable
};

struct ObjectScore {
  std::string id;
  int64_t gaussians = 0;
  std::vector<ViewScore> views;
};

struct MetricMeans {
  int64_t views = 0;  // number of (object, view) pairs averaged
  double psnr = 0, ssim = 0, lpips = 0;
};

struct EvalReport {
  std::string dataset, split, method;
  EvalViews views = EvalViews::All;
  bool lpips_available = false;
  std::string lpips_net;  // "alex" | "vgg" | ""
  std::vector<ObjectScore> objects;
  MetricMeans input, novel;  // means over every (object, view) pair of the group
  double seconds = 0;
  torch::Tensor contact_sheet;  // (H,W,3) rows of [input | render | ground truth], undefined when none

  nlohmann::json to_json() const;
  std::string to_markdown() const;
};

// Evaluates `predict` on a split. Streams: one object in memory at a time.
EvalReport evaluate_dataset(const MultiViewDataset& dataset, const GaussianPredictor& predict,
                            const EvalOptions& options);
// Scores of one object's rendered views (used by evaluate_dataset; exposed for the trainer and tests).
// `renders` is (V,H,W,3) in the order of obj.views.
ObjectScore score_object(const ObjectViews& obj, const torch::Tensor& renders, const Lpips* lpips);

// Writes report.json, report.md and (when present) contact_sheet.png into `out_dir`, atomically.
void write_report(const EvalReport& report, const std::string& out_dir);

}  // namespace fresnel
