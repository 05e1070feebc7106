#include "train/trainer.hpp"

#include <torch/torch.h>

#include <cmath>

#include "core/error.hpp"
#include "core/field_table.hpp"
#include "core/log.hpp"
#include "render/render.hpp"
#include "render/wave.hpp"

namespace fresnel::train {

namespace F = torch::nn::functional;

nlohmann::json TrainConfig::to_json() const { return fields_to_json(*this); }

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  TrainConfig c;
  fields_from_json(j, c, "train config");
  return c;
}

namespace {

torch::Tensor resize_to(const torch::Tensor& x, int R, bool nearest = false) {
  if (x.size(-1) == R && x.size(-2) == R) return x;
  auto o = F::InterpolateFuncOptions().size(std::vector<int64_t>{R, R});
  if (nearest) return F::interpolate(x, o.mode(torch::kNearest));
  // Area averaging when shrinking (no aliasing), bilinear when growing.
  if (x.size(-1) > R) return F::interpolate(x, o.mode(torch::kArea));
  return F::interpolate(x, o.mode(torch::kBilinear).align_corners(false));
}

Camera input_camera_at(const torch::Tensor& k, int R) {
  auto a = k.to(torch::kCPU, torch::kDouble).contiguous();
  const double* p = a.data_ptr<double>();
  return input_camera_from_normalized({p[0], p[1], p[2], p[3]}, R, R);
}

// Elevation/azimuth (radians) of a camera relative to the input camera, measured around `pivot_z` on the optical
// axis, in the convention of core spherical_camera (input camera = (0,0)).
std::pair<double, double> relative_pose_angles(const Camera& cam, double pivot_z) {
  const Vec3 c = cam.position();
  const double dx = c[0], dy = c[1], dz = c[2] - pivot_z;
  const double r = std::sqrt(dx * dx + dy * dy + dz * dz);
  if (r < 1e-12) return {0.0, 0.0};
  // spherical_camera: eye = pivot + r·(cos el·sin az, −sin el, −cos el·cos az).
  return {std::asin(std::clamp(-dy / r, -1.0, 1.0)), std::atan2(dx, -dz)};
}

}  // namespace

Trainer::Trainer(TrainConfig cfg, std::unique_ptr<SampleSource> source, GradientSync* sync)
    : cfg_(std::move(cfg)), source_(std::move(source)), device_(cfg_.device == "cuda" ? torch::kCUDA : torch::kCPU) {
  if (cfg_.device != "cuda" && cfg_.device != "cpu") throw UsageError("train config: device must be cpu or cuda");
  if (cfg_.device == "cuda" && !torch::cuda::is_available())
    throw UsageError("train config: device cuda, but this libtorch has no CUDA device available");
  if (cfg_.loss.lpips_weight > 0) {
    if (cfg_.lpips_weights.empty())
      throw UsageError(
          "train config: lpips_weight > 0 needs LPIPS weights (lpips_weights, a .safetensors file; "
          "docs/metrics.md)");
    lpips_ = Lpips::load(cfg_.lpips_weights);
  }
  torch::manual_seed(cfg_.loop.seed);
  model_ = FresnelModel(cfg_.model);
  model_->to(device_);
  if (cfg_.learnable_wavelengths) {
    wavelengths_ = LearnableWavelengths(cfg_.wavelengths[0], cfg_.wavelengths[1], cfg_.wavelengths[2]);
    wavelengths_->to(device_);
  }
  cfg_.loop.checkpoint_stem = checkpoint_stem(cfg_.model.experiment());
  cfg_.loop.history_tag = "exp" + std::to_string(cfg_.model.experiment());
  loop_ = std::make_unique<TrainingLoop>(cfg_.loop, *this, sync);
}

Trainer::~Trainer() = default;

const TrainingState& Trainer::run() {
  const auto& st = loop_->run();
  loader_.reset();
  return st;
}

std::vector<torch::Tensor> Trainer::extra_parameters() {
  return wavelengths_ ? wavelengths_->parameters() : std::vector<torch::Tensor>{};
}

std::map<std::string, std::string> Trainer::checkpoint_records() const {
  return {{"model_config", model_->config().to_json().dump()}};
}

void Trainer::check_resume(const std::map<std::string, std::string>& records, const std::string& path) const {
  ModelConfig saved;
  try {
    saved = ModelConfig::from_json(nlohmann::json::parse(records.at("model_config")));
  } catch (const std::exception& e) {
    throw file_error(path, std::string("malformed model config: ") + e.what());
  }
  if (saved.to_json() != model_->config().to_json())
    throw file_error(path, "checkpoint model config differs from this run's: " + saved.to_json().dump());
}

