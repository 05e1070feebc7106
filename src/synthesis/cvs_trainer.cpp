#include "synthesis/cvs_trainer.hpp"

#include <torch/serialize.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/field_table.hpp"
#include "core/log.hpp"
#include "data/multiview_dataset.hpp"
#include "metrics/lpips.hpp"
#include "train/checkpoint.hpp"

namespace fresnel::synthesis {

namespace fs = std::filesystem;

void to_json(nlohmann::json& j, const CVSConfig& c) { j = c.to_json(); }
void from_json(const nlohmann::json& j, CVSConfig& c) { c = CVSConfig::from_json(j); }
void to_json(nlohmann::json& j, const CvsLossConfig& c) { j = fields_to_json(c); }
void from_json(const nlohmann::json& j, CvsLossConfig& c) { fields_from_json(j, c, "CVS loss config"); }

nlohmann::json CvsTrainConfig::to_json() const { return fields_to_json(*this); }

namespace {

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9e3779b97f4a7c15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double psnr_minus1_1(const torch::Tensor& a, const torch::Tensor& b) {
  const double mse = torch::mse_loss(a, b).item<double>();
  return -10.0 * std::log10(mse + 1e-8);
}

}  // namespace

CvsTrainer::CvsTrainer(CvsTrainConfig cfg)
    : cfg_(std::move(cfg)), device_(cfg_.device == "cuda" ? torch::kCUDA : torch::kCPU) {
  if (cfg_.device != "cpu" && cfg_.device != "cuda") throw UsageError("--device must be cpu or cuda");
  if (cfg_.device == "cuda" && !torch::cuda::is_available())
    throw UsageError("--device cuda, but this libtorch has no CUDA device available");
  if (cfg_.batch_size < 1) throw UsageError("--batch_size must be >= 1");
  if (cfg_.num_workers < 1) throw UsageError("--num_workers must be >= 1");
  if (cfg_.validate_every < 0) throw UsageError("--validate_every must be >= 0");
  for (auto s : cfg_.validate_steps)
    if (s < 1) throw UsageError("--validate_steps must be >= 1");
  CvsSourceOptions so;
  so.data_dir = cfg_.data_dir;
  so.image_size = int(cfg_.model.image_size);
  so.self_target = cfg_.self_target_dataset;
  so.max_objects = cfg_.max_images;
  source_ = open_cvs_source(so);
  const FeatureSource fsrc = parse_feature_source(cfg_.features);
  bool dinov2 = fsrc == FeatureSource::Dinov2 || (fsrc == FeatureSource::Auto && source_->has_dinov2_features());
  if (dinov2) {
    so.load_features = true;
    source_ = open_cvs_source(so);
    cfg_.model.builtin_encoder = false;
    cfg_.model.image_embed_dim = source_->load(0, 0).features.size(0);  // 384/768/1024 for DINOv2 S/B/L
  } else {
    cfg_.model.builtin_encoder = true;
    cfg_.model.image_embed_dim = cfg_.builtin_channels;
  }
  if (source_->size() < cfg_.batch_size)
    throw UsageError("--batch_size " + std::to_string(cfg_.batch_size) + " is larger than the " +
                     std::to_string(source_->size()) + " training samples of " + cfg_.data_dir +
                     " (incomplete batches are dropped)");
  if (MultiViewDataset::looks_like_dataset(cfg_.data_dir) && !cfg_.self_target_dataset) {
    CvsSourceOptions vo = so;
    vo.split = "val";
    try {
      val_source_ = open_cvs_source(vo);
    } catch (const Error&) {
      val_source_.reset();  // no val objects: validate on training samples
    }
  }
  if (cfg_.loss.use_gaussian_targets && cfg_.loss.lambda_perceptual > 0) {
    if (cfg_.lpips_weights.empty())
      log_warn("--use_gaussian_targets: no --lpips_weights given, so the perceptual (LPIPS) term is off");
    else
      lpips_ = Lpips::load(cfg_.lpips_weights);
  }
  torch::manual_seed(cfg_.loop.seed);
  model_ = ConsistencyViewSynthesizer(cfg_.model);
  ema_model_ = ConsistencyViewSynthesizer(cfg_.model);
  perceptual_ = PerceptualStack(mix(cfg_.loop.seed, 0x9e5c));
  model_->to(device_);
  ema_model_->to(device_);
  perceptual_->to(device_);
  for (auto& p : ema_model_->parameters()) p.set_requires_grad(false);
  cfg_.loop.schedule = train::LrSchedule::CosinePerStep;
  cfg_.loop.ema_decay = cfg_.model.ema_decay;
  cfg_.loop.warmup_steps = cfg_.warmup_epochs * (source_->size() / cfg_.batch_size);
  cfg_.loop.checkpoint_stem = kCvsCheckpointStem;
  cfg_.loop.history_tag = "cvs";
  loop_ = std::make_unique<train::TrainingLoop>(cfg_.loop, *this);
}

CvsTrainer::~CvsTrainer() = default;

const train::TrainingState& CvsTrainer::run() { return loop_->run(); }

std::string CvsTrainer::describe() const {
  return source_->describe() + "; features: " +
         (cfg_.model.builtin_encoder ? "built-in encoder (trained with the network)" : "precomputed DINOv2") + "; " +
         std::to_string(count_parameters(*model_)) + " parameters";
}

std::map<std::string, std::string> CvsTrainer::checkpoint_records() const {
  return {{"cvs_config", cfg_.model.to_json().dump()}};
}

void CvsTrainer::check_resume(const std::map<std::string, std::string>& records, const std::string& path) const {
  nlohmann::json saved;
  try {
    saved = nlohmann::json::parse(records.at("cvs_config"));
  } catch (const std::exception& e) {
    throw file_error(path, std::string("malformed CVS config: ") + e.what());
  }
  if (saved != cfg_.model.to_json())
    throw file_error(path, "checkpoint's CVS config " + saved.dump() + " differs from this run's " +
                               cfg_.model.to_json().dump() + " (image_size, base_channels, features)");
}

int64_t CvsTrainer::begin_epoch(int64_t epoch, std::vector<int64_t> order, uint64_t seed) {
  order_ = std::move(order);
  epoch_ = epoch;
  epoch_seed_ = seed;
  batch_ = 0;
  batches_ = int64_t(order_.size()) / cfg_.batch_size;  // drop_last
  model_->train();
  return batches_;
}

CvsTrainer::Batch CvsTrainer::load_batch(const std::vector<int64_t>& idx, uint64_t seed,
                                         const CvsSource& source) const {
  std::vector<CvsSample> samples(idx.size());
  std::vector<std::exception_ptr> errors(idx.size());
  const size_t workers = std::min<size_t>(idx.size(), size_t(cfg_.num_workers));
  auto work = [&](size_t w) {
    for (size_t i = w; i < idx.size(); i += workers) try {
        samples[i] = source.load(idx[i], mix(seed, uint64_t(idx[i])));
      } catch (...) {
        errors[i] = std::current_exception();
      }
  };
  if (workers <= 1) {
    work(0);
  } else {
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers; ++w) threads.emplace_back(work, w);
    for (auto& t : threads) t.join();
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  Batch b;
  std::vector<torch::Tensor> in, tg, dp, ft;
  std::vector<RelativePose> poses;
  for (auto& s : samples) {
    in.push_back(s.input);
    tg.push_back(s.target);
    if (s.target_depth.defined()) dp.push_back(s.target_depth);
    if (s.features.defined()) ft.push_back(s.features);
    poses.push_back(s.pose);
  }
  b.input = torch::stack(in).to(device_);
  b.target = torch::stack(tg).to(device_);
  if (dp.size() == samples.size()) b.depth = torch::stack(dp).to(device_);
  if (!ft.empty()) b.features = torch::stack(ft).to(device_);
  b.R = rotations_tensor(poses).to(device_);
  b.t = translations_tensor(poses).to(device_);
  return b;
}

void CvsTrainer::sync_ema_model() const {
  if (loop_ && !loop_->ema().empty()) {
    load_named_parameters(*ema_model_, loop_->ema());
  } else {  // ema_decay 0: the EMA is the current weights
    torch::NoGradGuard ng;
    auto src = model_->named_parameters();
    for (auto& p : ema_model_->named_parameters()) p.value().copy_(src[p.key()]);
  }
}

train::LossTerms CvsTrainer::next_losses() {
  const int64_t B = cfg_.batch_size;
  std::vector<int64_t> idx(order_.begin() + batch_ * B, order_.begin() + (batch_ + 1) * B);
  const uint64_t seed = mix(epoch_seed_, uint64_t(batch_));
  ++batch_;
  Batch b = load_batch(idx, seed, *source_);
  auto gen = at::detail::createCPUGenerator(seed);
  const int64_t T = cfg_.model.num_timesteps;
  auto t = at::randint(0, T, {B}, gen, torch::kLong).to(device_);
  auto noise = at::randn(b.target.sizes(), gen, torch::kFloat).to(device_);
  auto cond = model_->condition(b.input, b.features, b.R, b.t);
  auto x_t = model_->add_noise(b.target, t, noise);
  auto pred = model_->denoise(x_t, t, cond);
  CvsLossInputs in;
  in.pred = pred;
  in.target = b.target;
  in.target_depth = b.depth;
  in.epoch = epoch_;
  in.epochs = cfg_.loop.epochs;
  const bool wants_ema = cfg_.loss.lambda_consistency > 0;
  if (wants_ema) {
    sync_ema_model();
    torch::NoGradGuard ng;
    auto ema_cond = ema_model_->condition(b.input, b.features, b.R, b.t);
    if (!cfg_.loss.use_gaussian_targets) {
      // EMA prediction one step back along the trajectory through x̂0 (ConsistencyLoss).
      auto t_prev = (t - 1).clamp_min(0);
      auto x_prev = consistency_step_back(pred, x_t, model_->sqrt_alphas_cumprod.index({t}),
                                          model_->sqrt_alphas_cumprod.index({t_prev}));
      in.ema_pred = ema_model_->denoise(x_prev, t_prev, ema_cond);
    } else {
      // EMA prediction at an independently drawn timestep and noise (the original's quality-aware path).
      auto t2 = at::randint(0, T, {B}, gen, torch::kLong).to(device_);
      auto n2 = at::randn(b.target.sizes(), gen, torch::kFloat).to(device_);
      in.ema_pred = ema_model_->denoise(ema_model_->add_noise(b.target, t2, n2), t2, ema_cond);
    }
  }
  return cvs_losses(cfg_.loss, in, perceptual_.get() ? &perceptual_ : nullptr, lpips_.get());
}

std::map<std::string, double> CvsTrainer::validate() const {
  const CvsSource& src = val_source_ ? *val_source_ : *source_;
  const int64_t n = std::min<int64_t>(std::max<int64_t>(1, cfg_.validate_samples), src.size());
  std::vector<int64_t> idx(n);
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  Batch b = load_batch(idx, cfg_.loop.seed, src);
  // The EMA weights, as the original validates.
  sync_ema_model();
  auto& ema = ema_model_;
  std::map<std::string, double> out;
  for (auto steps : cfg_.validate_steps) {
    auto gen = at::detail::createCPUGenerator(mix(cfg_.loop.seed, uint64_t(steps)));
    auto g = ema->generate(b.input, b.features, b.R, b.t, steps, gen);
    out["val_psnr_" + std::to_string(steps) + "step"] = psnr_minus1_1(g, b.target);
  }
  return out;
}

std::map<std::string, double> CvsTrainer::epoch_info(int64_t epoch) const {
  if (cfg_.validate_every <= 0 || (epoch + 1) % cfg_.validate_every != 0) return {};
  auto v = validate();
  std::string msg = "validation after epoch " + std::to_string(epoch + 1) + ":";
  for (const auto& [k, x] : v) msg += " " + k + " " + std::to_string(x) + " dB";
  log_info(msg);
  return v;
}

ConsistencyViewSynthesizer load_cvs_model(const std::string& path, CvsWeights weights) {
  if (!fs::exists(path)) throw file_error(path, "checkpoint not found");
  torch::serialize::InputArchive a;
  try {
    a.load_from(path);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("not a readable checkpoint (") + e.what() + ")");
  }
  c10::IValue state, config;
  std::string format = "unknown";
  if (a.try_read("state", state) && state.isString()) {
    try {
      format = nlohmann::json::parse(state.toStringRef()).value("format", std::string("unknown"));
    } catch (const nlohmann::json::exception&) {
    }
  }
  if (format != kCvsCheckpointFormat || !a.try_read("cvs_config", config) || !config.isString())
    throw file_error(path, "not a CVS checkpoint (format '" + format + "'; `fresnel cvs train` writes " +
                               kCvsCheckpointFormat + ")");
  CVSConfig cfg;
  try {
    cfg = CVSConfig::from_json(nlohmann::json::parse(config.toStringRef()));
  } catch (const std::exception& e) {
    throw file_error(path, std::string("malformed CVS config: ") + e.what());
  }
  ConsistencyViewSynthesizer model(cfg);
  torch::serialize::InputArchive m;
  if (!a.try_read("model", m)) throw file_error(path, "checkpoint has no model weights");
  try {
    model->load(m);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("model weights do not match the model: ") + e.what());
  }
  if (weights == CvsWeights::Ema) {
    torch::serialize::InputArchive e;
    if (!a.try_read("ema", e)) throw file_error(path, "checkpoint has no EMA weights (trained with ema_decay 0)");
    torch::NoGradGuard ng;
    for (auto& p : model->named_parameters()) {
      torch::Tensor t;
      if (!e.try_read(p.key(), t) || !t.sizes().equals(p.value().sizes()))
        throw file_error(path, "checkpoint EMA lacks parameter '" + p.key() + "'");
      p.value().copy_(t);
    }
  }
  model->eval();
  return model;
}

}  // namespace fresnel::synthesis
