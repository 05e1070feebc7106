#include "infer/feature_decoding.hpp"

#include <torch/torch.h>

#include "core/error.hpp"
#include "core/feature_files.hpp"
#include "train/checkpoint.hpp"

namespace fresnel::infer {

namespace {

// PIL NEAREST: source index floor((i + 0.5)·in/out).
torch::Tensor nearest_resize(const torch::Tensor& d, int64_t size) {
  const int64_t n = d.size(0);
  if (n == size) return d;
  auto idx = ((torch::arange(size, torch::kFloat64) + 0.5) * (double(n) / double(size)))
                 .floor()
                 .clamp(0, n - 1)
                 .to(torch::kLong);
  return d.index_select(0, idx).index_select(1, idx);
}

}  // namespace

Gaussians decode_feature_files(const std::string& features_path, const std::string& depth_path,
                               const std::string& checkpoint, int64_t depth_size) {
  train::FresnelModel model = train::load_model(checkpoint);
  const auto& cfg = model->config();
  auto direct = decode::as_direct_patch(model->decoder(), checkpoint + ": decoding feature files");
  const torch::Tensor features = load_dinov2_features(features_path, cfg.decoder.feature_dim);  // (C,37,37)
  const torch::Tensor depth = nearest_resize(load_depth_bin(depth_path), depth_size);           // (S,S)
  model->eval();
  torch::NoGradGuard ng;
  decode::DecoderInputs in;
  in.features = features.unsqueeze(0);
  in.depth = depth.unsqueeze(0).unsqueeze(0);
  const auto& k = cfg.input_intrinsics;
  in.intrinsics = torch::tensor({k[0], k[1], k[2], k[3]}, torch::kFloat32).view({1, 4});
  return direct->forward(in).gaussians.batch(0);
}

}  // namespace fresnel::infer
