#include "evaluate/evaluate.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "core/progress.hpp"
#include "metrics/psnr.hpp"
#include "metrics/ssim.hpp"

namespace fresnel {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kContactTile = 128;  // larger views are shrunk in the contact sheet

// Running mean that ignores NaN (LPIPS when unavailable).
struct Mean {
  double sum = 0;
  int64_t n = 0;
  void add(double v) {
    if (std::isfinite(v)) {
      sum += v;
      ++n;
    }
  }
  double value() const { return n ? sum / double(n) : kNaN; }
};

struct GroupMeans {
  Mean psnr, ssim, lpips;
  int64_t views = 0;
  void add(const ViewScore& s) {
    psnr.add(s.psnr);
    ssim.add(s.ssim);
    lpips.add(s.lpips);
    ++views;
  }
  MetricMeans result() const { return {views, psnr.value(), ssim.value(), lpips.value()}; }
};

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json means_json(const MetricMeans& m) {
  return {{"views", m.views},
          {"psnr", number_or_null(m.psnr)},
          {"ssim", number_or_null(m.ssim)},
          {"lpips", number_or_null(m.lpips)}};
}

std::string fmt(double v, int digits) {
  if (!std::isfinite(v)) return "n/a";
  std::ostringstream ss;
  ss.setf(std::ios::fixed);
  ss.precision(digits);
  ss << v;
  return ss.str();
}

struct DepthGroup {
  Mean abs_rel, delta1, abs_rel_median_scaled;
  void add(const DepthErrors& e) {
    if (e.pixels == 0) return;
    abs_rel.add(e.abs_rel);
    delta1.add(e.delta1);
    abs_rel_median_scaled.add(e.abs_rel_median_scaled);
  }
  DepthMeans result() const {
    return {abs_rel.n, abs_rel.value(), delta1.value(), abs_rel_median_scaled.value()};
  }
};

nlohmann::json depth_json(const DepthMeans& d) {
  return {{"objects", d.objects},
          {"abs_rel", number_or_null(d.abs_rel)},
          {"delta1", number_or_null(d.delta1)},
          {"abs_rel_median_scaled", number_or_null(d.abs_rel_median_scaled)}};
}

MetricMeans object_group(const ObjectScore& o, bool input) {
  GroupMeans g;
  for (const auto& v : o.views)
    if (v.is_input == input) g.add(v);
  return g.result();
}

torch::Tensor tile(const torch::Tensor& hwc) {
  const int64_t h = hwc.size(0), w = hwc.size(1);
  if (h <= kContactTile && w <= kContactTile) return hwc.contiguous();
  const double s = double(kContactTile) / double(std::max(h, w));
  return resize_image(hwc.contiguous(), std::max<int>(1, int(w * s)), std::max<int>(1, int(h * s)), ResizeFilter::Area);
}

}  // namespace

double view_angle_degrees(const Camera& c) {
  // The optical axis in input-camera coordinates is the third row of the world→camera rotation.
  const double cosine = std::max(-1.0, std::min(1.0, c.world_to_camera[10]));
  return std::acos(cosine) * 180.0 / M_PI;
}

int angle_bin(double degrees) {
  return std::max(0, std::min(kAngleBins - 1, int(std::floor(degrees / kAngleBinDegrees))));
}

std::string angle_bin_label(int bin) {
  return fmt(bin * kAngleBinDegrees, 0) + "-" + fmt((bin + 1) * kAngleBinDegrees, 0) + "°";
}

EvalViews parse_eval_views(const std::string& text) {
  if (text == "input") return EvalViews::Input;
  if (text == "novel") return EvalViews::Novel;
  if (text == "all") return EvalViews::All;
  throw UsageError("eval views must be input, novel or all (got '" + text + "')");
}

const char* eval_views_name(EvalViews v) {
  switch (v) {
    case EvalViews::Input:
      return "input";
    case EvalViews::Novel:
      return "novel";
    case EvalViews::All:
      return "all";
  }
  return "?";
}

