// The trainable model: an optional built-in encoder plus one decoder (any decode::DecoderKind), with the
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
#include "decode/decoder_factory.hpp"
#include "encode/builtin_encoder.hpp"
#include "render/screen_filter.hpp"

namespace fresnel::train {

struct ModelConfig {
  decode::DecoderKind kind = decode::DecoderKind::DirectPatch;  // saved as the original's "experiment" number
  std::string encoder = "precomputed";                          // "precomputed" ({stem}_dinov2.bin) or "builtin"
  // The decoder's architecture: experiment 2's options, of which feature_dim (C: DINOv2 384/768/1024 or the built-in
  // encoder's width), hidden and dropout also configure experiments 1 and 3. Its depth_mode follows `depth_mode`.
  decode::DirectPatchDecoderOptions decoder;
  std::string depth_mode = "normalized";  // "normalized" (1 = near) or "metric" (camera z)
  // Input camera intrinsics as fractions of the image size (fx/W, fy/H, cx/W, cy/H): the camera the model was
  // trained with; inference puts Gaussians in this camera's frame.
  std::array<double, 4> input_intrinsics = kDefaultNormalizedIntrinsics;
  int saag_subsample = 4;     // experiments 1 and 3: one SAAG Gaussian per subsample² pixels
  int image_size = 256;       // training image size (inference resizes inputs to it)
  int64_t feature_grid = 37;  // the built-in encoder's output grid (pixel-aligned decoding: the image size)
  // Which depth the experiment-2 decoder places Gaussians with when the built-in encoder is used: "predicted"
  // (its depth head; needs only an image) or "data" (the dataset's / caller's depth when given, else predicted).
  std::string decoder_depth = "predicted";
  // Anti-aliasing trained in (core/smoothing_filter.hpp): the decoder's Gaussians get this 3D smoothing variance, in
  // pixels² at image_size, in training and at inference alike. 0 (and checkpoints without the field): none.
  double smoothing_variance_px2 = 0;
  // With the 3D filter, also Mip-Splatting's opacity compensation o·√(det Σ / det Σ') (train --antialias sets it;
  // checkpoints trained before it existed lack the field: off, as they were trained).
  bool smoothing_compensates_opacity = false;
  // The rasterizer's screen filter in training, evaluation and rendering: 0 (and older checkpoints): the 0.3 px²
  // dilation; > 0: Mip-Splatting's 2D Mip filter of this variance in pixels² (train --antialias: 0.1).
  double mip_filter_px2 = 0;
  // The built-in encoder's depth head with pixel-aligned decoding: "coarse" (a grid/4 map upsampled; checkpoints
  // without the field) or "fine" (refined at the full grid from the fused features; sharp object edges).
  std::string depth_head = "coarse";

  decode::DepthMode mode() const;
  int experiment() const { return decode::experiment_number(kind); }
  // What make_decoder builds this model's decoder from (the depth mode follows `depth_mode`).
  decode::DecoderOptions decoder_options() const;
  bool builtin() const { return encoder == "builtin"; }
  ScreenFilter screen_filter() const;  // what renders of this model's Gaussians must use
  nlohmann::json to_json() const;
  // Throws fresnel::Error naming the field when malformed.
  static ModelConfig from_json(const nlohmann::json& j);

  // Every field with its JSON key (core/field_table.hpp). The decoder's options keep the flat keys of the original
  // checkpoints' configuration.
  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("experiment", c.kind);
    visit("encoder", c.encoder);
    visit("feature_dim", c.decoder.feature_dim);
    visit("gaussians_per_patch", c.decoder.gaussians_per_patch);
    visit("decoder_hidden", c.decoder.hidden);
    visit("dropout", c.decoder.dropout);
    visit("use_fresnel_zones", c.decoder.use_fresnel_zones);
    visit("num_fresnel_zones", c.decoder.num_fresnel_zones);
    visit("use_edge_aware", c.decoder.use_edge_aware);
    visit("edge_scale_factor", c.decoder.edge_scale_factor);
    visit("edge_opacity_boost", c.decoder.edge_opacity_boost);
    visit("use_phase_output", c.decoder.use_phase_output);
    visit("use_pose_encoding", c.decoder.use_pose_encoding);
    visit("use_depth_fusion", c.decoder.use_depth_fusion);
    visit("depth_feature_dim", c.decoder.depth_feature_dim);
    visit("pixel_aligned", c.decoder.pixel_aligned);
    visit("pixel_scale_floor", c.decoder.pixel_scale_floor);
    visit("depth_mode", c.depth_mode);
    visit("input_intrinsics", c.input_intrinsics);
    visit("saag_subsample", c.saag_subsample);
    visit("image_size", c.image_size);
    visit("feature_grid", c.feature_grid);
    visit("decoder_depth", c.decoder_depth);
    visit("smoothing_variance_px2", c.smoothing_variance_px2);
    visit("smoothing_compensates_opacity", c.smoothing_compensates_opacity);
    visit("mip_filter_px2", c.mip_filter_px2);
    visit("depth_head", c.depth_head);
  }
};
void to_json(nlohmann::json& j, const ModelConfig& c);
void from_json(const nlohmann::json& j, ModelConfig& c);

// What the model reads: images (the built-in encoder and SAAG colours need them), precomputed features (B,C,37,37)
// without the built-in encoder, dataset depth (B,1,S,S) or undefined, normalised intrinsics (B,4) or undefined =
// the config's input_intrinsics, and the decoder's optional inputs.
using ModelInputs = decode::DecoderInputs;

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

  const std::shared_ptr<decode::GaussianDecoderImpl>& decoder() const { return decoder_; }

  encode::BuiltinEncoder encoder{nullptr};  // empty with precomputed features

 private:
  ModelConfig config_;
  std::shared_ptr<decode::GaussianDecoderImpl> decoder_;
};
TORCH_MODULE(FresnelModel);

// The input camera at w×h from normalised intrinsics (fx/W, fy/H, cx/W, cy/H): identity pose, OpenCV axes.
Camera input_camera_from_normalized(const std::array<double, 4>& k, int width, int height);

}  // namespace fresnel::train
