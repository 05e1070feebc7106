// Shared by the inference tests: a tiny untrained checkpoint written the way `fresnel train` writes one.
#pragma once
#include <torch/torch.h>

#include <string>

#include "testutil/testutil.hpp"
#include "train/checkpoint.hpp"

namespace fresnel::test {

// An experiment-2 checkpoint with a 32² input. encoder "builtin" (metric depth from its own head) or "precomputed"
// (needs DINOv2 features of width feature_dim).
inline std::string save_tiny_checkpoint(const TempDir& dir, const std::string& encoder, int64_t feature_dim) {
  torch::manual_seed(3);
  train::ModelConfig cfg;
  cfg.kind = decode::DecoderKind::DirectPatch;
  cfg.encoder = encoder;
  cfg.decoder.feature_dim = feature_dim;
  cfg.decoder.gaussians_per_patch = 2;
  cfg.decoder.hidden = {16};
  cfg.image_size = 32;
  if (encoder == "builtin") cfg.depth_mode = "metric";
  train::FresnelModel model(cfg);
  const std::string path = dir.file("tiny_" + encoder + ".pt");
  train::save_checkpoint(path, model, nullptr, train::TrainingState{});
  return path;
}

}  // namespace fresnel::test
