// The one training loop every trainer uses (the v1 decoder trainer today; CVS and Fresnel v2 next). It owns what
// they share: AdamW with a cosine schedule (per epoch or per step) and linear warm-up, gradient clipping, skipping
// and counting non-finite steps, an exponential moving average of the weights, checkpoints (every N epochs, best,
// last) with optimizer, RNG and EMA state so that a resumed run equals an uninterrupted one, the loss history
// (JSON, CSV, loss-curve PNG) built from the terms the trainer actually computed, the progress bar, the seeded
// sample order, and the hook where distributed training all-reduces gradients (GradientSync).
//
// A trainer implements TrainingTask: its module, how an epoch's batches are loaded (in the order the loop gives,
// in background threads) and the loss terms of one batch.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "train/checkpoint.hpp"
#include "train/losses.hpp"

namespace fresnel::train {

enum class LrSchedule : int {
  CosinePerEpoch = 0,  // the original's CosineAnnealingLR(T_max = epochs), stepped once per epoch
  CosinePerStep = 1,   // cosine over all optimizer steps (CVS, v2)
};

struct LoopOptions {
  int64_t epochs = 100;
  double lr = 1e-4;
  double weight_decay = 1e-5;
  double grad_clip = 1.0;  // max global gradient norm; <= 0: no clipping
  LrSchedule schedule = LrSchedule::CosinePerEpoch;
  int64_t warmup_steps = 0;  // linear warm-up of the learning rate over the first optimizer steps
  double ema_decay = 0.0;    // > 0: keep an EMA of the weights (saved in checkpoints as "ema")
  uint64_t seed = 42;        // sample order and per-sample randomness of each epoch
  std::string output_dir = "checkpoints";
  std::string checkpoint_stem = "decoder_exp2";  // {stem}_epoch{N}.pt and {stem}_best.pt
  std::string history_tag = "exp2";              // training_history_{tag}.json/.csv and training_metrics_{tag}.png
  int64_t save_interval = 10;                    // also saves the best and the last epoch
  int64_t stop_after_epoch = 0;                  // > 0: stop after this many epochs (the schedule still spans `epochs`)
  std::string resume;                            // checkpoint to continue from
  bool progress = true;
  bool write_plot = true;

  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("epochs", c.epochs);
    visit("lr", c.lr);
    visit("weight_decay", c.weight_decay);
    visit("grad_clip", c.grad_clip);
    visit("schedule", c.schedule);
    visit("warmup_steps", c.warmup_steps);
    visit("ema_decay", c.ema_decay);
    visit("seed", c.seed);
    visit("output_dir", c.output_dir);
    visit("checkpoint_stem", c.checkpoint_stem);
    visit("history_tag", c.history_tag);
    visit("save_interval", c.save_interval);
    visit("stop_after_epoch", c.stop_after_epoch);
    visit("resume", c.resume);
    visit("progress", c.progress);
    visit("write_plot", c.write_plot);
  }
};
void to_json(nlohmann::json& j, const LoopOptions& c);
void from_json(const nlohmann::json& j, LoopOptions& c);

// What a trainer gives the loop.
class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  virtual std::string describe() const = 0;  // what is trained on, for the log
  virtual int64_t num_samples() const = 0;
  // The module whose parameters are optimised, saved as "model" and averaged by the EMA.
  virtual torch::nn::Module& module() = 0;
  // Further optimised tensors outside the module (e.g. learnable wavelengths), saved as "extra_params".
  virtual std::vector<torch::Tensor> extra_parameters() { return {}; }
  // String records written in every checkpoint (e.g. {"model_config": JSON}) and the checkpoint's format name.
  virtual std::map<std::string, std::string> checkpoint_records() const { return {}; }
  virtual std::string checkpoint_format() const = 0;
  // Called when resuming, with the checkpoint's records: throws when they do not fit this run.
  virtual void check_resume(const std::map<std::string, std::string>& records, const std::string& path) const {}
  // Starts an epoch: the samples in `order` (shuffled by the loop), `seed` for per-sample randomness. Returns the
  // number of batches.
  virtual int64_t begin_epoch(int64_t epoch, std::vector<int64_t> order, uint64_t seed) = 0;
  // The weighted loss terms of the epoch's next batch, with the graph attached (the module in training mode).
  virtual LossTerms next_losses() = 0;
  // Values written to the history after each epoch besides the losses (e.g. the render resolution).
  virtual std::map<std::string, double> epoch_info(int64_t epoch) const { return {}; }
  // The trainer's configuration, saved in every checkpoint as "train_config".
  virtual nlohmann::json config_json() const = 0;
};

