// The v1 decoder trainer of `fresnel train` (spec §6.4, §18): the first user of the one training loop
// (train/loop.hpp), which owns the optimizer, schedule, clipping, NaN skipping, checkpoints, resume and history.
// This file owns what is particular to decoders: the model, HFTS, multi-view and multi-pose supervision, the
// renderers (splatting, phase blending, wave fields) and the inputs of each loss term.
#pragma once
#include <torch/types.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "metrics/lpips.hpp"
#include "train/checkpoint.hpp"
#include "train/hfts.hpp"
#include "train/loop.hpp"
#include "train/losses.hpp"
#include "train/model.hpp"
#include "train/training_data.hpp"

namespace fresnel::train {

struct TrainConfig {
  ModelConfig model;
  LoopOptions loop;  // epochs, learning rate, clipping, seed, output_dir, checkpoints, resume
  std::string data_dir = "images";
  int64_t batch_size = 4;
  int image_size = 256;
  int64_t max_images = 0;
  int num_workers = 2;
  std::string device = "cpu";
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
  double frontal_prob = 0.3;
  int novel_views = 2;  // extra views rendered per sample when the dataset has them and novel_view_weight > 0

  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("model", c.model);
    visit("loop", c.loop);
    visit("data_dir", c.data_dir);
    visit("batch_size", c.batch_size);
    visit("image_size", c.image_size);
    visit("max_images", c.max_images);
    visit("num_workers", c.num_workers);
    visit("device", c.device);
    visit("augment", c.augment);
    visit("feature_file", c.feature_file);
    visit("lpips_weights", c.lpips_weights);
    visit("loss", c.loss);
    visit("hfts", c.hfts);
    visit("use_phase_blending", c.use_phase_blending);
    visit("phase_amplitude", c.phase_amplitude);
    visit("use_wave_rendering", c.use_wave_rendering);
    visit("learnable_wavelengths", c.learnable_wavelengths);
    visit("wavelengths", c.wavelengths);
    visit("multi_pose_augmentation", c.multi_pose_augmentation);
    visit("frontal_prob", c.frontal_prob);
    visit("novel_views", c.novel_views);
  }
  nlohmann::json to_json() const;
  // Throws fresnel::Error naming the field when malformed.
  static TrainConfig from_json(const nlohmann::json& j);
};

class Trainer : public TrainingTask {
 public:
  // Takes the source (use open_source for files; tests pass their own). Resumes when config.loop.resume is set.
  // `sync` (a process group, src/distributed/) makes this one rank of a data-parallel run.
  Trainer(TrainConfig config, std::unique_ptr<SampleSource> source, GradientSync* sync = nullptr);
  ~Trainer() override;
  // Runs from the current state to `epochs` (or `stop_after_epoch`). Returns the final state.
  const TrainingState& run();

  const TrainingState& state() const { return loop_->state(); }
  FresnelModel model() const { return model_; }
  const std::vector<StepRecord>& steps() const { return loop_->steps(); }
  // The weighted loss terms of one batch at an HFTS step (the graph attached); what each loop step optimises.
  LossTerms batch_losses(const Batch& batch, const HftsStep& schedule);

  // TrainingTask.
  std::string describe() const override { return source_->describe(); }
  int64_t num_samples() const override { return source_->size(); }
  torch::nn::Module& module() override { return *model_; }
  std::vector<torch::Tensor> extra_parameters() override;
  std::map<std::string, std::string> checkpoint_records() const override;
  std::string checkpoint_format() const override { return kDecoderCheckpointFormat; }
  void check_resume(const std::map<std::string, std::string>& records, const std::string& path) const override;
  int64_t begin_epoch(int64_t epoch, std::vector<int64_t> order, uint64_t seed) override;
  LossTerms next_losses() override;
  std::map<std::string, double> epoch_info(int64_t epoch) const override;
  nlohmann::json config_json() const override { return cfg_.to_json(); }

 private:
  // Which views a batch is supervised on: the input view (pose_view < 0) or multi-pose's view, plus the other
  // views when `novel`; the pose fed to the pose encoding.
  struct Supervision {
    int resolution = 0;
    int pose_view = -1;
    bool novel = false;
    torch::Tensor elevation, azimuth;
  };
  struct Renders {
    torch::Tensor rgb, depth, alpha;  // (B,C,3,R,R), (B,C,1,R,R), (B,C,R,R); depth and alpha undefined for waves
  };
  Supervision choose_supervision(const Batch& batch, int resolution) const;
  std::vector<std::vector<Camera>> supervised_cameras(const Batch& batch, const Supervision& sup) const;
  Renders render_views(const Gaussians& g, const std::vector<std::vector<Camera>>& cams) const;
  LossInputs loss_inputs(const Batch& batch, const ModelInputs& in, const ModelOutput& out, const Renders& renders,
                         const Supervision& sup);

  TrainConfig cfg_;
  std::unique_ptr<SampleSource> source_;
  FresnelModel model_{nullptr};
  LearnableWavelengths wavelengths_{nullptr};
  std::shared_ptr<Lpips> lpips_;  // loaded when loss.lpips_weight > 0
  torch::Device device_;
  HftsStep schedule_;
  std::unique_ptr<BatchLoader> loader_;
  std::unique_ptr<TrainingLoop> loop_;
};

}  // namespace fresnel::train
