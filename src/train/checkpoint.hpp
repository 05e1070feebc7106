// Training checkpoints: libtorch archives holding a module (parameters and buffers), the optimizer state, the
// training state (completed epochs and steps, best loss, history, the trainer's configuration), the RNG state,
// extra optimised tensors and the weights' EMA, so `--resume` continues exactly; plus string records a trainer
// adds. Decoder checkpoints `decoder_exp{E}_epoch{N}.pt` / `decoder_exp{E}_best.pt` add their ModelConfig (JSON)
// as the record "model_config", so a checkpoint rebuilds its model.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/model.hpp"

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace fresnel::train {

struct TrainingState {
  int64_t epochs_done = 0;  // completed epochs (the next run starts at this 0-based epoch)
  int64_t steps_done = 0;   // optimizer steps taken (per-step schedules, warm-up)
  double best_loss = 1e300;
  int64_t skipped_batches = 0;
  nlohmann::json history = nlohmann::json::object();  // key → per-epoch list
  nlohmann::json train_config = nlohmann::json::object();
  torch::Tensor rng_state;                   // torch CPU generator state
  torch::Tensor extra_params;                // learnable wavelengths etc. (flat), undefined if none
  std::map<std::string, torch::Tensor> ema;  // EMA of the module's parameters by name, empty if none
};

// What a checkpoint file is, besides the module: written by save_training_checkpoint.
struct CheckpointMeta {
  std::string format;                          // e.g. "fresnel-decoder-checkpoint"
  std::map<std::string, std::string> records;  // e.g. {"model_config": JSON}
};

// Writes atomically (temporary file, then rename).
void save_training_checkpoint(const std::string& path, torch::nn::Module& module, torch::optim::Optimizer* optimizer,
                              const TrainingState& state, const CheckpointMeta& meta);
// Restores module weights, optimizer and state into existing objects. The records named in `record_keys` are read
// first and handed to `check_records` (which throws when they do not fit) before anything is loaded. Throws
// fresnel::Error naming the file when it is missing, corrupt or lacks what is asked.
using RecordCheck = std::function<void(const std::map<std::string, std::string>& records)>;
void load_training_checkpoint(const std::string& path, torch::nn::Module& module, torch::optim::Optimizer* optimizer,
                              TrainingState& state, const std::vector<std::string>& record_keys,
                              const RecordCheck& check_records);

std::string checkpoint_stem(int experiment);                 // "decoder_exp2"
std::string checkpoint_name(int experiment, int64_t epoch);  // "decoder_exp2_epoch10.pt"
std::string best_checkpoint_name(int experiment);            // "decoder_exp2_best.pt"
constexpr const char* kDecoderCheckpointFormat = "fresnel-decoder-checkpoint";

// A decoder checkpoint of `model` (its config as "model_config"). Writes atomically.
void save_checkpoint(const std::string& path, FresnelModel& model, torch::optim::Optimizer* optimizer,
                     const TrainingState& state);

// Reads the model config of a decoder checkpoint. Throws fresnel::Error naming the file.
ModelConfig read_model_config(const std::string& path);
// Which weights load_model puts in the model: the trained ones, or their EMA when the checkpoint has one.
enum class Weights { Trained, Ema };
// Rebuilds the model from a decoder checkpoint (CPU, eval mode). Throws fresnel::Error naming the file when it
// is missing or corrupt, or when Ema is asked of a checkpoint without an EMA.
FresnelModel load_model(const std::string& path, Weights weights = Weights::Trained);

}  // namespace fresnel::train
