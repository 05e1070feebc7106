#include "train/loop.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/field_table.hpp"
#include "core/log.hpp"
#include "core/memory.hpp"
#include "core/progress.hpp"
#include "train/history.hpp"
#include "train/training_data.hpp"

namespace fresnel::train {

namespace fs = std::filesystem;

void to_json(nlohmann::json& j, const LoopOptions& c) { j = fields_to_json(c); }
void from_json(const nlohmann::json& j, LoopOptions& c) { fields_from_json(j, c, "loop options"); }

namespace {
std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.5g", v);
  return buf;
}
}  // namespace

std::string epoch_checkpoint_name(const std::string& stem, int64_t epoch) {
  return stem + "_epoch" + std::to_string(epoch) + ".pt";
}
std::string best_checkpoint_file(const std::string& stem) { return stem + "_best.pt"; }

TrainingLoop::TrainingLoop(LoopOptions options, TrainingTask& task, GradientSync* sync)
    : opt_(std::move(options)), task_(task), sync_(sync) {
  if (opt_.epochs < 1) throw UsageError("loop options: epochs must be >= 1");
  if (opt_.ema_decay < 0 || opt_.ema_decay >= 1) throw UsageError("loop options: ema_decay must be in [0, 1)");
  if (opt_.warmup_steps < 0) throw UsageError("loop options: warmup_steps must be >= 0");
  params_ = task_.module().parameters();
  for (auto& p : task_.extra_parameters()) params_.push_back(p);
  optimizer_ = std::make_unique<torch::optim::AdamW>(
      params_, torch::optim::AdamWOptions(opt_.lr).weight_decay(opt_.weight_decay));
  state_.train_config = task_.config_json();
  if (opt_.ema_decay > 0) {
    torch::NoGradGuard ng;
    for (const auto& p : task_.module().named_parameters()) state_.ema[p.key()] = p.value().detach().clone();
  }
  if (!opt_.resume.empty()) {
    std::vector<std::string> keys;
    for (const auto& [key, text] : task_.checkpoint_records()) keys.push_back(key);
    const bool wants_ema = !state_.ema.empty();
    load_training_checkpoint(opt_.resume, task_.module(), optimizer_.get(), state_, keys,
                             [&](const auto& records) { task_.check_resume(records, opt_.resume); });
    state_.train_config = task_.config_json();
    if (state_.rng_state.defined()) {
      auto generator = at::detail::getDefaultCPUGenerator();
      generator.set_state(state_.rng_state);
    }
    auto extra = task_.extra_parameters();
    if (!extra.empty() && state_.extra_params.defined()) {
      torch::NoGradGuard ng;
      auto flat = state_.extra_params.flatten();
      int64_t total = 0;
      for (auto& p : extra) total += p.numel();
      if (flat.numel() != total)
        throw file_error(opt_.resume, "checkpoint holds " + std::to_string(flat.numel()) +
                                          " extra parameters; this run has " + std::to_string(total));
      int64_t at = 0;
      for (auto& p : extra) {
        p.copy_(flat.narrow(0, at, p.numel()).view_as(p).to(p.device()));
        at += p.numel();
      }
    }
    if (wants_ema && state_.ema.empty()) {  // resuming a run that had no EMA: start it from the loaded weights
      torch::NoGradGuard ng;
      for (const auto& p : task_.module().named_parameters()) state_.ema[p.key()] = p.value().detach().clone();
    }
    if (!wants_ema) state_.ema.clear();
    log_info("resumed from " + opt_.resume + " after epoch " + std::to_string(state_.epochs_done));
  }
  if (sync_ && sync_->world_size() > 1) {
    // Every rank starts from rank 0's weights, whatever each initialised or loaded (the EMA starts from them too).
    std::vector<torch::Tensor> shared;
    for (auto& p : task_.module().parameters()) shared.push_back(p.detach());
    for (auto& b : task_.module().buffers()) shared.push_back(b.detach());
    for (auto& p : task_.extra_parameters()) shared.push_back(p.detach());
    for (auto& [name, t] : state_.ema) shared.push_back(t);
    sync_->broadcast_from_rank0(shared);
  }
}

