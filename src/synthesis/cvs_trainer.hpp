// `fresnel cvs train` (spec §9.3, §18): CVS as a train::TrainingTask on the shared loop — AdamW, linear warm-up
// over warmup_epochs then cosine per step, clipping 1.0, EMA every step, checkpoints cvs_epoch{N}.pt /
// cvs_best.pt with resume, history and loss-curve PNG — plus validation PSNR of the EMA weights for each
// --validate_steps count every validate_every epochs. CVS checkpoints and their loader live here too.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "synthesis/cvs_data.hpp"
#include "synthesis/cvs_losses.hpp"
#include "synthesis/cvs_model.hpp"
#include "train/loop.hpp"

namespace fresnel {
class Lpips;
}

namespace fresnel::synthesis {

constexpr const char* kCvsCheckpointFormat = "fresnel-cvs-checkpoint";

struct CvsTrainConfig {
  CVSConfig model;
  train::LoopOptions loop;  // epochs, lr, weight_decay, ema_decay, seed, output_dir (= checkpoint_dir), resume
  CvsLossConfig loss;
  std::string data_dir = "images/training";
  int64_t batch_size = 4;
  int num_workers = 4;  // threads loading a batch's samples
  int64_t warmup_epochs = 5;
  int64_t validate_every = 10;
  std::vector<int64_t> validate_steps = {1, 2, 4};
  int64_t validate_samples = 4;   // from the dataset's val split when it has one, else the first training samples
  std::string features = "auto";  // auto | dinov2 | builtin
  int64_t builtin_channels = 64;  // feature width of the built-in encoder
  std::string lpips_weights;      // LPIPS safetensors for the quality-aware perceptual term
  bool self_target_dataset = false;
  int64_t max_images = 0;
  std::string device = "cpu";

  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("model", c.model);
    visit("loop", c.loop);
    visit("loss", c.loss);
    visit("data_dir", c.data_dir);
    visit("batch_size", c.batch_size);
    visit("num_workers", c.num_workers);
    visit("warmup_epochs", c.warmup_epochs);
    visit("validate_every", c.validate_every);
    visit("validate_steps", c.validate_steps);
    visit("validate_samples", c.validate_samples);
    visit("features", c.features);
    visit("builtin_channels", c.builtin_channels);
    visit("lpips_weights", c.lpips_weights);
    visit("self_target_dataset", c.self_target_dataset);
    visit("max_images", c.max_images);
    visit("device", c.device);
  }
  nlohmann::json to_json() const;
};

class CvsTrainer : public train::TrainingTask {
 public:
  // Opens the data (open_cvs_source), decides the feature source, builds the model and the loop (resuming when
  // config.loop.resume is set). Throws fresnel::Error / UsageError naming the file or flag.
  explicit CvsTrainer(CvsTrainConfig config);
  ~CvsTrainer() override;
  const train::TrainingState& run();

  ConsistencyViewSynthesizer model() const { return model_; }
  const CvsTrainConfig& config() const { return cfg_; }
  const train::TrainingLoop& loop() const { return *loop_; }
  // Validation PSNR (dB, on [−1,1] images as the original) of the EMA weights for each step count.
  std::map<std::string, double> validate() const;

  // TrainingTask.
  std::string describe() const override;
  int64_t num_samples() const override { return source_->size(); }
  torch::nn::Module& module() override { return *model_; }
  std::map<std::string, std::string> checkpoint_records() const override;
  std::string checkpoint_format() const override { return kCvsCheckpointFormat; }
  void check_resume(const std::map<std::string, std::string>& records, const std::string& path) const override;
  int64_t begin_epoch(int64_t epoch, std::vector<int64_t> order, uint64_t seed) override;
  train::LossTerms next_losses() override;
  std::map<std::string, double> epoch_info(int64_t epoch) const override;
  nlohmann::json config_json() const override { return cfg_.to_json(); }

 private:
  struct Batch {
    torch::Tensor input, target, depth, features, R, t;
  };
  Batch load_batch(const std::vector<int64_t>& indices, uint64_t seed, const CvsSource& source) const;
  void sync_ema_model() const;  // copies the loop's EMA into ema_model_

  CvsTrainConfig cfg_;
  std::unique_ptr<CvsSource> source_, val_source_;
  torch::Device device_;
  ConsistencyViewSynthesizer model_{nullptr};
  mutable ConsistencyViewSynthesizer ema_model_{nullptr};  // the EMA weights as a model (consistency, validation)
  PerceptualStack perceptual_{nullptr};
  std::shared_ptr<Lpips> lpips_;
  std::unique_ptr<train::TrainingLoop> loop_;
  std::vector<int64_t> order_;
  int64_t epoch_ = 0, batch_ = 0, batches_ = 0;
  uint64_t epoch_seed_ = 0;
};

// A CVS checkpoint's model with its trained or EMA weights (CPU, eval mode). Throws fresnel::Error naming the
// file when it is missing, corrupt, of another model kind, or has no EMA when Ema is asked.
enum class CvsWeights { Trained, Ema };
ConsistencyViewSynthesizer load_cvs_model(const std::string& path, CvsWeights weights = CvsWeights::Ema);

// "{stem}_best.pt" of CVS runs: cvs_best.pt; epoch files cvs_epoch{N}.pt.
constexpr const char* kCvsCheckpointStem = "cvs";

}  // namespace fresnel::synthesis
