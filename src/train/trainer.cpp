#include "train/trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "metrics/ssim.hpp"
#include "render/render.hpp"
#include "render/wave.hpp"

namespace fresnel::train {

namespace F = torch::nn::functional;
namespace fs = std::filesystem;

nlohmann::json TrainConfig::to_json() const {
  return {{"model", model.to_json()},
          {"data_dir", data_dir},
          {"output_dir", output_dir},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr},
          {"weight_decay", weight_decay},
          {"image_size", image_size},
          {"max_images", max_images},
          {"seed", seed},
          {"novel_views", novel_views},
          {"novel_view_weight", loss.novel_view_weight},
          {"ssim_weight", loss.ssim_weight},
          {"lpips_weight", loss.lpips_weight},
          {"lpips_weights", lpips_weights},
          {"depth_weight", loss.depth_weight},
          {"fast_mode", hfts.fast_mode},
          {"progressive_schedule", hfts.progressive},
          {"stochastic_k", hfts.stochastic_k ? *hfts.stochastic_k : 0},
          {"train_resolution", hfts.train_resolution ? *hfts.train_resolution : 0},
          {"use_phase_blending", use_phase_blending},
          {"use_wave_rendering", use_wave_rendering},
          {"multi_pose_augmentation", multi_pose_augmentation}};
}

std::pair<double, double> relative_pose_angles(const Camera& cam, double pivot_z) {
  const Vec3 c = cam.position();
  const double dx = c[0], dy = c[1], dz = c[2] - pivot_z;
  const double r = std::sqrt(dx * dx + dy * dy + dz * dz);
  if (r < 1e-12) return {0.0, 0.0};
  // spherical_camera: eye = pivot + r·(cos el·sin az, −sin el, −cos el·cos az).
  return {std::asin(std::clamp(-dy / r, -1.0, 1.0)), std::atan2(dx, -dz)};
}

double peak_memory_mib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

void write_loss_plot(const std::string& path, const nlohmann::json& history) {
  const int W = 800, H = 480, L = 70, R = 20, T = 30, B = 50;
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(255, 255, 255));
  std::vector<std::pair<std::string, cv::Scalar>> series = {{"total", {200, 60, 30}}, {"rgb", {40, 140, 40}},
                                                            {"novel_view", {30, 30, 200}}};
  double lo = 1e300, hi = -1e300;
  size_t n = 0;
  for (auto& [k, c] : series) {
    if (!history.contains(k)) continue;
    for (auto& v : history[k]) lo = std::min(lo, v.get<double>()), hi = std::max(hi, v.get<double>());
    n = std::max(n, history[k].size());
  }
  cv::rectangle(img, {L, T}, {W - R, H - B}, {0, 0, 0}, 1);
  cv::putText(img, "epoch", {W / 2 - 20, H - 12}, cv::FONT_HERSHEY_SIMPLEX, 0.5, {0, 0, 0}, 1);
  if (n > 0 && hi >= lo) {
    if (hi - lo < 1e-12) hi = lo + 1;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", hi);
    cv::putText(img, buf, {4, T + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.4, {0, 0, 0}, 1);
    std::snprintf(buf, sizeof buf, "%.4g", lo);
    cv::putText(img, buf, {4, H - B}, cv::FONT_HERSHEY_SIMPLEX, 0.4, {0, 0, 0}, 1);
    std::snprintf(buf, sizeof buf, "%zu", n);
    cv::putText(img, buf, {W - R - 20, H - B + 18}, cv::FONT_HERSHEY_SIMPLEX, 0.4, {0, 0, 0}, 1);
    int legend_y = T + 20;
    for (auto& [k, c] : series) {
      if (!history.contains(k) || history[k].empty()) continue;
      std::vector<cv::Point> pts;
      const auto& v = history[k];
      for (size_t i = 0; i < v.size(); ++i) {
        const double x = n > 1 ? double(i) / double(n - 1) : 0.5;
        const double y = (v[i].get<double>() - lo) / (hi - lo);
        pts.emplace_back(L + int(x * (W - L - R)), H - B - int(y * (H - T - B)));
      }
      cv::polylines(img, pts, false, c, 2, cv::LINE_AA);
      cv::putText(img, k, {W - R - 110, legend_y}, cv::FONT_HERSHEY_SIMPLEX, 0.5, c, 1);
      legend_y += 20;
    }
  }
  atomic_write_path(path, [&](const std::string& tmp) {
    if (!cv::imwrite(tmp + ".png", img)) throw file_error(path, "cannot write plot");
    fs::rename(tmp + ".png", tmp);
  });
}