std::vector<int64_t> distributed_shard(const std::vector<int64_t>& order, int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world)
    throw Error("distributed_shard: rank " + std::to_string(rank) + " of world size " + std::to_string(world));
  const int64_t n = static_cast<int64_t>(order.size());
  if (n == 0) return {};
  const int64_t per_rank = (n + world - 1) / world;
  std::vector<int64_t> shard;
  shard.reserve(per_rank);
  for (int64_t i = 0; i < per_rank; ++i) shard.push_back(order[(i * world + rank) % n]);
  return shard;
}

TrainingLoop::~TrainingLoop() = default;

bool TrainingLoop::writes_files() const { return !sync_ || sync_->rank() == 0; }

double TrainingLoop::lr_at(int64_t epoch, int64_t step) const {
  double progress;
  if (opt_.schedule == LrSchedule::CosinePerEpoch) {
    progress = double(epoch) / double(std::max<int64_t>(1, opt_.epochs));
  } else {
    const int64_t total = std::max<int64_t>(1, opt_.epochs * std::max<int64_t>(1, steps_per_epoch_));
    progress = std::min(1.0, double(step) / double(total));
  }
  double lr = opt_.lr * 0.5 * (1.0 + std::cos(M_PI * progress));
  if (opt_.warmup_steps > 0 && step < opt_.warmup_steps) lr *= double(step + 1) / double(opt_.warmup_steps);
  return lr;
}

void TrainingLoop::set_lr(double lr) {
  for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

void TrainingLoop::update_ema() {
  if (state_.ema.empty()) return;
  torch::NoGradGuard ng;
  for (const auto& p : task_.module().named_parameters())
    state_.ema.at(p.key()).mul_(opt_.ema_decay).add_(p.value().detach(), 1.0 - opt_.ema_decay);
}

StepRecord TrainingLoop::step(const LossTerms& losses) {
  StepRecord rec;
  const double total = losses.total.item<double>();
  const bool finite = std::isfinite(total);
  optimizer_->zero_grad();
  if (finite) losses.total.backward();
  if (sync_) {
    std::vector<torch::Tensor> grads;
    for (auto& p : params_) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      if (!finite) p.mutable_grad().fill_(std::numeric_limits<float>::quiet_NaN());
      grads.push_back(p.grad());
    }
    sync_->all_reduce_mean(grads);
  }
  if (!finite) {
    optimizer_->zero_grad();
    rec.skipped = true;
    return rec;
  }
  const double max_norm = opt_.grad_clip > 0 ? opt_.grad_clip : std::numeric_limits<double>::infinity();
  rec.grad_norm = torch::nn::utils::clip_grad_norm_(params_, max_norm);
  if (!std::isfinite(rec.grad_norm)) {
    optimizer_->zero_grad();
    rec.skipped = true;
    return rec;
  }
  optimizer_->step();
  update_ema();
  ++state_.steps_done;
  rec.terms = losses.values();
  rec.total = total;
  return rec;
}

void TrainingLoop::save(const std::string& file_name) const {
  save_training_checkpoint((fs::path(opt_.output_dir) / file_name).string(), task_.module(), optimizer_.get(), state_,
                           {task_.checkpoint_format(), task_.checkpoint_records()});
}

