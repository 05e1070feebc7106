#include "train/model.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace fresnel::train {

decode::DepthMode ModelConfig::mode() const {
  return depth_mode == "metric" ? decode::DepthMode::Metric : decode::DepthMode::Normalized;
}

namespace {
// Every field of a ModelConfig with its JSON key, in one place for writing and reading. The decoder's options keep
// the flat keys of the original checkpoints' configuration.
template <typename Config, typename Visit>
void for_each_field(Config& c, Visit&& visit) {
  visit("experiment", c.experiment);
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
}
}  // namespace

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for_each_field(*this, [&](const char* key, const auto& value) { j[key] = value; });
  return j;
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  ModelConfig c;
  for_each_field(c, [&](const char* key, auto& out) {
    if (!j.contains(key)) return;  // absent in older checkpoints: the default
    try {
      j.at(key).get_to(out);
    } catch (const std::exception& e) {
      throw Error(std::string("model config: field '") + key + "' is malformed: " + e.what());
    }
  });
  if (c.feature_grid < 1) throw Error("model config: feature_grid must be >= 1");
  if (c.decoder_depth != "predicted" && c.decoder_depth != "data")
    throw Error("model config: decoder_depth must be 'predicted' or 'data'");
  if (c.decoder.pixel_aligned && c.experiment != 2) throw Error("model config: pixel_aligned applies to experiment 2 only");
  if (c.experiment < 1 || c.experiment > 3) throw Error("model config: experiment must be 1, 2 or 3");
  if (c.encoder != "builtin" && c.encoder != "precomputed")
    throw Error("model config: encoder must be 'builtin' or 'precomputed', got '" + c.encoder + "'");
  if (c.depth_mode != "metric" && c.depth_mode != "normalized")
    throw Error("model config: depth_mode must be 'metric' or 'normalized'");
  return c;
}

FresnelModelImpl::FresnelModelImpl(ModelConfig c) : config_(std::move(c)) {
  if (config_.builtin()) {
    encode::BuiltinEncoderOptions eo;
    eo.channels = config_.decoder.feature_dim;
    eo.metric_depth = config_.mode() == decode::DepthMode::Metric;
    eo.grid = config_.feature_grid;
    eo.fine = config_.decoder.pixel_aligned;
    encoder = register_module("encoder", encode::BuiltinEncoder(eo));
  }
  if (config_.experiment == 2) {
    decode::DirectPatchDecoderOptions o = config_.decoder;
    o.depth_mode = config_.mode();
    direct = register_module("decoder", decode::DirectPatchDecoder(o));
  } else if (config_.experiment == 1) {
    decode::SaagRefinementOptions o;
    o.feature_dim = config_.decoder.feature_dim;
    o.dropout = config_.decoder.dropout;
    refine = register_module("decoder", decode::SaagRefinementNet(o));
  } else {
    decode::FeatureGuidedOptions o;
    o.feature_dim = config_.decoder.feature_dim;
    guided = register_module("decoder", decode::FeatureGuidedSaag(o));
  }
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

Gaussians batch_saag(const torch::Tensor& images, const torch::Tensor& depth, const torch::Tensor& intrinsics,
                     int subsample, decode::DepthMode mode) {
  const auto opts = decode::saag_fixed_count_options(subsample, mode);
  std::vector<Gaussians> parts;
  for (int64_t b = 0; b < images.size(0); ++b)
    parts.push_back(decode::saag_from_depth(images[b].detach().cpu(), depth[b][0].detach().cpu(),
                                            intrinsics[b].detach().cpu(), opts));
  return Gaussians::stack(parts).to(images.device());
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
  if (config_.experiment == 2) {
    decode::DecoderInputs di;
    di.features = features;
    di.depth = depth;
    di.intrinsics = intr;
    di.num_gaussians = in.num_gaussians;
    di.elevation = in.elevation;
    di.azimuth = in.azimuth;
    di.images = in.images;
    out.decoded = direct->forward(di);
    return out;
  }
  if (!depth.defined()) throw Error("model: experiments 1 and 3 build SAAG Gaussians from a depth map; none given");
  if (!in.images.defined()) throw Error("model: experiments 1 and 3 need the input images (SAAG colours)");
  auto saag = batch_saag(in.images, depth, intr, config_.saag_subsample, config_.mode());
  out.decoded = config_.experiment == 1 ? refine->forward(features, saag, intr) : guided->forward(features, saag, intr);
  return out;
}

}  // namespace fresnel::train