Trainer::Trainer(TrainConfig cfg, std::unique_ptr<SampleSource> source)
    : cfg_(std::move(cfg)), source_(std::move(source)), device_(cfg_.device == "cuda" ? torch::kCUDA : torch::kCPU) {
  if (cfg_.device == "cuda" && !torch::cuda::is_available())
    throw UsageError("--device cuda: this libtorch has no CUDA device available");
  if (cfg_.device != "cuda" && cfg_.device != "cpu") throw UsageError("--device must be cpu or cuda");
  if (cfg_.loss.lpips_weight > 0) {
    if (cfg_.lpips_weights.empty())
      throw UsageError("--lpips_weight needs LPIPS weights: give --lpips_weights FILE.safetensors (docs/metrics.md)");
    lpips_ = Lpips::load(cfg_.lpips_weights);
  }
  torch::manual_seed(cfg_.seed);
  model_ = FresnelModel(cfg_.model);
  model_->to(device_);
  std::vector<torch::Tensor> params = model_->parameters();
  if (cfg_.learnable_wavelengths) {
    wavelengths_ = LearnableWavelengths(cfg_.wavelengths[0], cfg_.wavelengths[1], cfg_.wavelengths[2]);
    wavelengths_->to(device_);
    for (auto& p : wavelengths_->parameters()) params.push_back(p);
  }
  optimizer_ = std::make_unique<torch::optim::AdamW>(
      params, torch::optim::AdamWOptions(cfg_.lr).weight_decay(cfg_.weight_decay));
  state_.train_config = cfg_.to_json();
  if (!cfg_.resume.empty()) {
    load_checkpoint(cfg_.resume, model_, optimizer_.get(), state_);
    state_.train_config = cfg_.to_json();
    if (state_.rng_state.defined()) {
      auto gen = at::detail::getDefaultCPUGenerator();
      gen.set_state(state_.rng_state);
    }
    if (wavelengths_ && state_.extra_params.defined()) {
      torch::NoGradGuard ng;
      wavelengths_->raw.copy_(state_.extra_params.to(device_));
    }
    log_info("resumed from " + cfg_.resume + " after epoch " + std::to_string(state_.epochs_done));
  }
}

Trainer::~Trainer() = default;

double Trainer::lr_at(int64_t epoch) const {
  // CosineAnnealingLR(T_max = epochs, eta_min = 0), stepped once per epoch.
  return cfg_.lr * 0.5 * (1.0 + std::cos(M_PI * double(epoch) / double(std::max<int64_t>(1, cfg_.epochs))));
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

Gaussians subset_of(const Gaussians& g, const torch::Tensor& idx) {
  Gaussians s;
  auto pick = [&](const torch::Tensor& t) { return t.defined() ? t.index_select(1, idx.to(t.device())) : t; };
  s.means = pick(g.means);
  s.quats = pick(g.quats);
  s.scales = pick(g.scales);
  s.opacities = pick(g.opacities);
  s.colors = pick(g.colors);
  s.phases = pick(g.phases);
  return s;
}

}  // namespace