int64_t Trainer::begin_epoch(int64_t epoch, std::vector<int64_t> order, uint64_t seed) {
  schedule_ = hfts_schedule(cfg_.hfts, epoch);
  loader_.reset();  // one epoch's loader threads at a time
  loader_ = std::make_unique<BatchLoader>(*source_, std::move(order), cfg_.batch_size, seed, cfg_.num_workers);
  return loader_->num_batches();
}

LossTerms Trainer::next_losses() { return batch_losses(loader_->next(), schedule_); }

std::map<std::string, double> Trainer::epoch_info(int64_t epoch) const {
  return {{"resolution", schedule_.resolution}, {"gaussians_per_patch", double(schedule_.gaussians_per_patch)}};
}

// Multi-pose (ours): one pose per batch — the input view with probability frontal_prob, else one of the loaded extra
// views, supervised by that view's real image (the original supervised every pose with the input).
Trainer::Supervision Trainer::choose_supervision(const Batch& batch, int resolution) const {
  Supervision sup;
  sup.resolution = resolution;
  sup.novel = cfg_.loss.novel_view_weight > 0 && batch.num_views() > 0 && !cfg_.multi_pose_augmentation;
  if (!cfg_.multi_pose_augmentation) return sup;
  const int64_t B = batch.images.size(0);
  const double u = torch::rand({1}, torch::kDouble).item<double>();
  if (u >= cfg_.frontal_prob && batch.num_views() > 0)
    sup.pose_view = static_cast<int>(torch::randint(batch.num_views(), {1}).item<int64_t>());
  std::vector<float> el(B, 0.f), az(B, 0.f);
  if (sup.pose_view >= 0) {
    for (int64_t b = 0; b < B; ++b) {
      double pivot = 2.5;
      if (batch.depth.defined() && source_->depth_mode() == decode::DepthMode::Metric) {
        auto d = batch.depth[b];
        auto valid = d > 0;
        if (valid.any().item<bool>()) pivot = d.masked_select(valid).mean().item<double>();
      }
      auto [e, a] = relative_pose_angles(batch.view_cameras[b][sup.pose_view], pivot);
      el[b] = float(e);
      az[b] = float(a);
    }
  }
  sup.elevation = torch::tensor(el).to(device_);
  sup.azimuth = torch::tensor(az).to(device_);
  return sup;
}

// Per sample: the supervised view (the input view, or multi-pose's view), then the other supervised views.
std::vector<std::vector<Camera>> Trainer::supervised_cameras(const Batch& batch, const Supervision& sup) const {
  const int R = sup.resolution;
  std::vector<std::vector<Camera>> cams(batch.images.size(0));
  for (size_t b = 0; b < cams.size(); ++b) {
    if (sup.pose_view >= 0) {
      cams[b].push_back(batch.view_cameras[b][sup.pose_view].resized(R, R));
      continue;
    }
    cams[b].push_back(input_camera_at(batch.intrinsics[b], R));
    if (sup.novel)
      for (const auto& c : batch.view_cameras[b]) cams[b].push_back(c.resized(R, R));
  }
  return cams;
}

Trainer::Renders Trainer::render_views(const Gaussians& g, const std::vector<std::vector<Camera>>& cams) const {
  Renders r;
  if (cfg_.use_wave_rendering) {
    std::vector<torch::Tensor> rs;
    for (size_t b = 0; b < cams.size(); ++b) {
      auto w = render_wave(g.batch(int64_t(b)), cams[b]);
      auto amp = (w.intensity + 1e-8).sqrt();  // (C,R,R,3)
      auto mx = amp.flatten(1).amax(1).clamp_min(1.0).view({-1, 1, 1, 1});
      rs.push_back((amp / mx).clamp(0.0, 1.0));
    }
    r.rgb = torch::stack(rs).permute({0, 1, 4, 2, 3});
    return r;  // a wave field has no alpha or depth
  }
  RenderOptions ro;
  ro.screen_filter = cfg_.model.screen_filter();
  ro.phase_blending = cfg_.use_phase_blending;
  ro.phase_amplitude = static_cast<float>(cfg_.phase_amplitude);
  auto out = render_batch(g, cams, ro);
  r.rgb = out.rgb.permute({0, 1, 4, 2, 3});
  r.depth = out.depth_accum.unsqueeze(2);
  r.alpha = out.alpha;
  return r;
}