// Distributed data parallel (src/distributed/) plugs in here: the loop copies rank 0's weights to every rank, gives
// each rank its shard of the epoch's order (distributed_shard), averages gradients through all_reduce_mean between
// backward and the optimizer step, and sums the epoch's metrics over the ranks; rank 0 alone writes files.
class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Averages every tensor in place over the ranks. A rank whose loss was not finite passes NaN gradients, so every
  // rank sees a non-finite norm and skips the same step.
  virtual void all_reduce_mean(std::vector<torch::Tensor>& gradients) = 0;
  // Overwrites every tensor in place with rank 0's values (initial or resumed weights, extra parameters).
  virtual void broadcast_from_rank0(std::vector<torch::Tensor>& tensors) = 0;
  // Sums each value over the ranks (the epoch's loss sums).
  virtual void all_reduce_sum(std::vector<double>& values) = 0;
};

// Rank `rank`'s share of an epoch's `order` (torch's DistributedSampler): the order is padded by repeating its
// start until its length is a multiple of `world`, then rank r takes positions r, r + world, r + 2·world, … So the
// shards are disjoint up to the padding, cover every sample, and have equal lengths: every rank takes the same
// number of steps. With batch b per rank, step i of all ranks together sees exactly batch i of one rank with batch
// world·b, which is what makes W ranks equal one rank with a W times larger batch.
std::vector<int64_t> distributed_shard(const std::vector<int64_t>& order, int rank, int world);

struct StepRecord {
  int64_t epoch = 0, batch = 0;
  double total = 0;
  std::map<std::string, double> terms;  // weighted loss terms of the step and "total"
  bool skipped = false;
  double grad_norm = 0;
};

class TrainingLoop {
 public:
  // Restores the state from options.resume when set (weights, optimizer, RNG, EMA, history).
  TrainingLoop(LoopOptions options, TrainingTask& task, GradientSync* sync = nullptr);
  ~TrainingLoop();
  TrainingLoop(const TrainingLoop&) = delete;
  TrainingLoop& operator=(const TrainingLoop&) = delete;

  // Runs from the current state to `epochs` (or `stop_after_epoch`).
  const TrainingState& run();
  // One optimisation step on given loss terms; returns its record (skipped when non-finite).
  StepRecord step(const LossTerms& losses);

  const TrainingState& state() const { return state_; }
  const std::vector<StepRecord>& steps() const { return steps_; }
  // The EMA of the module's parameters by name (empty when ema_decay is 0).
  const std::map<std::string, torch::Tensor>& ema() const { return state_.ema; }
  double lr_at(int64_t epoch, int64_t step) const;  // learning rate of an epoch (and optimizer step)
  int64_t steps_per_epoch() const { return steps_per_epoch_; }

 private:
  void run_epoch(int64_t epoch);
  void set_lr(double lr);
  void update_ema();
  void save(const std::string& file_name) const;
  bool writes_files() const;

  LoopOptions opt_;
  TrainingTask& task_;
  GradientSync* sync_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  TrainingState state_;
  std::vector<StepRecord> steps_;
  int64_t steps_per_epoch_ = 0;
};

// "{stem}_epoch{N}.pt" and "{stem}_best.pt".
std::string epoch_checkpoint_name(const std::string& stem, int64_t epoch);
std::string best_checkpoint_file(const std::string& stem);

}  // namespace fresnel::train
