// Novel-view evaluation over a multi-view dataset (docs/metrics.md, docs/benchmarks.md).
//
// For every object of a split: a predictor turns the object's input view into Gaussians in the INPUT CAMERA's
// frame (OpenCV axes, camera at the origin); they are rendered at the dataset cameras re-expressed in that frame
// and compared with the ground truth: PSNR, SSIM (zero padding, like the 3DGS reference) and LPIPS (only with
// user-supplied weights; otherwise reported as unavailable). Scores are kept apart for the input view and for
// novel views. The trainer reuses `evaluate_dataset` for validation with its own predictor.
#pragma once
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/gaussians.hpp"
#include "data/multiview_dataset.hpp"
#include "metrics/depth_metrics.hpp"
#include "metrics/lpips.hpp"
#include "render/render.hpp"

namespace fresnel {

// Predicts Gaussians (unbatched, input camera frame) for one object from its input view (obj.input()).
using GaussianPredictor = std::function<Gaussians(const ObjectViews&)>;

// A prediction with what a model's depth head gave for the input view, when it has one.
struct ObjectPrediction {
  Gaussians gaussians;
  torch::Tensor depth;  // (…,h,w) metric camera z of the input view; undefined: no depth head to score
  // The screen filter these Gaussians are meant to be rendered with (a model trained with the Mip filter, a file
  // whose cameras.json names one); unset: EvalOptions::render's.
  std::optional<ScreenFilter> screen_filter;
};
using ObjectPredictor = std::function<ObjectPrediction(const ObjectViews&)>;
// A Gaussians-only predictor as an ObjectPredictor (no depth head).
ObjectPredictor without_depth(GaussianPredictor predict);

// Novel views are also reported by the angle between their viewing direction and the input camera's:
// [0,45), [45,90), [90,135), [135,180] degrees.
constexpr int kAngleBins = 4;
constexpr double kAngleBinDegrees = 45.0;
// Angle in degrees between the optical axis of a camera expressed relative to the input camera
// (MultiViewDataset::relative_cameras) and the input camera's (+z).
double view_angle_degrees(const Camera& relative_camera);
// Bin of an angle in [0,180] (values outside are clamped).
int angle_bin(double degrees);
std::string angle_bin_label(int bin);  // "0-45°", …

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
  double render_scale = 1.0;           // < 1: render at this fraction of the size, upsample bilinearly to it
  int contact_sheet_objects = 4;       // objects shown in the contact sheet (0: none)
  bool show_progress = true;
  std::string method = "model";  // name written into the report
};

struct ViewScore {
  int view = 0;  // view number in the object directory
  bool is_input = false;
  double psnr = 0, ssim = 0, lpips = 0;  // lpips is NaN when unavailable
  double angle_deg = 0;                  // from the input view (view_angle_degrees)
};

struct ObjectScore {
  std::string id;
  int64_t gaussians = 0;
  std::vector<ViewScore> views;
  DepthErrors depth_head;    // the model's depth head on the input view (pixels 0: none)
  DepthErrors depth_render;  // depth rendered from the Gaussians at the input view (pixels 0: not scored)
};

struct MetricMeans {
  int64_t views = 0;  // number of (object, view) pairs averaged
  double psnr = 0, ssim = 0, lpips = 0;
};

struct DepthMeans {
  int64_t objects = 0;  // objects with a score, averaged with equal weight
  double abs_rel = 0, delta1 = 0, abs_rel_median_scaled = 0;
};

struct EvalReport {
  std::string dataset, split, method;
  EvalViews views = EvalViews::All;
  bool lpips_available = false;
  std::string lpips_net;  // "alex" | "vgg" | ""
  std::vector<ObjectScore> objects;
  MetricMeans input, novel;  // means over every (object, view) pair of the group
  std::array<MetricMeans, kAngleBins> novel_by_angle;
  DepthMeans depth_head, depth_render;
  double seconds = 0;
  torch::Tensor contact_sheet;  // (H,W,3) rows of [input | render | ground truth], undefined when none

  nlohmann::json to_json() const;
  std::string to_markdown() const;
};

// Evaluates `predict` on a split. Streams: one object in memory at a time.
EvalReport evaluate_dataset(const MultiViewDataset& dataset, const GaussianPredictor& predict,
                            const EvalOptions& options);
// The same, also scoring the depth head where the predictor returns its depth.
EvalReport evaluate_dataset(const MultiViewDataset& dataset, const ObjectPredictor& predict,
                            const EvalOptions& options);
// Scores of one object's rendered views (used by evaluate_dataset; exposed for the trainer and tests).
// `renders` is (V,H,W,3) in the order of obj.views.
ObjectScore score_object(const ObjectViews& obj, const torch::Tensor& renders, const Lpips* lpips);

// Writes report.json, report.md and (when present) contact_sheet.png into `out_dir`, atomically.
void write_report(const EvalReport& report, const std::string& out_dir);

}  // namespace fresnel