std::map<std::string, double> Trainer::train_step(const Batch& batch, const HftsStep& sched) {
  model_->train();
  const auto& L = cfg_.loss;
  const int R = sched.resolution;
  const int64_t B = batch.images.size(0);
  auto images = batch.images.to(device_);

  // Multi-pose (ours): one pose per batch — the input view with probability frontal_prob, else one of the
  // loaded extra views, supervised by that view's real image (the original supervised every pose with the input).
  int pose_view = -1;
  torch::Tensor elevation, azimuth;
  if (cfg_.multi_pose_augmentation) {
    const double u = torch::rand({1}, torch::kDouble).item<double>();
    if (u >= cfg_.frontal_prob && batch.num_views() > 0)
      pose_view = static_cast<int>(torch::randint(batch.num_views(), {1}).item<int64_t>());
    std::vector<float> el(B, 0.f), az(B, 0.f);
    if (pose_view >= 0) {
      for (int64_t b = 0; b < B; ++b) {
        double pivot = 2.5;
        if (batch.depth.defined() && source_->depth_mode() == decode::DepthMode::Metric) {
          auto d = batch.depth[b];
          auto valid = d > 0;
          if (valid.any().item<bool>()) pivot = d.masked_select(valid).mean().item<double>();
        }
        auto [e, a] = relative_pose_angles(batch.view_cameras[b][pose_view], pivot);
        el[b] = float(e);
        az[b] = float(a);
      }
    }
    elevation = torch::tensor(el).to(device_);
    azimuth = torch::tensor(az).to(device_);
  }

  ModelInputs in;
  in.images = images;
  if (batch.features.defined()) in.features = batch.features.to(device_);
  if (batch.depth.defined()) in.depth = batch.depth.to(device_);
  in.intrinsics = batch.intrinsics.to(device_);
  in.num_gaussians = sched.gaussians_per_patch;
  in.elevation = elevation;
  in.azimuth = azimuth;
  auto out = model_->forward(in);
  Gaussians g = out.decoded.gaussians;

  const bool need_phases = cfg_.use_phase_blending || cfg_.use_wave_rendering;
  if (need_phases && !g.phases.defined())
    throw UsageError("phase blending / wave rendering needs phase outputs (experiment 2 with --use_phase_output)");
  if (sched.stochastic_k > 0 && sched.stochastic_k < g.count()) {
    auto sub = sample_subset(g.opacities.detach().mean(0).cpu(), sched.stochastic_k);
    Gaussians s = subset_of(g, sub.indices);
    s.opacities = unbiased_opacity(s.opacities, sub.inclusion.to(device_).unsqueeze(0));
    g = s;
  }

  // Cameras: the input view, then the supervised extra views.
  const bool novel = L.novel_view_weight > 0 && batch.num_views() > 0 && !cfg_.multi_pose_augmentation;
  std::vector<std::vector<Camera>> cams(B);
  for (int64_t b = 0; b < B; ++b) {
    if (pose_view >= 0) {
      cams[b].push_back(batch.view_cameras[b][pose_view].resized(R, R));
      continue;
    }
    cams[b].push_back(input_camera_at(batch.intrinsics[b], R));
    if (novel)
      for (const auto& c : batch.view_cameras[b]) cams[b].push_back(c.resized(R, R));
  }
  torch::Tensor rgb, depth_accum, alpha;  // (B,C,3,R,R), (B,C,1,R,R), (B,C,R,R)
  if (cfg_.use_wave_rendering) {
    std::vector<torch::Tensor> rs;
    for (int64_t b = 0; b < B; ++b) {
      auto w = render_wave(g.batch(b), cams[b]);
      auto amp = (w.intensity + 1e-8).sqrt();  // (C,R,R,3)
      auto mx = amp.flatten(1).amax(1).clamp_min(1.0).view({-1, 1, 1, 1});
      rs.push_back((amp / mx).clamp(0.0, 1.0));
    }
    rgb = torch::stack(rs).permute({0, 1, 4, 2, 3});
  } else {
    RenderOptions ro;
    ro.phase_blending = cfg_.use_phase_blending;
    ro.phase_amplitude = static_cast<float>(cfg_.phase_amplitude);
    auto r = render_batch(g, cams, ro);
    rgb = r.rgb.permute({0, 1, 4, 2, 3});
    depth_accum = r.depth_accum.unsqueeze(2);
    alpha = r.alpha;
  }

  // Targets at the render resolution.
  torch::Tensor target0, target_depth, depth01;
  if (pose_view >= 0) target0 = resize_to(batch.view_images.select(1, pose_view).to(device_), R);
  else target0 = resize_to(images, R);
  const bool metric = model_->config().mode() == decode::DepthMode::Metric;
  if (batch.depth.defined() && pose_view < 0) {
    auto d = in.depth;
    if (metric) {
      target_depth = resize_to(d, R, true);
      depth01 = decode::normalize_metric_depth(target_depth).d;
    } else {
      depth01 = resize_to(d, R).clamp(0.0, 1.0);
      auto off = model_->direct ? model_->direct->depth_offset.detach() : torch::full({1}, decode::kDefaultDepthOffset, d.options());
      target_depth = decode::normalized_depth_to_z(depth01, off);
    }
  }
  auto r0 = rgb.select(1, 0);
  std::map<std::string, torch::Tensor> terms;
  torch::Tensor weights;
  if (L.use_vlm && batch.vlm_density.defined() && pose_view < 0)
    weights = resize_to(vlm_pixel_weights(batch.vlm_density.to(device_), L.vlm_weight), R);
  terms["rgb"] = L.rgb_weight * pixel_l1_loss(r0, target0, weights);
  auto ssim_term = [&](const torch::Tensor& r, const torch::Tensor& t) {
    auto rc = r.clamp(0.0, 1.0);
    return device_.is_cpu() ? ssim_loss(rc, t) : 1.0 - ssim_per_image_reference(rc, t).mean();
  };
  if (L.ssim_weight > 0) terms["ssim"] = L.ssim_weight * ssim_term(r0, target0);
  auto lpips_term = [&](const torch::Tensor& r, const torch::Tensor& t) {
    return lpips_->distance(r.clamp(0.0, 1.0), t).mean();
  };
  if (lpips_) terms["lpips"] = L.lpips_weight * lpips_term(r0, target0);
  if (L.depth_weight > 0 && target_depth.defined() && depth_accum.defined())
    terms["depth"] = L.depth_weight * standardized_depth_loss(depth_accum.select(1, 0), target_depth);
  if (out.decoded.residuals.defined() && L.residual_weight > 0)
    terms["residual"] = L.residual_weight * out.decoded.residuals.abs().mean();
  if (L.boundary && depth01.defined())
    terms["boundary"] = L.boundary_weight * boundary_loss(r0, target0, fresnel_boundary_mask(depth01, L.num_zones));
  if (L.phase_retrieval && depth01.defined()) {
    auto lam = wavelengths_ ? wavelengths_->forward()[1] : torch::tensor(L.wavelength, r0.options());
    terms["phase_retrieval"] = L.phase_retrieval_weight * phase_retrieval_loss(r0, target0, depth01, lam, L.focal_depth);
  }
  if (L.frequency)
    terms["frequency"] = L.frequency_weight * frequency_loss(r0, target0, L.frequency_cutoff, L.high_freq_weight);
  if (L.wave_equation_weight > 0) terms["wave_equation"] = L.wave_equation_weight * wave_equation_loss(r0, L.wavelength);
  if (L.tensegrity) terms["tensegrity"] = L.tensegrity_weight * tensegrity_loss(out.decoded.gaussians.means);
  if (out.predicted_depth.defined() && batch.depth.defined() && L.depth_head_weight > 0) {
    auto gt = in.depth;
    auto valid = metric ? (gt > 0).to(gt.scalar_type()) : torch::ones_like(gt);
    if (batch.mask.defined() && metric) valid = valid * (batch.mask.to(device_) > 0.5).to(gt.scalar_type());
    terms["depth_head"] =
        L.depth_head_weight * ((out.predicted_depth - gt).abs() * valid).sum() / valid.sum().clamp_min(1.0);
  }
  if (novel) {
    auto rv = rgb.narrow(1, 1, rgb.size(1) - 1).flatten(0, 1);
    auto tv = resize_to(batch.view_images.to(device_).flatten(0, 1), R);
    auto nv = pixel_l1_loss(rv, tv);
    if (L.ssim_weight > 0) nv = nv + L.ssim_weight * ssim_term(rv, tv);
    if (lpips_) nv = nv + L.lpips_weight * lpips_term(rv, tv);
    terms["novel_view"] = L.novel_view_weight * nv;
  }
  // Silhouette supervision (ours): rendered alpha against the object masks of every rendered view. Without it,
  // multi-view training can fall into "render nothing" (all opacities → 0), where the gradients vanish.
  if (L.mask_weight > 0 && alpha.defined() && batch.mask.defined()) {
    std::vector<torch::Tensor> masks;
    if (pose_view >= 0) masks.push_back(batch.view_masks.select(1, pose_view).to(device_));
    else masks.push_back(batch.mask.to(device_));
    if (novel) for (int64_t v = 0; v < batch.num_views(); ++v) masks.push_back(batch.view_masks.select(1, v).to(device_));
    auto m = resize_to(torch::stack(masks, 1).flatten(0, 1), R).view({B, -1, R, R});
    terms["mask"] = L.mask_weight * (alpha - m).abs().mean();
  }
  torch::Tensor total = torch::zeros({}, r0.options());
  for (auto& [k, v] : terms) total = total + v;

  std::map<std::string, double> logged;
  const double tv = total.item<double>();
  if (!std::isfinite(tv)) {
    optimizer_->zero_grad();
    return logged;  // skipped: no "total"
  }
  optimizer_->zero_grad();
  total.backward();
  std::vector<torch::Tensor> params;
  for (auto& group : optimizer_->param_groups())
    for (auto& p : group.params()) params.push_back(p);
  const double gnorm = torch::nn::utils::clip_grad_norm_(params, cfg_.grad_clip);
  if (!std::isfinite(gnorm)) {
    optimizer_->zero_grad();
    return logged;
  }
  optimizer_->step();
  logged["total"] = tv;
  for (auto& [k, v] : terms) logged[k] = v.item<double>();
  return logged;
}

