#include "decode/direct_patch_decoder.hpp"

#include "core/error.hpp"
#include "decode/pixel_aligned.hpp"

namespace fresnel::decode {

namespace F = torch::nn::functional;

DirectPatchDecoderImpl::DirectPatchDecoderImpl(DirectPatchDecoderOptions o) : options_(std::move(o)) {
  if (options_.gaussians_per_patch < 1) throw Error("gaussians_per_patch must be >= 1");
  const int64_t in = options_.feature_dim + (options_.use_depth_fusion ? options_.depth_feature_dim : 0);
  mlp = register_module(
      "mlp", make_mlp(in, options_.hidden, options_.gaussians_per_patch * params_per_gaussian(), options_.dropout));
  if (options_.use_depth_fusion)
    depth_encoder = register_module("depth_encoder", DepthEncoder(options_.depth_feature_dim));
  if (options_.use_edge_aware) edge_detector = register_module("edge_detector", EdgeDetector(16));
  if (options_.use_pose_encoding) {
    pose_encoder = register_module("pose_encoder", PoseEncoder(options_.pose_embed_dim, 8));
    pose_modulator =
        register_module("pose_modulator", torch::nn::Sequential(torch::nn::Linear(options_.pose_embed_dim, 128),
                                                                torch::nn::ReLU(), torch::nn::Linear(128, 1)));
  }
  depth_offset = register_parameter("depth_offset", torch::full({1}, kDefaultDepthOffset));
  if (options_.pixel_aligned) {
    torch::nn::Linear head(std::dynamic_pointer_cast<torch::nn::LinearImpl>(mlp->ptr(mlp->size() - 1)));
    init_pixel_aligned_head(head, options_.gaussians_per_patch, params_per_gaussian());
  }
}

GridDepth grid_depth(const torch::Tensor& depth, int64_t h, int64_t w, DepthMode mode,
                     const torch::Tensor& depth_offset, bool snap_zones, int64_t num_zones) {
  auto g = F::interpolate(
      depth, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
  if (mode == DepthMode::Normalized) {
    auto d = g.clamp(0.0, 1.0);
    if (snap_zones) d = snap_to_fresnel_zones(d, num_zones);
    return {normalized_depth_to_z(d, depth_offset), d};
  }
  auto nd = normalize_metric_depth(g);
  auto z = g;
  if (snap_zones) {
    auto snapped = snap_to_fresnel_zones(nd.d, num_zones);
    z = torch::where(g > 0, nd.zmax - snapped * (nd.zmax - nd.zmin), g);
    nd.d = torch::where(g > 0, snapped, nd.d);
  }
  return {z, nd.d};
}

torch::Tensor DirectPatchDecoderImpl::raw_outputs(const torch::Tensor& features, const torch::Tensor& depth) {
  if (features.dim() != 4 || features.size(1) != options_.feature_dim)
    throw Error("decoder features: expected (B," + std::to_string(options_.feature_dim) + ",h,w), got " +
                std::to_string(features.dim()) + "-d tensor with " +
                std::to_string(features.dim() > 1 ? features.size(1) : 0) + " channels");
  const auto B = features.size(0), h = features.size(2), w = features.size(3);
  auto x = features;
  if (options_.use_depth_fusion) {
    if (!depth.defined()) throw Error("decoder: depth fusion needs a depth map");
    x = torch::cat({x, depth_encoder->forward(depth, h, w)}, 1);
  }
  auto rows = x.permute({0, 2, 3, 1}).reshape({B * h * w, x.size(1)});
  return mlp->forward(rows).view({B, h, w, options_.gaussians_per_patch, params_per_gaussian()});
}

DecoderOutput DirectPatchDecoderImpl::activate(const torch::Tensor& raw, const DecoderInputs& in) {
  const auto B = raw.size(0), h = raw.size(1), w = raw.size(2), K = raw.size(3);
  const auto opts = raw.options();
  auto K_int = in.intrinsics.defined() ? in.intrinsics.to(opts) : default_normalized_intrinsics(B, opts);

  torch::Tensor means, scales, colors, opacities, dnorm;
  if (options_.pixel_aligned) {
    auto p = pixel_aligned_params(raw, in.images, in.depth, K_int, options_.depth_mode, depth_offset,
                                  options_.pixel_scale_floor);
    means = p.means;
    scales = p.scales;
    colors = p.colors;
    opacities = p.opacities;
    dnorm = p.normalized_depth;
  } else {
    // Depth per patch → camera z (B,h,w,1), broadcast over K.
    torch::Tensor z;
    if (in.depth.defined()) {
      auto gd = grid_depth(in.depth.to(opts), h, w, options_.depth_mode, depth_offset, options_.use_fresnel_zones,
                           options_.num_fresnel_zones);
      z = gd.z.squeeze(1).unsqueeze(-1);
      dnorm = gd.normalized;
    } else {
      z = depth_offset.view({1, 1, 1, 1}).expand({B, h, w, 1});
    }
    // Patch centres in normalised image coordinates, then the offset in the original's [−1,1] units.
    auto jj = (torch::arange(w, opts) + 0.5) / static_cast<double>(w);
    auto ii = (torch::arange(h, opts) + 0.5) / static_cast<double>(h);
    auto u = jj.view({1, 1, w, 1}) + 0.5 * options_.position_offset_scale * raw.select(-1, 0);
    auto v = ii.view({1, h, 1, 1}) + 0.5 * options_.position_offset_scale * raw.select(-1, 1);
    auto zz = z.expand({B, h, w, K});
    means = unproject_normalized(u, v, zz, K_int);  // (B,h,w,K,3)
    // raw[2] (the original's z offset) is unused: z is locked to depth (the original's experiment 015 fix).
    scales = activate_scale(raw.narrow(-1, 3, 3));
    colors = torch::sigmoid(raw.narrow(-1, 12, 3));
    opacities = torch::sigmoid(raw.select(-1, 15));
  }
  // 6D rotation relative to the identity frame, so zero raw output means no rotation (the original's zero
  // 6D vector is degenerate).
  auto eye6 = torch::tensor({1.f, 0.f, 0.f, 0.f, 1.f, 0.f}, opts);
  auto quats = rotation_6d_to_quaternion(raw.narrow(-1, 6, 6) + eye6);

  DecoderOutput out;
  if (options_.use_edge_aware && dnorm.defined()) {
    auto e = edge_detector->forward(dnorm);  // (B,1,h,w)
    out.edge_strength = e;
    auto ek = e.squeeze(1).unsqueeze(-1);  // (B,h,w,1)
    scales = scales * (1.0 - options_.edge_scale_factor * ek).unsqueeze(-1);
    opacities = (opacities + options_.edge_opacity_boost * ek).clamp(0.0, 1.0);
  }
  if (options_.use_pose_encoding && in.elevation.defined() && in.azimuth.defined()) {
    auto m = 0.5 +
             torch::sigmoid(pose_modulator->forward(pose_encoder->forward(in.elevation.to(opts), in.azimuth.to(opts))));
    opacities = (opacities * m.view({B, 1, 1, 1})).clamp(0.0, 1.0);
  }
  const int64_t N = h * w * K;
  Gaussians& g = out.gaussians;
  g.means = means.reshape({B, N, 3});
  g.scales = scales.reshape({B, N, 3});
  g.quats = quats.reshape({B, N, 4});
  g.colors = colors.reshape({B, N, 3});
  g.opacities = opacities.reshape({B, N});
  if (options_.use_phase_output) g.phases = (torch::sigmoid(raw.narrow(-1, 16, 3)) * (2.0 * M_PI)).reshape({B, N, 3});
  return out;
}

DecoderOutput DirectPatchDecoderImpl::forward(const DecoderInputs& in) {
  auto raw = raw_outputs(in.features, in.depth);
  if (in.num_gaussians) {
    const int64_t k = std::max<int64_t>(1, std::min(*in.num_gaussians, options_.gaussians_per_patch));
    raw = raw.narrow(3, 0, k);
  }
  return activate(raw, in);
}

}  // namespace fresnel::decode