LossTerms Trainer::batch_losses(const Batch& batch, const HftsStep& sched) {
  model_->train();
  const Supervision sup = choose_supervision(batch, sched.resolution);
  ModelInputs in;
  in.images = batch.images.to(device_);
  if (batch.features.defined()) in.features = batch.features.to(device_);
  if (batch.depth.defined()) in.depth = batch.depth.to(device_);
  in.intrinsics = batch.intrinsics.to(device_);
  in.num_gaussians = sched.gaussians_per_patch;
  in.elevation = sup.elevation;
  in.azimuth = sup.azimuth;
  const ModelOutput out = model_->forward(in);

  Gaussians g = out.decoded.gaussians;
  if ((cfg_.use_phase_blending || cfg_.use_wave_rendering) && !g.phases.defined())
    throw UsageError("phase blending / wave rendering needs phase outputs (experiment 2 with use_phase_output)");
  if (sched.stochastic_k > 0 && sched.stochastic_k < g.count()) {
    auto sub = sample_subset(g.opacities.detach().mean(0).cpu(), sched.stochastic_k);
    Gaussians s = g.index_select(sub.indices);
    s.opacities = unbiased_opacity(s.opacities, sub.inclusion.to(device_).unsqueeze(0));
    g = s;
  }
  return compute_losses(cfg_.loss, loss_inputs(batch, in, out, render_views(g, supervised_cameras(batch, sup)), sup));
}

LossInputs Trainer::loss_inputs(const Batch& batch, const ModelInputs& in, const ModelOutput& out,
                                const Renders& renders, const Supervision& sup) {
  const auto& L = cfg_.loss;
  const int R = sup.resolution;
  const int64_t B = batch.images.size(0);
  const bool input_view = sup.pose_view < 0;
  LossInputs li;
  li.rendered = renders.rgb.select(1, 0);
  li.target = resize_to(input_view ? in.images : batch.view_images.select(1, sup.pose_view).to(device_), R);
  const bool metric = model_->config().mode() == decode::DepthMode::Metric;
  if (in.depth.defined() && input_view) {
    if (metric) {
      li.target_depth = resize_to(in.depth, R, true);
      li.depth01 = decode::normalize_metric_depth(li.target_depth).d;
    } else {
      li.depth01 = resize_to(in.depth, R).clamp(0.0, 1.0);
      auto direct = std::dynamic_pointer_cast<decode::DirectPatchDecoderImpl>(model_->decoder());
      auto offset =
          direct ? direct->depth_offset.detach() : torch::full({1}, decode::kDefaultDepthOffset, in.depth.options());
      li.target_depth = decode::normalized_depth_to_z(li.depth01, offset);
    }
  }
  if (renders.depth.defined()) li.rendered_depth = renders.depth.select(1, 0);
  if (L.use_vlm && batch.vlm_density.defined() && input_view)
    li.pixel_weights = resize_to(vlm_pixel_weights(batch.vlm_density.to(device_), L.vlm_weight), R);
  if (wavelengths_) li.wavelength = wavelengths_->forward()[1];
  li.residuals = out.decoded.residuals;
  li.means = out.decoded.gaussians.means;
  if (out.predicted_depth.defined() && in.depth.defined()) {
    li.predicted_depth = out.predicted_depth;
    li.depth_target = in.depth;
    auto valid = metric ? (in.depth > 0).to(in.depth.scalar_type()) : torch::ones_like(in.depth);
    if (batch.mask.defined() && metric) valid = valid * (batch.mask.to(device_) > 0.5).to(in.depth.scalar_type());
    li.depth_valid = valid;
    // Depth is the image-only model's weak point and the other views come with depth maps: the encoder also
    // sees them (an encoder pass each, no rendering), so its depth head learns from 1 + V views per object.
    if (L.depth_all_views && metric && model_->encoder && batch.view_depths.defined()) {
      auto images = batch.view_images.to(device_).flatten(0, 1);
      auto depth = batch.view_depths.to(device_).flatten(0, 1);
      auto view_valid = ((depth > 0) & (batch.view_masks.to(device_).flatten(0, 1) > 0.5)).to(depth.scalar_type());
      auto predicted = model_->encoder->forward(images).depth;
      li.predicted_depth = torch::cat({li.predicted_depth, predicted});
      li.depth_target = torch::cat({li.depth_target, resize_to(depth, li.depth_target.size(-1), true)});
      li.depth_valid = torch::cat({li.depth_valid, resize_to(view_valid, li.depth_valid.size(-1), true)});
    }
  }
  if (sup.novel) {
    li.novel_rendered = renders.rgb.narrow(1, 1, renders.rgb.size(1) - 1).flatten(0, 1);
    li.novel_target = resize_to(batch.view_images.to(device_).flatten(0, 1), R);
  }
  if (L.mask_weight > 0 && renders.alpha.defined() && batch.mask.defined()) {
    std::vector<torch::Tensor> masks;
    masks.push_back((input_view ? batch.mask : batch.view_masks.select(1, sup.pose_view)).to(device_));
    if (sup.novel)
      for (int64_t v = 0; v < batch.num_views(); ++v) masks.push_back(batch.view_masks.select(1, v).to(device_));
    li.alpha = renders.alpha;
    li.masks = resize_to(torch::stack(masks, 1).flatten(0, 1), R).view({B, -1, R, R});
  }
  li.lpips = lpips_.get();
  return li;
}

}  // namespace fresnel::train