void Trainer::run_epoch(int64_t epoch) {
  for (auto& group : optimizer_->param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr_at(epoch));
  const auto sched = hfts_schedule(cfg_.hfts, epoch);
  std::vector<int64_t> order(source_->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::mt19937_64 rng(mix_seed(cfg_.seed, static_cast<uint64_t>(epoch)));
  std::shuffle(order.begin(), order.end(), rng);
  BatchLoader loader(*source_, order, cfg_.batch_size, mix_seed(cfg_.seed ^ 0x5eedull, static_cast<uint64_t>(epoch)),
                     cfg_.num_workers);
  std::unique_ptr<Progress> bar;
  if (cfg_.progress)
    bar = std::make_unique<Progress>("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(cfg_.epochs),
                                     loader.num_batches(), "batch");
  const auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, double> sums;
  int64_t good = 0, skipped = 0;
  for (int64_t i = 0; i < loader.num_batches(); ++i) {
    Batch batch = loader.next();
    auto terms = train_step(batch, sched);
    StepRecord rec;
    rec.epoch = epoch;
    rec.batch = i;
    if (!terms.count("total")) {
      rec.skipped = true;
      ++skipped;
      log_warn("epoch " + std::to_string(epoch + 1) + " batch " + std::to_string(i) +
               ": non-finite loss or gradient, batch skipped");
    } else {
      rec.total = terms["total"];
      rec.terms = terms;
      ++good;
      for (auto& [k, v] : terms) sums[k] += v;
    }
    steps_.push_back(rec);
    if (bar) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "loss %.4f", good ? sums["total"] / good : 0.0);
      bar->set_status(buf);
      bar->advance();
    }
  }
  if (bar) bar->finish();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  state_.skipped_batches += skipped;
  auto& h = state_.history;
  static const char* kKeys[] = {"total", "rgb", "ssim", "lpips", "depth", "boundary", "residual", "phase_retrieval",
                                "frequency", "novel_view", "depth_head", "mask"};
  for (const char* k : kKeys) h[k].push_back(good ? sums[k] / good : 0.0);
  h["seconds"].push_back(secs);
  h["skipped"].push_back(skipped);
  h["lr"].push_back(lr_at(epoch));
  h["resolution"].push_back(sched.resolution);
  h["gaussians_per_patch"].push_back(sched.gaussians_per_patch);
  h["peak_memory_mib"].push_back(peak_memory_mib());
  state_.epochs_done = epoch + 1;
  state_.rng_state = at::detail::getDefaultCPUGenerator().get_state();
  if (wavelengths_) state_.extra_params = wavelengths_->raw.detach().cpu();
  const double mean_total = good ? sums["total"] / good : std::numeric_limits<double>::infinity();
  char msg[256];
  std::snprintf(msg, sizeof msg, "epoch %lld/%lld: loss %.5f (rgb %.5f) %.1fs, %lld skipped, res %d, K %lld",
                (long long)(epoch + 1), (long long)cfg_.epochs, mean_total, good ? sums["rgb"] / good : 0.0, secs,
                (long long)skipped, sched.resolution, (long long)sched.gaussians_per_patch);
  log_info(msg);
  ensure_directory(cfg_.output_dir);
  const int e = model_->config().experiment;
  if (good > 0 && mean_total < state_.best_loss) {
    state_.best_loss = mean_total;
    save_checkpoint((fs::path(cfg_.output_dir) / best_checkpoint_name(e)).string(), model_, optimizer_.get(), state_);
  }
  const bool last = epoch + 1 == cfg_.epochs || (cfg_.stop_after_epoch > 0 && epoch + 1 == cfg_.stop_after_epoch);
  if ((cfg_.save_interval > 0 && (epoch + 1) % cfg_.save_interval == 0) || last)
    save_checkpoint((fs::path(cfg_.output_dir) / checkpoint_name(e, epoch + 1)).string(), model_, optimizer_.get(),
                    state_);
  write_history();
}

