// Training checkpoints `decoder_exp{E}_epoch{N}.pt` / `decoder_exp{E}_best.pt`: libtorch archives holding the
// model (parameters and buffers), its ModelConfig (JSON), the optimizer state, the completed epoch (the cosine
// schedule is a function of it), the RNG state and the loss history, so `--resume` continues exactly.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "train/model.hpp"

namespace torch::optim {
class Optimizer;
}

namespace fresnel::train {

struct TrainingState {
  int64_t epochs_done = 0;         // completed epochs (the next run starts at this 0-based epoch)
  double best_loss = 1e300;
  int64_t skipped_batches = 0;
  nlohmann::json history = nlohmann::json::object();  // key → per-epoch list
  nlohmann::json train_config = nlohmann::json::object();
  torch::Tensor rng_state;         // torch CPU generator state
  torch::Tensor extra_params;      // learnable wavelengths etc. (flat), undefined if none
};

std::string checkpoint_name(int experiment, int64_t epoch);  // "decoder_exp2_epoch10.pt"
std::string best_checkpoint_name(int experiment);            // "decoder_exp2_best.pt"

// Writes atomically.
void save_checkpoint(const std::string& path, FresnelModel& model, torch::optim::Optimizer* optimizer,
                     const TrainingState& state);

// Reads the model config of a checkpoint. Throws fresnel::Error naming the file.
ModelConfig read_model_config(const std::string& path);
// Rebuilds the model from a checkpoint (CPU). Throws fresnel::Error naming the file when missing/corrupt.
FresnelModel load_model(const std::string& path);
// Restores model weights, optimizer and state from a checkpoint into existing objects (for --resume).
void load_checkpoint(const std::string& path, FresnelModel& model, torch::optim::Optimizer* optimizer,
                     TrainingState& state);

}  // namespace fresnel::train