ObjectScore score_object(const ObjectViews& obj, const torch::Tensor& renders, const Lpips* lpips) {
  if (renders.dim() != 4 || renders.size(0) != int64_t(obj.views.size()))
    throw Error("evaluate: expected one render per loaded view of " + obj.id);
  ObjectScore score;
  score.id = obj.id;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < obj.views.size(); ++i) {
    const auto& gt = obj.views[i].rgb;
    const auto pred = renders[i].to(torch::kCPU, torch::kFloat32).clamp(0, 1);
    if (pred.sizes() != gt.sizes()) throw Error("evaluate: render and ground truth sizes differ for " + obj.id);
    ViewScore s;
    s.view = obj.views[i].index;
    s.is_input = int(i) == obj.input_view;
    s.psnr = psnr(pred, gt);
    const auto p4 = pred.permute({2, 0, 1}).unsqueeze(0).contiguous(),
               g4 = gt.permute({2, 0, 1}).unsqueeze(0).contiguous();
    s.ssim = ssim(p4, g4).item<double>();
    s.lpips = lpips ? lpips->distance(p4, g4)[0].item<double>() : kNaN;
    score.views.push_back(s);
  }
  return score;
}

EvalReport evaluate_dataset(const MultiViewDataset& dataset, const GaussianPredictor& predict,
                            const EvalOptions& options) {
  return evaluate_dataset(dataset, without_depth(predict), options);
}

ObjectPredictor without_depth(GaussianPredictor predict) {
  return [predict](const ObjectViews& obj) { return ObjectPrediction{predict(obj), {}, {}}; };
}

