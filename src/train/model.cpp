#include "train/model.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace fresnel::train {

decode::DepthMode ModelConfig::mode() const {
  return depth_mode == "metric" ? decode::DepthMode::Metric : decode::DepthMode::Normalized;
}

nlohmann::json ModelConfig::to_json() const {
  return {{"experiment", experiment},
          {"encoder", encoder},
          {"feature_dim", feature_dim},
          {"gaussians_per_patch", gaussians_per_patch},
          {"decoder_hidden", decoder_hidden},
          {"dropout", dropout},
          {"use_fresnel_zones", use_fresnel_zones},
          {"num_fresnel_zones", num_fresnel_zones},
          {"use_edge_aware", use_edge_aware},
          {"edge_scale_factor", edge_scale_factor},
          {"edge_opacity_boost", edge_opacity_boost},
          {"use_phase_output", use_phase_output},
          {"use_pose_encoding", use_pose_encoding},
          {"use_depth_fusion", use_depth_fusion},
          {"depth_feature_dim", depth_feature_dim},
          {"depth_mode", depth_mode},
          {"input_intrinsics", input_intrinsics},
          {"saag_subsample", saag_subsample},
          {"image_size", image_size},
          {"pixel_aligned", pixel_aligned},
          {"feature_grid", feature_grid},
          {"pixel_scale_floor", pixel_scale_floor},
          {"decoder_depth", decoder_depth}};
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  ModelConfig c;
  auto get = [&](const char* key, auto& out) {
    if (!j.contains(key)) return;
    try {
      j.at(key).get_to(out);
    } catch (const std::exception& e) {
      throw Error(std::string("model config: field '") + key + "' is malformed: " + e.what());
    }
  };
  get("experiment", c.experiment);
  get("encoder", c.encoder);
  get("feature_dim", c.feature_dim);
  get("gaussians_per_patch", c.gaussians_per_patch);
  get("decoder_hidden", c.decoder_hidden);
  get("dropout", c.dropout);
  get("use_fresnel_zones", c.use_fresnel_zones);
  get("num_fresnel_zones", c.num_fresnel_zones);
  get("use_edge_aware", c.use_edge_aware);
  get("edge_scale_factor", c.edge_scale_factor);
  get("edge_opacity_boost", c.edge_opacity_boost);
  get("use_phase_output", c.use_phase_output);
  get("use_pose_encoding", c.use_pose_encoding);
  get("use_depth_fusion", c.use_depth_fusion);
  get("depth_feature_dim", c.depth_feature_dim);
  get("depth_mode", c.depth_mode);
  get("input_intrinsics", c.input_intrinsics);
  get("saag_subsample", c.saag_subsample);
  get("image_size", c.image_size);
  get("pixel_aligned", c.pixel_aligned);
  get("feature_grid", c.feature_grid);
  get("pixel_scale_floor", c.pixel_scale_floor);
  get("decoder_depth", c.decoder_depth);
  if (c.feature_grid < 1) throw Error("model config: feature_grid must be >= 1");
  if (c.decoder_depth != "predicted" && c.decoder_depth != "data")
    throw Error("model config: decoder_depth must be 'predicted' or 'data'");
  if (c.pixel_aligned && c.experiment != 2) throw Error("model config: pixel_aligned applies to experiment 2 only");
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
    eo.channels = config_.feature_dim;
    eo.metric_depth = config_.mode() == decode::DepthMode::Metric;
    eo.grid = config_.feature_grid;
    eo.fine = config_.pixel_aligned;
    encoder = register_module("encoder", encode::BuiltinEncoder(eo));
  }
  if (config_.experiment == 2) {
    decode::DirectPatchDecoderOptions o;
    o.feature_dim = config_.feature_dim;
    o.gaussians_per_patch = config_.gaussians_per_patch;
    o.hidden = config_.decoder_hidden;
    o.dropout = config_.dropout;
    o.use_fresnel_zones = config_.use_fresnel_zones;
    o.num_fresnel_zones = config_.num_fresnel_zones;
    o.use_edge_aware = config_.use_edge_aware;
    o.edge_scale_factor = config_.edge_scale_factor;
    o.edge_opacity_boost = config_.edge_opacity_boost;
    o.use_phase_output = config_.use_phase_output;
    o.use_pose_encoding = config_.use_pose_encoding;
    o.use_depth_fusion = config_.use_depth_fusion;
    o.depth_feature_dim = config_.depth_feature_dim;
    o.depth_mode = config_.mode();
    o.pixel_aligned = config_.pixel_aligned;
    o.pixel_scale_floor = config_.pixel_scale_floor;
    direct = register_module("decoder", decode::DirectPatchDecoder(o));
  } else if (config_.experiment == 1) {
    decode::SaagRefinementOptions o;
    o.feature_dim = config_.feature_dim;
    o.dropout = config_.dropout;
    refine = register_module("decoder", decode::SaagRefinementNet(o));
  } else {
    decode::FeatureGuidedOptions o;
    o.feature_dim = config_.feature_dim;
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
  Gaussians g;
  auto stack = [&](torch::Tensor Gaussians::*f) {
    std::vector<torch::Tensor> t;
    for (auto& p : parts) t.push_back(p.*f);
    return torch::stack(t).to(images.device());
  };
  g.means = stack(&Gaussians::means);
  g.quats = stack(&Gaussians::quats);
  g.scales = stack(&Gaussians::scales);
  g.colors = stack(&Gaussians::colors);
  g.opacities = stack(&Gaussians::opacities);
  return g;
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
