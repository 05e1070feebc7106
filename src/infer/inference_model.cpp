#include "infer/inference_model.hpp"

#include "core/error.hpp"
#include "core/smoothing_filter.hpp"
#include "train/checkpoint.hpp"

namespace fresnel::infer {

namespace F = torch::nn::functional;

InferenceModel InferenceModel::load(const std::string& path, const torch::Device& device) {
  return InferenceModel(train::load_model(path), device);
}

InferenceModel::InferenceModel(train::FresnelModel model, const torch::Device& device)
    : model_(std::move(model)), device_(device) {
  model_->to(device_);
  model_->eval();
}

Camera InferenceModel::input_camera(int width, int height) const {
  return train::input_camera_from_normalized(config().input_intrinsics, width, height);
}

Prediction InferenceModel::predict(const torch::Tensor& image_in, const PredictInputs& extra) const {
  if (!image_in.defined() || image_in.dim() != 3) throw Error("predict: image must be (H,W,3) or (3,H,W)");
  auto image = image_in.size(0) == 3 && image_in.size(2) != 3 ? image_in : image_in.permute({2, 0, 1});
  if (image.size(0) != 3) throw Error("predict: image must have 3 channels");
  if (!torch::isfinite(image).all().item<bool>()) throw Error("predict: image has NaN/Inf values");
  const int S = config().image_size;
  image = F::interpolate(
              image.to(torch::kFloat32).unsqueeze(0),
              F::InterpolateFuncOptions().size(std::vector<int64_t>{S, S}).mode(torch::kBilinear).align_corners(false))
              .clamp(0.0, 1.0)
              .to(device_);
  train::ModelInputs in;
  in.images = image;
  if (extra.features.defined()) {
    if (extra.features.dim() != 3 || extra.features.size(0) != config().decoder.feature_dim)
      throw Error("predict: features must be (" + std::to_string(config().decoder.feature_dim) + ",h,w)");
    in.features = extra.features.to(device_, torch::kFloat32).unsqueeze(0);
  } else if (needs_features()) {
    throw Error("predict: this model was trained on precomputed DINOv2 features; pass them (features)");
  }
  if (extra.depth.defined()) {
    auto d =
        (extra.depth.dim() == 2 ? extra.depth.unsqueeze(0) : extra.depth).to(device_, torch::kFloat32).unsqueeze(0);
    // Metric depth has 0 for background: nearest resampling keeps edges from blending into mid-air depths.
    auto o = F::InterpolateFuncOptions().size(std::vector<int64_t>{S, S});
    in.depth = config().mode() == decode::DepthMode::Metric
                   ? F::interpolate(d, o.mode(torch::kNearest))
                   : F::interpolate(d, o.mode(torch::kBilinear).align_corners(false));
  }
  if (extra.intrinsics.defined()) in.intrinsics = extra.intrinsics.to(device_, torch::kFloat32).view({1, 4});
  in.num_gaussians = extra.num_gaussians;
  torch::NoGradGuard ng;
  auto out = model_->forward(in);
  Prediction p;
  // Results on the CPU whatever the model's device: writers, SAAG and evaluation read them there.
  p.gaussians = out.decoded.gaussians.batch(0).detach().to(torch::TensorOptions().device(torch::kCPU));
  if (extra.smoothing_variance_px2 > 0) {
    // The sampling rate the model was trained at: its input camera at S×S (the intrinsics it was given).
    Camera trained = input_camera(S, S);
    if (extra.intrinsics.defined()) {
      const auto k = extra.intrinsics.to(torch::kCPU, torch::kFloat64).reshape({4});
      trained.fx = k[0].item<double>() * S;
      trained.fy = k[1].item<double>() * S;
    }
    p.gaussians = apply_smoothing_filter(p.gaussians, trained, extra.smoothing_variance_px2);
  }
  if (out.depth_used.defined()) p.depth = out.depth_used[0].detach().cpu();
  return p;
}

ObjectPredictor checkpoint_predictor(std::shared_ptr<const InferenceModel> model, double smoothing_variance_px2) {
  return [model, smoothing_variance_px2](const ObjectViews& obj) {
    const auto& in = obj.input();
    const Camera& c = in.camera;
    PredictInputs extra;
    extra.smoothing_variance_px2 = smoothing_variance_px2;
    extra.intrinsics =
        torch::tensor({float(c.fx / c.width), float(c.fy / c.height), float(c.cx / c.width), float(c.cy / c.height)});
    // Models that place Gaussians with given depth get the input view's depth, as the baselines do.
    if (model->config().decoder_depth == "data" && in.depth.defined()) extra.depth = in.depth;
    Prediction p = model->predict(in.rgb, extra);
    const bool head_depth = !extra.depth.defined() && model->config().mode() == decode::DepthMode::Metric;
    return ObjectPrediction{std::move(p.gaussians), head_depth ? p.depth : torch::Tensor(),
                            model->config().screen_filter()};
  };
}

}  // namespace fresnel::infer
