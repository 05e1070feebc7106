// Inference API for a trained decoder checkpoint (used by `fresnel infer`, the viewer and `fresnel eval
// --checkpoint`).
//
// Conventions:
//  - Output Gaussians are in the INPUT camera's frame: OpenCV axes (x right, y down, z forward), camera at the
//    origin, world→camera = identity.
//  - The input camera's intrinsics are those the model was trained with, as fractions of the image size
//    (train::ModelConfig::input_intrinsics: fx/W, fy/H, cx/W, cy/H; the original's training camera is 0.8, 0.8,
//    0.5, 0.5). `input_camera(W,H)` gives that camera at any resolution; rendering the Gaussians with it
//    reproduces the input view. Pass your own normalised intrinsics to `predict` when the photo's camera is known.
//  - Depth: normalised depth d (1 = near) is mapped to z by decode::normalized_depth_to_z; metric depth is z.
//  - Models with the built-in encoder need only the image; precomputed-feature models need `features`
//    ((C,37,37) DINOv2 tokens, core/feature_files.hpp) and usually `depth` ({stem}_depth.bin).
#pragma once
#include <torch/types.h>

#include <memory>
#include <optional>
#include <string>

#include "core/camera.hpp"
#include "core/gaussians.hpp"
#include "evaluate/evaluate.hpp"
#include "train/model.hpp"

namespace fresnel::infer {

struct PredictInputs {
  torch::Tensor features;                // (C,37,37), optional (required without the built-in encoder)
  torch::Tensor depth;                   // (H,W) or (1,H,W), optional (normalised or metric per the model's depth mode)
  torch::Tensor intrinsics;              // (4,) normalised; undefined = the model's input_intrinsics
  std::optional<int64_t> num_gaussians;  // keep the first k Gaussians per patch (experiment 2)
  // Anti-aliasing (core/smoothing_filter.hpp): 3D smoothing variance in pixels² of the training resolution, baked
  // into the scales so the Gaussians hold together at any display resolution. 0: off (as trained).
  double smoothing_variance_px2 = 0;
};

struct Prediction {
  Gaussians gaussians;  // unbatched (N,…), input camera frame
  torch::Tensor depth;  // (1,S,S) the depth the decoder used (predicted by the built-in head, or given)
};

class InferenceModel {
 public:
  // Loads a checkpoint written by `fresnel train`. Throws fresnel::Error naming the file.
  static InferenceModel load(const std::string& checkpoint_path, const torch::Device& device = torch::kCPU);
  explicit InferenceModel(train::FresnelModel model, const torch::Device& device = torch::kCPU);

  // image: (H,W,3) or (3,H,W) float in [0,1] (any size; resized to the training size). Thread-compatible (one
  // call at a time per object).
  Prediction predict(const torch::Tensor& image, const PredictInputs& extra = {}) const;

  // The input camera at a resolution: identity pose, intrinsics from the model config.
  Camera input_camera(int width, int height) const;
  const train::ModelConfig& config() const { return model_->config(); }
  bool needs_features() const { return !config().builtin(); }

 private:
  mutable train::FresnelModel model_;  // forward() is logically const (eval mode, no grad)
  torch::Device device_;
};

// `fresnel eval --checkpoint`: predicts from each object's input view (image and its camera intrinsics). The depth
// of a metric-depth model's own head comes with the Gaussians (not for models given the data's depth).
// smoothing_variance_px2: PredictInputs::smoothing_variance_px2 (anti-aliasing; 0 off).
ObjectPredictor checkpoint_predictor(std::shared_ptr<const InferenceModel> model, double smoothing_variance_px2 = 0);

}  // namespace fresnel::infer
