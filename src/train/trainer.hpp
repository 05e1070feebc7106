// The training loop of `fresnel train` (spec §6.4, §18): AdamW (weight decay 1e-5), cosine learning rate per
// epoch, gradient clipping at 1.0, NaN/Inf batches skipped and counted, background data loading, HFTS, multi-view
// supervision, checkpoints and history. `--seed` makes a run repeatable and `--resume` continues one exactly.
#pragma once
#include <torch/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "metrics/lpips.hpp"
#include "train/checkpoint.hpp"
#include "train/hfts.hpp"
#include "train/losses.hpp"
#include "train/model.hpp"
#include "train/training_data.hpp"

namespace fresnel::train {

struct TrainConfig {
  ModelConfig model;
  std::string data_dir = "images";
  std::string output_dir = "checkpoints";
  int64_t epochs = 100;
  int64_t batch_size = 4;
  double lr = 1e-4;
  double weight_decay = 1e-5;
  double grad_clip = 1.0;
  int image_size = 256;
  int64_t max_images = 0;
  std::string resume;
  uint64_t seed = 42;
  int num_workers = 2;
  std::string device = "cpu";
  int64_t save_interval = 10;
  int64_t stop_after_epoch = 0;  // > 0: stop after this many epochs (schedule still spans `epochs`)
  bool augment = true;
  std::string feature_file = "small";
  std::string lpips_weights;  // LPIPS safetensors (metrics/lpips.hpp); the LPIPS term needs it
  LossConfig loss;
  HftsOptions hfts;
  bool use_phase_blending = false;
  double phase_amplitude = 0.25;
  bool use_wave_rendering = false;  // QSR: coherent wave-field renderer
  bool learnable_wavelengths = false;
  std::array<double, 3> wavelengths = {0.0635, 0.05, 0.041};
  bool multi_pose_augmentation = false;
  std::array<double, 2> pose_range_elevation = {-30, 45};
  std::array<double, 2> pose_range_azimuth = {0, 360};
  double frontal_prob = 0.3;
  int novel_views = 2;  // extra views rendered per sample when the dataset has them and novel_view_weight > 0
  bool progress = true;
  bool write_plot = true;

  nlohmann::json to_json() const;
};

struct StepRecord {
  int64_t epoch = 0, batch = 0;
  double total = 0;
  std::map<std::string, double> terms;  // weighted loss terms of the step
  bool skipped = false;
};

class Trainer {
 public:
  // Takes the source (use open_source for files; tests pass their own).
  Trainer(TrainConfig config, std::unique_ptr<SampleSource> source);
  ~Trainer();
  // Runs from the current state to `epochs` (or `stop_after_epoch`). Returns the final state.
  const TrainingState& run();

  const TrainingState& state() const { return state_; }
  FresnelModel model() const { return model_; }
  const std::vector<StepRecord>& steps() const { return steps_; }
  // One optimisation step on a batch (public for tests). Returns the loss terms; "total" is absent when skipped.
  std::map<std::string, double> train_step(const Batch& batch, const HftsStep& schedule);

 private:
  void run_epoch(int64_t epoch);
  void write_history() const;
  double lr_at(int64_t epoch) const;

  TrainConfig cfg_;
  std::unique_ptr<SampleSource> source_;
  FresnelModel model_{nullptr};
  LearnableWavelengths wavelengths_{nullptr};
  std::shared_ptr<Lpips> lpips_;  // loaded when loss.lpips_weight > 0
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  TrainingState state_;
  std::vector<StepRecord> steps_;
  torch::Device device_;
  std::map<std::string, double> epoch_sums_;
  int64_t epoch_count_ = 0;
};

// Elevation/azimuth (radians) of a camera relative to the input camera, measured around `pivot` (input frame) in
// the convention of core spherical_camera (input camera = (0,0)).
std::pair<double, double> relative_pose_angles(const Camera& cam, double pivot_z);

// Peak resident memory of this process (VmHWM) in MiB, or −1 when unknown.
double peak_memory_mib();

// Draws a loss-curve PNG (total and RGB per epoch) with OpenCV; atomic.
void write_loss_plot(const std::string& path, const nlohmann::json& history);

}  // namespace fresnel::train
