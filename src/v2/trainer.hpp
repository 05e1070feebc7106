// `fresnel v2 train` (spec §10.4): DirectSLatDecoder / MLPSLatDecoder distilled from a TRELLIS dataset on the shared
// training loop (train/loop.hpp): AdamW (wd 1e-3), clip 1.0, cosine per epoch, NaN steps skipped and counted,
// checkpoints direct_decoder_{type}_epoch{N}.pt and direct_decoder_{type}_best.pt, resume. Loss: GaussianMatchingLoss
// with the config weights + occupancy_weight · BCE; metrics occ_accuracy, occ_recall, avg_gaussians per epoch.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/loop.hpp"
#include "v2/matching_loss.hpp"
#include "v2/slat_decoder.hpp"
#include "v2/trellis_dataset.hpp"

namespace fresnel::v2 {

struct V2TrainOptions {
  std::string data_dir = "data/trellis_distillation";
  SlatDecoderOptions model;  // dropout 0.2 and the flags' sizes are set by the command
  int64_t batch_size = 4;
  int64_t max_coords = 4000;
  int64_t max_gaussians = 50000;
  double occupancy_distance = 0.15;
  double occupancy_weight = 2.0;
  int64_t occupancy_negatives = 0;  // empty voxels per sample for the occupancy head (TrellisDatasetOptions)
  bool targets_of_decoded_voxels = true;  // TrellisDatasetOptions; false = the original's independent subsets
  int num_workers = 2;
  double render_weight = 0.0;  // > 0: add render_weight · render_loss (matching_loss.hpp)
  int render_views = 4;
  int render_resolution = 64;
  MatchingWeights weights;  // the config's matching-loss weights (the original's defaults)
  std::string position_init = "normal";  // or "sinusoidal" (PositionalEncoding3DImpl::init_sinusoidal)
  double attention_gain = 0.1;            // the original's; other values: SlatDecoderImpl::reinit_attention

  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("data_dir", c.data_dir);
    visit("batch_size", c.batch_size);
    visit("max_coords", c.max_coords);
    visit("max_gaussians", c.max_gaussians);
    visit("occupancy_distance", c.occupancy_distance);
    visit("occupancy_weight", c.occupancy_weight);
    visit("occupancy_negatives", c.occupancy_negatives);
    visit("targets_of_decoded_voxels", c.targets_of_decoded_voxels);
    visit("num_workers", c.num_workers);
    visit("render_weight", c.render_weight);
    visit("render_views", c.render_views);
    visit("render_resolution", c.render_resolution);
    MatchingWeights::fields(c.weights, visit);
    visit("position_init", c.position_init);
    visit("attention_gain", c.attention_gain);
  }
};

constexpr const char* kV2CheckpointFormat = "fresnel-v2-checkpoint";
std::string v2_checkpoint_stem(const SlatDecoderOptions& o);  // "direct_decoder_transformer"

class V2Task : public train::TrainingTask {
 public:
  // Trains on the training part of the original's split of `options.data_dir`.
  explicit V2Task(V2TrainOptions options);
  std::string describe() const override;
  int64_t num_samples() const override { return static_cast<int64_t>(train_.size()); }
  torch::nn::Module& module() override { return *model_; }
  std::map<std::string, std::string> checkpoint_records() const override;
  std::string checkpoint_format() const override { return kV2CheckpointFormat; }
  void check_resume(const std::map<std::string, std::string>& records, const std::string& path) const override;
  int64_t begin_epoch(int64_t epoch, std::vector<int64_t> order, uint64_t seed) override;
  train::LossTerms next_losses() override;
  std::map<std::string, double> epoch_info(int64_t epoch) const override;
  nlohmann::json config_json() const override;

  SlatDecoder& model() { return model_; }
  const std::vector<std::string>& validation_samples() const { return val_; }

 private:
  struct Loader;
  V2TrainOptions opt_;
  SlatDecoder model_{nullptr};
  std::vector<std::string> train_, val_;
  std::shared_ptr<Loader> loader_;
  OccupancyCounts counts_;
};

// A v2 checkpoint's decoder (CPU, eval mode). Throws fresnel::Error naming the file.
SlatDecoder load_v2_model(const std::string& path);
// Writes a v2 checkpoint holding only weights and options (import-checkpoint).
void save_v2_model(const std::string& path, SlatDecoder& model, const nlohmann::json& train_config);

}  // namespace fresnel::v2