void Trainer::write_history() const {
  const int e = model_->config().experiment;
  const auto base = fs::path(cfg_.output_dir);
  write_text_file((base / ("training_history_exp" + std::to_string(e) + ".json")).string(), state_.history.dump(2));
  std::ostringstream csv;
  std::vector<std::string> keys;
  for (auto it = state_.history.begin(); it != state_.history.end(); ++it) keys.push_back(it.key());
  csv << "epoch";
  for (auto& k : keys) csv << "," << k;
  csv << "\n";
  const size_t n = state_.history.contains("total") ? state_.history["total"].size() : 0;
  for (size_t i = 0; i < n; ++i) {
    csv << i + 1;
    for (auto& k : keys) csv << "," << (i < state_.history[k].size() ? state_.history[k][i].dump() : "");
    csv << "\n";
  }
  write_text_file((base / ("training_history_exp" + std::to_string(e) + ".csv")).string(), csv.str());
  if (cfg_.write_plot) write_loss_plot((base / ("training_metrics_exp" + std::to_string(e) + ".png")).string(), state_.history);
}

const TrainingState& Trainer::run() {
  log_info("training on " + source_->describe());
  const int64_t end = cfg_.stop_after_epoch > 0 ? std::min(cfg_.stop_after_epoch, cfg_.epochs) : cfg_.epochs;
  for (int64_t epoch = state_.epochs_done; epoch < end; ++epoch) run_epoch(epoch);
  return state_;
}

}  // namespace fresnel::train