void TrainingLoop::run_epoch(int64_t epoch) {
  std::vector<int64_t> order(task_.num_samples());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::mt19937_64 rng(mix_seed(opt_.seed, static_cast<uint64_t>(epoch)));
  std::shuffle(order.begin(), order.end(), rng);
  if (sync_ && sync_->world_size() > 1) order = distributed_shard(order, sync_->rank(), sync_->world_size());
  const int64_t batches =
      task_.begin_epoch(epoch, order, mix_seed(opt_.seed ^ 0x5eedull, static_cast<uint64_t>(epoch)));
  steps_per_epoch_ = batches;
  if (opt_.schedule == LrSchedule::CosinePerEpoch) set_lr(lr_at(epoch, state_.steps_done));
  std::unique_ptr<Progress> bar;
  if (opt_.progress && writes_files())
    bar = std::make_unique<Progress>("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(opt_.epochs), batches,
                                     "batch");
  const auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, double> sums;
  int64_t good = 0, skipped = 0;
  double grad_norm_sum = 0;
  for (int64_t i = 0; i < batches; ++i) {
    if (opt_.schedule == LrSchedule::CosinePerStep || state_.steps_done < opt_.warmup_steps)
      set_lr(lr_at(epoch, state_.steps_done));
    StepRecord rec = step(task_.next_losses());
    rec.epoch = epoch;
    rec.batch = i;
    if (rec.skipped) {
      ++skipped;
      if (writes_files())  // every rank skips the same steps: one warning
        log_warn("epoch " + std::to_string(epoch + 1) + " batch " + std::to_string(i) +
                 ": non-finite loss or gradient, batch skipped");
    } else {
      ++good;
      grad_norm_sum += rec.grad_norm;
      for (const auto& [k, v] : rec.terms) sums[k] += v;
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
  if (sync_ && sync_->world_size() > 1) {
    // Each rank summed its own shard's losses; the epoch's are the mean over all ranks (every rank has the same
    // terms and skips the same steps).
    std::vector<double> values;
    for (const auto& [k, v] : sums) values.push_back(v);
    sync_->all_reduce_sum(values);
    size_t i = 0;
    for (auto& [k, v] : sums) v = values[i++] / double(sync_->world_size());
  }
  std::map<std::string, double> row;
  for (const auto& [k, v] : sums) row[k] = v / double(good);
  row["seconds"] = secs;
  row["skipped"] = double(skipped);
  row["lr"] = lr_at(epoch, state_.steps_done);
  row["peak_memory_mib"] = peak_memory_mib();
  if (good) row["grad_norm"] = grad_norm_sum / double(good);
  for (const auto& [k, v] : task_.epoch_info(epoch)) row[k] = v;
  append_history_row(state_.history, row);
  state_.epochs_done = epoch + 1;
  state_.rng_state = at::detail::getDefaultCPUGenerator().get_state();
  auto extra = task_.extra_parameters();
  if (!extra.empty()) {
    std::vector<torch::Tensor> flat;
    for (auto& p : extra) flat.push_back(p.detach().cpu().flatten());
    state_.extra_params = torch::cat(flat);
  }
  const double mean_total = good ? sums["total"] / double(good) : std::numeric_limits<double>::infinity();
  std::string msg =
      "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(opt_.epochs) + ": loss " + format_number(mean_total);
  for (const auto& [k, v] : row)
    if (!is_epoch_info_key(k) && k != "total") msg += " " + k + " " + format_number(v);
  msg += ", " + format_number(secs) + " s, " + std::to_string(skipped) + " skipped";
  if (!writes_files()) return;
  log_info(msg);
  ensure_directory(opt_.output_dir);
  if (good > 0 && mean_total < state_.best_loss) {
    state_.best_loss = mean_total;
    save(best_checkpoint_file(opt_.checkpoint_stem));
  }
  const bool last = epoch + 1 == opt_.epochs || (opt_.stop_after_epoch > 0 && epoch + 1 == opt_.stop_after_epoch);
  if ((opt_.save_interval > 0 && (epoch + 1) % opt_.save_interval == 0) || last)
    save(epoch_checkpoint_name(opt_.checkpoint_stem, epoch + 1));
  write_history_files(opt_.output_dir, opt_.history_tag, state_.history, opt_.write_plot);
}

const TrainingState& TrainingLoop::run() {
  if (writes_files()) log_info("training on " + task_.describe());
  const int64_t end = opt_.stop_after_epoch > 0 ? std::min(opt_.stop_after_epoch, opt_.epochs) : opt_.epochs;
  for (int64_t epoch = state_.epochs_done; epoch < end; ++epoch) run_epoch(epoch);
  return state_;
}

}  // namespace fresnel::train
