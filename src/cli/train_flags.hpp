// The flags of `fresnel train` (the original's train_gaussian_decoder.py names, spec §6.1, plus ours) and their
// resolution into a validated train::TrainConfig. Resolution is a plain function of the parsed flags, so every
// rule it enforces is tested in process (tests/cli/test_train_flags.cpp), as llama.cpp tests its argument parser.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "train/trainer.hpp"

namespace fresnel::cli {

// Raw flag values; the config fields that flags set directly live in `cfg`.
struct TrainFlags {
  train::TrainConfig cfg;
  int experiment = 3;
  std::string encoder = "precomputed";
  int64_t feature_dim = 384;
  std::string hidden = "512,512,256,128";
  std::string lr_schedule = "epoch";
  std::string screen_filter = "auto";
  int train_resolution = 0;
  int64_t stochastic_k = 0;
  int64_t max_images = 0;
  bool use_qsr = false, use_fourier = false, no_aug = false;
  std::vector<double> pose_el{-30, 45}, pose_az{0, 360};
  // Accepted for compatibility, rejected with an explanation when used.
  int n_spiral_points = 377, nca_steps = 16, nca_neighbors = 6;
  double nca_step_size = 0.1;
  bool use_physics_zones = false, use_diffraction_placement = false, use_multi_wavelength = false;
  // Long names of the flags given on the command line (defaults that depend on other flags need to know).
  std::set<std::string> given;
  bool was_given(const std::string& flag) const { return given.count(flag) > 0; }
};

// Adds every flag to `cmd`, bound to `flags`.
void add_train_flags(CLI::App& cmd, TrainFlags& flags);
// After parsing: records which flags `cmd` saw.
void record_given_flags(const CLI::App& cmd, TrainFlags& flags);
// Every rule that needs no data. Throws fresnel::UsageError naming the flag.
train::TrainConfig resolve_train_flags(const TrainFlags& flags);
// The rules that need the dataset (view counts, multi-pose, depth mode, the input camera): completes `config`
// and opens its sample source. Throws fresnel::UsageError / fresnel::Error naming the flag or file.
std::unique_ptr<train::SampleSource> open_training_source(train::TrainConfig& config, const TrainFlags& flags);
// Parses `args` (after "train") as the command would and resolves them: for tests and scripts.
train::TrainConfig train_config_from_args(const std::vector<std::string>& args);

}  // namespace fresnel::cli
