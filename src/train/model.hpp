// The trainable model: an optional built-in encoder plus one decoder (experiment 1, 2 or 3), with the
// configuration that fixes its architecture (saved in every checkpoint, so a checkpoint rebuilds its model).
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/camera.hpp"
#include "decode/direct_patch_decoder.hpp"
#include "decode/saag.hpp"
#include "decode/saag_decoders.hpp"
#include "encode/builtin_encoder.hpp"

namespace fresnel::train {

struct ModelConfig {
  int experiment = 2;                    // 1 SAAG refinement, 2 direct patch decoder, 3 feature-guided SAAG
  std::string encoder = "precomputed";   // "precomputed" ({stem}_dinov2.bin) or "builtin"
  // The decoder's architecture: experiment 2's options, of which feature_dim (C: DINOv2 384/768/1024 or the built-in
  // encoder's width), hidden and dropout also configure experiments 1 and 3. Its depth_mode follows `depth_mode`.
  decode::DirectPatchDecoderOptions decoder;
  std::string depth_mode = "normalized";  // "normalized" (1 = near) or "metric" (camera z)
  // Input camera intrinsics as fractions of the image size (fx/W, fy/H, cx/W, cy/H): the camera the model was
  // trained with; inference puts Gaussians in this camera's frame.
  std::array<double, 4> input_intrinsics = kDefaultNormalizedIntrinsics;
  int saag_subsample = 4;  // experiments 1 and 3: one SAAG Gaussian per subsample² pixels
  int image_size = 256;    // training image size (inference resizes inputs to it)
  int64_t feature_grid = 37;  // the built-in encoder's output grid (pixel-aligned decoding: the image size)
  // Which depth the experiment-2 decoder places Gaussians with when the built-in encoder is used: "predicted"
  // (its depth head; needs only an image) or "data" (the dataset's / caller's depth when given, else predicted).
  std::string decoder_depth = "predicted";

  decode::DepthMode mode() const;
  bool builtin() const { return encoder == "builtin"; }
  nlohmann::json to_json() const;
  // Throws fresnel::Error naming the field when malformed.
  static ModelConfig from_json(const nlohmann::json& j);
};

struct ModelInputs {
  torch::Tensor images;      // (B,3,S,S) in [0,1] (needed by the built-in encoder and SAAG colours)
  torch::Tensor features;    // (B,C,37,37) precomputed, or undefined with the built-in encoder
  torch::Tensor depth;       // (B,1,S,S) dataset depth, or undefined
  torch::Tensor intrinsics;  // (B,4) normalised; undefined = the config's input_intrinsics
  std::optional<int64_t> num_gaussians;
  torch::Tensor elevation, azimuth;
};

struct ModelOutput {
  decode::DecoderOutput decoded;  // batched Gaussians in the input camera frame
  torch::Tensor predicted_depth;  // (B,1,S,S) from the built-in depth head, or undefined
  torch::Tensor depth_used;       // the depth the decoder saw (B,1,S,S), or undefined
};

class FresnelModelImpl : public torch::nn::Module {
 public:
  explicit FresnelModelImpl(ModelConfig config);
  ModelOutput forward(const ModelInputs& in);
  const ModelConfig& config() const { return config_; }

  encode::BuiltinEncoder encoder{nullptr};
  decode::DirectPatchDecoder direct{nullptr};
  decode::SaagRefinementNet refine{nullptr};
  decode::FeatureGuidedSaag guided{nullptr};

 private:
  ModelConfig config_;
};
TORCH_MODULE(FresnelModel);

// The input camera at w×h from normalised intrinsics (fx/W, fy/H, cx/W, cy/H): identity pose, OpenCV axes.
Camera input_camera_from_normalized(const std::array<double, 4>& k, int width, int height);

// SAAG Gaussians (fixed count per image) for a batch, from images (B,3,S,S) and depth (B,1,S,S).
Gaussians batch_saag(const torch::Tensor& images, const torch::Tensor& depth, const torch::Tensor& intrinsics,
                     int subsample, decode::DepthMode mode);

}  // namespace fresnel::train
