#include "decode/saag_decoders.hpp"

#include "core/error.hpp"

namespace fresnel::decode {

namespace F = torch::nn::functional;

std::pair<torch::Tensor, torch::Tensor> sample_features_at_points(const torch::Tensor& features,
                                                                  const torch::Tensor& points,
                                                                  const torch::Tensor& intrinsics) {
  auto K = intrinsics.to(points.options()).unsqueeze(1);  // (B,1,4)
  auto z = points.select(-1, 2).clamp_min(1e-3);
  auto u = K.select(-1, 0) * points.select(-1, 0) / z + K.select(-1, 2);
  auto v = K.select(-1, 1) * points.select(-1, 1) / z + K.select(-1, 3);
  auto uv = torch::stack({u, v}, -1);
  auto grid = (uv * 2.0 - 1.0).unsqueeze(2);  // (B,N,1,2)
  auto s = F::grid_sample(
      features, grid,
      F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
  return {s.squeeze(-1).permute({0, 2, 1}), uv};
}

Gaussians batch_saag(const torch::Tensor& images, const torch::Tensor& depth, const torch::Tensor& intrinsics,
                     const SaagOptions& options) {
  std::vector<Gaussians> parts;
  for (int64_t b = 0; b < images.size(0); ++b)
    parts.push_back(
        saag_from_depth(images[b].detach().cpu(), depth[b][0].detach().cpu(), intrinsics[b].detach().cpu(), options));
  return Gaussians::stack(parts).to(images.device());
}

namespace {
// The SAAG Gaussians a SAAG decoder starts from.
Gaussians saag_inputs(const DecoderInputs& in, const SaagOptions& options, const char* who) {
  if (!in.depth.defined()) throw Error(std::string(who) + ": builds SAAG Gaussians from a depth map; none given");
  if (!in.images.defined()) throw Error(std::string(who) + ": needs the input images (SAAG colours)");
  return batch_saag(in.images, in.depth, in.intrinsics, options);
}
}  // namespace

SaagRefinementNetImpl::SaagRefinementNetImpl(SaagRefinementOptions o) : options_(std::move(o)) {
  mlp = register_module("mlp", make_mlp(options_.feature_dim + 14, options_.hidden, 16, options_.dropout));
  pos_scale = register_parameter("pos_scale", torch::tensor(0.05f));
  scale_scale = register_parameter("scale_scale", torch::tensor(0.1f));
  color_scale = register_parameter("color_scale", torch::tensor(0.1f));
  opacity_scale = register_parameter("opacity_scale", torch::tensor(0.1f));
}

DecoderOutput SaagRefinementNetImpl::forward(const DecoderInputs& in) {
  return refine(in.features, saag_inputs(in, options_.saag, "SAAG refinement"), in.intrinsics);
}

DecoderOutput SaagRefinementNetImpl::refine(const torch::Tensor& features, const Gaussians& saag,
                                            const torch::Tensor& intrinsics) {
  if (!saag.batched()) throw Error("SAAG refinement: expected batched SAAG Gaussians (B,N,…)");
  auto sampled = sample_features_at_points(features, saag.means, intrinsics).first;
  auto in = torch::cat({sampled, saag.means, saag.scales, saag.quats, saag.colors, saag.opacities.unsqueeze(-1)}, -1);
  auto r = mlp->forward(in);
  const double rs = options_.residual_scale;
  auto dpos = r.narrow(-1, 0, 3) * pos_scale * rs;
  auto dscale = r.narrow(-1, 3, 3) * scale_scale * rs;
  auto eye6 = torch::tensor({1.f, 0.f, 0.f, 0.f, 1.f, 0.f}, r.options());
  auto dq = rotation_6d_to_quaternion(r.narrow(-1, 6, 6) + eye6);  // zero residual = no rotation
  auto dcolor = r.narrow(-1, 12, 3) * color_scale * rs;
  auto dop = r.select(-1, 15) * opacity_scale * rs;
  DecoderOutput out;
  Gaussians& g = out.gaussians;
  g.means = saag.means + dpos;
  g.scales = saag.scales * torch::exp(dscale);
  g.quats = F::normalize(quaternion_multiply(dq, saag.quats), F::NormalizeFuncOptions().dim(-1));
  g.colors = (saag.colors + dcolor).clamp(0.0, 1.0);
  g.opacities = (saag.opacities + dop).clamp(0.0, 1.0);
  out.residuals = torch::cat({dpos, dscale, dcolor, dop.unsqueeze(-1)}, -1);
  return out;
}

FeatureGuidedSaagImpl::FeatureGuidedSaagImpl(FeatureGuidedOptions o) : options_(o) {
  head = register_module("head", torch::nn::Sequential(torch::nn::Linear(o.feature_dim, o.hidden), torch::nn::ReLU(),
                                                       torch::nn::Linear(o.hidden, 6)));
  // Zero-initialised output: every multiplier starts at its neutral value (SAAG unchanged).
  torch::NoGradGuard ng;
  auto params = head->parameters();
  params.back().zero_();
  params[params.size() - 2].zero_();
}

SaagModulation FeatureGuidedSaagImpl::modulation(const torch::Tensor& features) {
  auto t = torch::tanh(head->forward(features.permute({0, 2, 3, 1})));  // (B,h,w,6)
  // The head keeps the original's six outputs (checkpoints stay loadable); outputs 2–4 (edge threshold, edge
  // shrink and normal strength) are not applied.
  return {1.0 + 0.5 * t.select(-1, 0), 1.0 + 0.5 * t.select(-1, 1), 1.0 + 0.3 * t.select(-1, 5)};
}

DecoderOutput FeatureGuidedSaagImpl::forward(const DecoderInputs& in) {
  return modulate(in.features, saag_inputs(in, options_.saag, "feature-guided SAAG"), in.intrinsics);
}

DecoderOutput FeatureGuidedSaagImpl::modulate(const torch::Tensor& features, const Gaussians& saag,
                                              const torch::Tensor& intrinsics) {
  if (!saag.batched()) throw Error("FeatureGuidedSAAG: expected batched SAAG Gaussians (B,N,…)");
  auto m = modulation(features);
  auto maps = torch::stack({m.aspect, m.base_size, m.opacity}, 1);          // (B,3,h,w)
  auto at = sample_features_at_points(maps, saag.means, intrinsics).first;  // (B,N,3)
  auto aspect = at.select(-1, 0), base = at.select(-1, 1), opac = at.select(-1, 2);
  DecoderOutput out;
  Gaussians& g = out.gaussians;
  g.means = saag.means;
  g.quats = saag.quats;
  g.colors = saag.colors;
  // In-plane axes follow the base size; the thin (normal) axis follows base / aspect.
  auto mult = torch::stack({base, base, base / aspect}, -1);
  g.scales = saag.scales * mult;
  g.opacities = (saag.opacities * opac).clamp(0.0, 1.0);
  return out;
}

}  // namespace fresnel::decode