EvalReport evaluate_dataset(const MultiViewDataset& dataset, const ObjectPredictor& predict,
                            const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  EvalReport report;
  report.dataset = dataset.root();
  report.split = options.split;
  report.method = options.method;
  report.views = options.views;
  report.lpips_available = options.lpips != nullptr;
  report.lpips_net = options.lpips ? lpips_net_name(options.lpips->net()) : "";
  auto ids = dataset.object_ids(options.split);
  if (ids.empty()) throw file_error(dataset.root(), "split '" + options.split + "' has no objects");
  if (options.max_objects > 0 && int64_t(ids.size()) > options.max_objects) ids.resize(options.max_objects);

  std::vector<int> wanted;  // empty: all views
  if (options.views == EvalViews::Input) wanted = {0};
  GroupMeans input, novel;
  std::array<GroupMeans, kAngleBins> by_angle;
  DepthGroup depth_head, depth_render;
  std::vector<torch::Tensor> sheet_rows;
  std::unique_ptr<Progress> progress;
  if (options.show_progress) progress = std::make_unique<Progress>("eval", int64_t(ids.size()), "obj");
  for (const auto& id : ids) {
    const ObjectViews obj = dataset.load_object(options.split, id, wanted);
    // Views the report scores (the input view is always loaded, for the predictor).
    std::vector<size_t> scored;
    for (size_t i = 0; i < obj.views.size(); ++i) {
      const bool is_input = int(i) == obj.input_view;
      if (options.views == EvalViews::All || (options.views == EvalViews::Input) == is_input) scored.push_back(i);
    }
    ObjectPrediction prediction = predict(obj);
    Gaussians& g = prediction.gaussians;
    g.validate("predicted Gaussians for " + id);
    RenderOptions render_options = options.render;
    if (prediction.screen_filter) render_options.screen_filter = *prediction.screen_filter;
    if (g.batched()) throw Error("evaluate: the predictor must return unbatched Gaussians (" + id + ")");
    const auto all_cams = obj.relative_cameras();
    std::vector<Camera> cams;
    ObjectViews subset;
    subset.id = obj.id;
    subset.split = obj.split;
    subset.dir = obj.dir;
    subset.input_view = -1;
    for (size_t k = 0; k < scored.size(); ++k) {
      cams.push_back(all_cams[scored[k]]);
      subset.views.push_back(obj.views[scored[k]]);
      if (int(scored[k]) == obj.input_view) subset.input_view = int(k);
    }
    torch::Tensor renders, depths;
    {
      torch::NoGradGuard no_grad;
      if (options.render_scale < 1.0) {
        // Render small, then upsample the images bilinearly to the dataset's size.
        std::vector<Camera> small;
        for (const auto& c : cams)
          small.push_back(c.resized(std::max(1, int(std::lround(c.width * options.render_scale))),
                                    std::max(1, int(std::lround(c.height * options.render_scale)))));
        const RenderOutput out = render(g.detach(), small, render_options);
        std::vector<torch::Tensor> up;
        for (size_t k = 0; k < cams.size(); ++k)
          up.push_back(resize_image(out.rgb[int64_t(k)].clamp(0, 1).to(torch::kFloat32).contiguous(), cams[k].width,
                                    cams[k].height, ResizeFilter::Bilinear));
        renders = torch::stack(up);
        depths = out.depth;
      } else {
        const RenderOutput out = render(g.detach(), cams, render_options);
        renders = out.rgb;
        depths = out.depth;
      }
    }
    ObjectScore score = score_object(subset, renders, options.lpips.get());
    score.gaussians = g.count();
    for (size_t k = 0; k < score.views.size(); ++k) score.views[k].angle_deg = view_angle_degrees(cams[k]);
    for (const auto& v : score.views) {
      (v.is_input ? input : novel).add(v);
      if (!v.is_input) by_angle[size_t(angle_bin(v.angle_deg))].add(v);
    }
    const torch::Tensor& gt_depth = obj.input().depth;
    if (gt_depth.defined()) {
      const int64_t h = gt_depth.size(-2), w = gt_depth.size(-1);
      if (prediction.depth.defined())
        score.depth_head = depth_errors(resize_depth_nearest(prediction.depth, h, w), gt_depth.reshape({h, w}));
      if (subset.input_view >= 0)
        score.depth_render =
            depth_errors(resize_depth_nearest(depths[subset.input_view], h, w), gt_depth.reshape({h, w}));
    }
    depth_head.add(score.depth_head);
    depth_render.add(score.depth_render);
    if (int64_t(report.objects.size()) < options.contact_sheet_objects) {
      const auto in_tile = tile(obj.input().rgb);
      for (size_t k = 0; k < subset.views.size(); ++k)
        sheet_rows.push_back(
            torch::cat({in_tile, tile(renders[k].clamp(0, 1).to(torch::kFloat32)), tile(subset.views[k].rgb)}, 1));
    }
    report.objects.push_back(std::move(score));
    if (progress) {
      progress->set_status("input PSNR " + fmt(input.psnr.value(), 2) + " novel PSNR " + fmt(novel.psnr.value(), 2));
      progress->advance();
    }
  }
  if (progress) progress->finish();
  report.input = input.result();
  report.novel = novel.result();
  for (int b = 0; b < kAngleBins; ++b) report.novel_by_angle[size_t(b)] = by_angle[size_t(b)].result();
  report.depth_head = depth_head.result();
  report.depth_render = depth_render.result();
  if (!sheet_rows.empty()) report.contact_sheet = torch::cat(sheet_rows, 0);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

nlohmann::json EvalReport::to_json() const {
  nlohmann::json per = nlohmann::json::array();
  for (const auto& o : objects) {
    nlohmann::json views_j = nlohmann::json::array();
    for (const auto& v : o.views)
      views_j.push_back({{"view", v.view},
                         {"input", v.is_input},
                         {"psnr", number_or_null(v.psnr)},
                         {"ssim", number_or_null(v.ssim)},
                         {"lpips", number_or_null(v.lpips)},
                         {"angle_deg", v.angle_deg}});
    per.push_back({{"id", o.id},
                   {"gaussians", o.gaussians},
                   {"input", means_json(object_group(o, true))},
                   {"novel", means_json(object_group(o, false))},
                   {"views", views_j}});
    if (o.depth_head.pixels)
      per.back()["depth_head"] = {{"abs_rel", o.depth_head.abs_rel},
                                  {"delta1", o.depth_head.delta1},
                                  {"abs_rel_median_scaled", o.depth_head.abs_rel_median_scaled}};
    if (o.depth_render.pixels)
      per.back()["depth_render"] = {{"abs_rel", o.depth_render.abs_rel},
                                    {"delta1", o.depth_render.delta1},
                                    {"abs_rel_median_scaled", o.depth_render.abs_rel_median_scaled}};
  }
  nlohmann::json angles = nlohmann::json::array();
  for (int b = 0; b < kAngleBins; ++b) {
    auto j = means_json(novel_by_angle[size_t(b)]);
    j["from_deg"] = b * kAngleBinDegrees;
    j["to_deg"] = (b + 1) * kAngleBinDegrees;
    angles.push_back(j);
  }
  return {
      {"dataset", dataset},
      {"split", split},
      {"method", method},
      {"views", eval_views_name(views)},
      {"objects_evaluated", int64_t(objects.size())},
      {"metrics",
       {{"input", means_json(input)},
        {"novel", means_json(novel)},
        {"novel_by_angle", angles},
        {"depth_head", depth_json(depth_head)},
        {"depth_render", depth_json(depth_render)}}},
      {"lpips",
       {{"available", lpips_available},
        {"net", lpips_available ? nlohmann::json(lpips_net) : nlohmann::json(nullptr)}}},
      {"definitions",
       {{"psnr", "per image on [0,1], 10*log10(1/MSE), capped at " + fmt(kPsnrCapDb, 0) + " dB, then averaged"},
        {"ssim", "11x11 Gaussian window sigma 1.5, C1=0.01^2, C2=0.03^2, zero 'same' padding like the 3DGS reference"},
        {"lpips", "richzhang/PerceptualSimilarity v0.1 formula with user-supplied weights; null when unavailable"},
        {"frame", "Gaussians in the input camera frame; dataset cameras re-expressed relative to the input camera"},
        {"angle",
         "angle between a view's optical axis and the input camera's; bins [0,45), [45,90), [90,135), [135,180]"},
        {"depth",
         "input view, pixels with ground-truth depth > 0: AbsRel = mean |z-z*|/z*, delta1 = fraction with "
         "max(z/z*, z*/z) < 1.25, abs_rel_median_scaled = AbsRel after scaling the prediction by "
         "median(z*)/median(z); depth_head: the model's depth head, depth_render: depth rendered from the "
         "Gaussians; means over objects"}}},
      {"seconds", seconds},
      {"per_object", per}};
}

std::string EvalReport::to_markdown() const {
  std::ostringstream md;
  const std::string lp = lpips_available ? "LPIPS (" + lpips_net + ")" : "LPIPS";
  md << "# Evaluation: " << method << "\n\n"
     << "Dataset `" << dataset << "`, split `" << split << "`, " << objects.size()
     << " objects, views: " << eval_views_name(views) << ".\n\n"
     << "| views | count | PSNR (dB) ↑ | SSIM ↑ | " << lp << " ↓ |\n|---|---:|---:|---:|---:|\n";
  auto row = [&](const char* name, const MetricMeans& m) {
    md << "| " << name << " | " << m.views << " | " << fmt(m.psnr, 2) << " | " << fmt(m.ssim, 4) << " | "
       << (lpips_available ? fmt(m.lpips, 4) : std::string("unavailable")) << " |\n";
  };
  if (input.views) row("input", input);
  if (novel.views) row("novel", novel);
  if (novel.views) {
    md << "\n| novel views by angle from the input | count | PSNR (dB) ↑ | SSIM ↑ | " << lp
       << " ↓ |\n|---|---:|---:|---:|---:|\n";
    for (int b = 0; b < kAngleBins; ++b) {
      const std::string label = angle_bin_label(b);
      row(label.c_str(), novel_by_angle[size_t(b)]);
    }
  }
  if (depth_head.objects || depth_render.objects) {
    md << "\n| depth (input view) | objects | AbsRel ↓ | δ<1.25 ↑ | AbsRel, median-scaled ↓ |\n|---|---:|---:|---:|---:|\n";
    auto depth_row = [&](const char* name, const DepthMeans& d) {
      md << "| " << name << " | " << d.objects << " | " << fmt(d.abs_rel, 4) << " | " << fmt(d.delta1, 4) << " | "
         << fmt(d.abs_rel_median_scaled, 4) << " |\n";
    };
    if (depth_head.objects) depth_row("depth head", depth_head);
    if (depth_render.objects) depth_row("rendered from the Gaussians", depth_render);
  }
  md << "\nPSNR is computed per image on [0,1] (capped at " << fmt(kPsnrCapDb, 0)
     << " dB) and averaged. SSIM uses an 11×11 Gaussian window (σ 1.5) with zero padding, like the 3DGS "
        "reference. "
     << (lpips_available ? "LPIPS uses the LPIPS weights file that was given."
                         : "LPIPS is unavailable (no LPIPS weights were given); it is not estimated.")
     << "\n\n## Per object\n\n| object | Gaussians | input PSNR | input SSIM | novel PSNR | novel SSIM | novel " << lp
     << " |\n|---|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& o : objects) {
    const auto in = object_group(o, true), nv = object_group(o, false);
    md << "| " << o.id << " | " << o.gaussians << " | " << fmt(in.psnr, 2) << " | " << fmt(in.ssim, 4) << " | "
       << fmt(nv.psnr, 2) << " | " << fmt(nv.ssim, 4) << " | " << (lpips_available ? fmt(nv.lpips, 4) : "n/a")
       << " |\n";
  }
  md << "\nEvaluated in " << fmt(seconds, 1) << " s.\n";
  return md.str();
}

void write_report(const EvalReport& report, const std::string& out_dir) {
  ensure_directory(out_dir);
  const std::filesystem::path dir(out_dir);
  write_text_file((dir / "report.json").string(), report.to_json().dump(2));
  write_text_file((dir / "report.md").string(), report.to_markdown());
  if (report.contact_sheet.defined()) save_image((dir / "contact_sheet.png").string(), report.contact_sheet);
}

}  // namespace fresnel
