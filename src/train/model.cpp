#include "train/model.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/field_table.hpp"
#include "core/smoothing_filter.hpp"

namespace fresnel::train {

decode::DepthMode ModelConfig::mode() const {
  return depth_mode == "metric" ? decode::DepthMode::Metric : decode::DepthMode::Normalized;
}

nlohmann::json ModelConfig::to_json() const { return fields_to_json(*this); }

void to_json(nlohmann::json& j, const ModelConfig& c) { j = c.to_json(); }
void from_json(const nlohmann::json& j, ModelConfig& c) { c = ModelConfig::from_json(j); }

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  ModelConfig c;
  fields_from_json(j, c, "model config");  // fields absent in older checkpoints keep their defaults
  if (c.feature_grid < 1) throw Error("model config: feature_grid must be >= 1");
  if (!(c.smoothing_variance_px2 >= 0)) throw Error("model config: smoothing_variance_px2 must be >= 0");
  if (!(c.mip_filter_px2 >= 0 && c.mip_filter_px2 <= 100))
    throw Error("model config: mip_filter_px2 must be in [0, 100]");
  if (c.decoder_depth != "predicted" && c.decoder_depth != "data")
    throw Error("model config: decoder_depth must be 'predicted' or 'data'");
  if (c.depth_head != "coarse" && c.depth_head != "fine")
    throw Error("model config: depth_head must be 'coarse' or 'fine', got '" + c.depth_head + "'");
  c.kind = decode::decoder_kind_from_experiment(static_cast<int>(c.kind), "model config: field 'experiment'");
  if (c.decoder.pixel_aligned && c.kind != decode::DecoderKind::DirectPatch)
    throw Error("model config: pixel_aligned applies to experiment 2 only");
  if (c.encoder != "builtin" && c.encoder != "precomputed")
    throw Error("model config: encoder must be 'builtin' or 'precomputed', got '" + c.encoder + "'");
  if (c.depth_mode != "metric" && c.depth_mode != "normalized")
    throw Error("model config: depth_mode must be 'metric' or 'normalized'");
  return c;
}

ScreenFilter ModelConfig::screen_filter() const {
  return mip_filter_px2 > 0 ? ScreenFilter::mip(mip_filter_px2) : ScreenFilter::dilation();
}

decode::DecoderOptions ModelConfig::decoder_options() const {
  decode::DecoderOptions o;
  o.patch = decoder;
  o.patch.depth_mode = mode();
  o.saag_subsample = saag_subsample;
  return o;
}

FresnelModelImpl::FresnelModelImpl(ModelConfig c) : config_(std::move(c)) {
  if (config_.builtin()) {
    encode::BuiltinEncoderOptions eo;
    eo.channels = config_.decoder.feature_dim;
    eo.metric_depth = config_.mode() == decode::DepthMode::Metric;
    eo.grid = config_.feature_grid;
    eo.fine = config_.decoder.pixel_aligned;
    eo.fine_depth = eo.fine && config_.depth_head == "fine";
    encoder = register_module("encoder", encode::BuiltinEncoder(eo));
  }
  decoder_ = register_module("decoder", decode::make_decoder(config_.kind, config_.decoder_options()));
}

Camera input_camera_from_normalized(const std::array<double, 4>& k, int width, int height) {
  Camera c;
  c.fx = k[0] * width;
  c.fy = k[1] * height;
  c.cx = k[2] * width;
  c.cy = k[3] * height;
  c.width = width;
  c.height = height;
  return c;
}

ModelOutput FresnelModelImpl::forward(const ModelInputs& in) {
  ModelOutput out;
  const auto B = in.images.defined() ? in.images.size(0) : in.features.size(0);
  auto opts = in.images.defined() ? in.images.options() : in.features.options();
  torch::Tensor intr = in.intrinsics;
  if (!intr.defined()) {
    const auto& k = config_.input_intrinsics;
    intr = torch::tensor({float(k[0]), float(k[1]), float(k[2]), float(k[3])}, opts).view({1, 4}).repeat({B, 1});
  }
  torch::Tensor features = in.features, depth = in.depth;
  if (config_.builtin()) {
    if (!in.images.defined()) throw Error("model: the built-in encoder needs input images");
    auto enc = encoder->forward(in.images);
    features = enc.features;
    out.predicted_depth = enc.depth;
    // By default the decoder sees the predicted depth, as at inference on a bare image (the depth head is
    // supervised by the dataset depth); with decoder_depth "data" it uses the given depth when there is one.
    if (!(config_.decoder_depth == "data" && in.depth.defined())) depth = enc.depth;
  }
  if (!features.defined()) throw Error("model: no features (precomputed features missing)");
  out.depth_used = depth;
  ModelInputs di = in;
  di.features = features;
  di.depth = depth;
  di.intrinsics = intr;
  out.decoded = decoder_->forward(di);
  if (config_.smoothing_variance_px2 > 0)  // the sampling rate of the input view at the training resolution
    out.decoded.gaussians = apply_smoothing_filter_input_frame(
        out.decoded.gaussians, torch::min(intr.select(1, 0), intr.select(1, 1)) * double(config_.image_size),
        config_.smoothing_variance_px2, config_.smoothing_compensates_opacity);
  return out;
}

}  // namespace fresnel::train
