#include "train/losses.hpp"

#include <cmath>

#include "core/error.hpp"
#include "core/field_table.hpp"
#include "metrics/lpips.hpp"
#include "metrics/ssim.hpp"

namespace fresnel::train {

namespace F = torch::nn::functional;

torch::Tensor pixel_l1_loss(const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& w) {
  auto d = (r - t).abs();
  return w.defined() ? (d * w).mean() : d.mean();
}

torch::Tensor vlm_pixel_weights(const torch::Tensor& density, double vlm_weight) {
  return ((1.0 - vlm_weight) + vlm_weight * density).detach();
}

torch::Tensor fresnel_boundary_mask(const torch::Tensor& d, int64_t n, double tau) {
  auto b = torch::linspace(0.0, 1.0, n + 1, d.options());
  std::vector<int64_t> shape(d.dim() + 1, 1);
  shape.back() = n + 1;
  auto dist = (d.unsqueeze(-1) - b.view(shape)).abs().amin(-1);
  return torch::sigmoid((10.0 / tau) * (tau - dist));
}

torch::Tensor boundary_loss(const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& mask) {
  return ((r - t).abs().mean(1, true) * mask).mean();
}

torch::Tensor standardized_depth_loss(const torch::Tensor& rendered, const torch::Tensor& target) {
  auto z = [](const torch::Tensor& x) { return (x - x.mean()) / x.std().clamp_min(1e-4); };
  return (z(rendered) - z(target)).abs().mean();
}

torch::Tensor depth_gradient_loss(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& valid,
                                  int64_t scales) {
  auto err = (pred - target) * valid;
  auto v = valid;
  auto total = torch::zeros({}, pred.options());
  for (int64_t s = 0; s < scales && err.size(2) >= 2 && err.size(3) >= 2; ++s) {
    auto vx = v.narrow(3, 1, v.size(3) - 1) * v.narrow(3, 0, v.size(3) - 1);
    auto vy = v.narrow(2, 1, v.size(2) - 1) * v.narrow(2, 0, v.size(2) - 1);
    auto gx = (err.narrow(3, 1, err.size(3) - 1) - err.narrow(3, 0, err.size(3) - 1)).abs() * vx;
    auto gy = (err.narrow(2, 1, err.size(2) - 1) - err.narrow(2, 0, err.size(2) - 1)).abs() * vy;
    total = total + (gx.sum() + gy.sum()) / (vx.sum() + vy.sum()).clamp_min(1.0);
    // Next scale: every second pixel (MiDaS subsamples), valid only where the sampled pixel is.
    err = err.slice(2, 0, err.size(2), 2).slice(3, 0, err.size(3), 2);
    v = v.slice(2, 0, v.size(2), 2).slice(3, 0, v.size(3), 2);
  }
  return total / double(scales);
}

torch::Tensor phase_retrieval_loss(const torch::Tensor& r, const torch::Tensor& t, const torch::Tensor& depth01,
                                   const torch::Tensor& wavelength, double focal) {
  auto phi = (2.0 * M_PI / wavelength) * (depth01 - focal).abs();  // (B,1,R,R)
  auto field = [&](const torch::Tensor& img) {
    auto amp = img.clamp_min(1e-8).sqrt();
    return torch::complex(amp * phi.cos(), amp * phi.sin());
  };
  auto fr = torch::fft::fft2(field(r)).abs();
  auto ft = torch::fft::fft2(field(t.detach())).abs();
  return F::mse_loss(fr, ft);
}

torch::Tensor frequency_loss(const torch::Tensor& r, const torch::Tensor& t, double cutoff, double high_weight) {
  const auto H = r.size(-2), W = r.size(-1);
  auto fy = torch::fft::fftfreq(H, r.options()).view({H, 1});
  auto fx = torch::fft::fftfreq(W, r.options()).view({1, W});
  auto rho = (fx * fx + fy * fy).sqrt();
  auto low = (rho < cutoff).to(r.scalar_type()), high = 1.0 - low;
  auto Fr = torch::fft::fft2(r).abs(), Ft = torch::fft::fft2(t.detach()).abs();
  return F::mse_loss(Fr * low, Ft * low) + high_weight * F::mse_loss(Fr * high, Ft * high);
}

torch::Tensor wave_equation_loss(const torch::Tensor& u, double wavelength) {
  const double h = 1.0 / static_cast<double>(u.size(-1));
  auto lap = (u.roll(1, -1) + u.roll(-1, -1) + u.roll(1, -2) + u.roll(-1, -2) - 4.0 * u) / (h * h);
  const double k = 2.0 * M_PI / wavelength;
  return (lap + k * k * u).pow(2).mean();
}

torch::Tensor tensegrity_loss(const torch::Tensor& positions) {
  const int64_t k = 6;
  auto d = torch::cdist(positions, positions);  // (B,N,N)
  auto nn = std::get<0>(d.topk(std::min<int64_t>(k + 1, d.size(-1)), -1, /*largest=*/false))
                .narrow(-1, 1, std::min<int64_t>(k, d.size(-1) - 1));
  const double phi = (1.0 + std::sqrt(5.0)) / 2.0;
  auto ideal = 0.1 * torch::pow(phi, 0.5 * torch::arange(nn.size(-1), positions.options()));
  return F::mse_loss(nn, ideal.expand_as(nn));
}

void to_json(nlohmann::json& j, const LossConfig& c) { j = fields_to_json(c); }
void from_json(const nlohmann::json& j, LossConfig& c) { fields_from_json(j, c, "loss config"); }

namespace {
// The fused CPU SSIM kernel on the CPU; elsewhere the pure-tensor SSIM (it runs on any device).
torch::Tensor ssim_term(const torch::Tensor& r, const torch::Tensor& t) {
  auto rc = r.clamp(0.0, 1.0);
  return rc.device().is_cpu() ? ssim_loss(rc, t) : 1.0 - ssim_per_image_reference(rc, t).mean();
}
torch::Tensor lpips_term(const Lpips& lpips, const torch::Tensor& r, const torch::Tensor& t) {
  return lpips.distance(r.clamp(0.0, 1.0), t).mean();
}
}  // namespace

std::map<std::string, double> LossTerms::values() const {
  std::map<std::string, double> v;
  for (const auto& [k, t] : terms) v[k] = t.item<double>();
  v["total"] = total.item<double>();
  return v;
}

LossTerms compute_losses(const LossConfig& L, const LossInputs& in) {
  if (L.lpips_weight > 0 && !in.lpips)
    throw UsageError("loss config: lpips_weight > 0 needs an LPIPS network (lpips_weights)");
  const auto& r0 = in.rendered;
  const auto& t0 = in.target;
  LossTerms out;
  auto& terms = out.terms;
  terms["rgb"] = L.rgb_weight * pixel_l1_loss(r0, t0, in.pixel_weights);
  if (L.ssim_weight > 0) terms["ssim"] = L.ssim_weight * ssim_term(r0, t0);
  if (L.lpips_weight > 0) terms["lpips"] = L.lpips_weight * lpips_term(*in.lpips, r0, t0);
  if (L.depth_weight > 0 && in.target_depth.defined() && in.rendered_depth.defined())
    terms["depth"] = L.depth_weight * standardized_depth_loss(in.rendered_depth, in.target_depth);
  if (in.residuals.defined() && L.residual_weight > 0)
    terms["residual"] = L.residual_weight * in.residuals.abs().mean();
  if (L.boundary && in.depth01.defined())
    terms["boundary"] = L.boundary_weight * boundary_loss(r0, t0, fresnel_boundary_mask(in.depth01, L.num_zones));
  if (L.phase_retrieval && in.depth01.defined()) {
    auto lambda = in.wavelength.defined() ? in.wavelength : torch::tensor(L.wavelength, r0.options());
    terms["phase_retrieval"] =
        L.phase_retrieval_weight * phase_retrieval_loss(r0, t0, in.depth01, lambda, L.focal_depth);
  }
  if (L.frequency)
    terms["frequency"] = L.frequency_weight * frequency_loss(r0, t0, L.frequency_cutoff, L.high_freq_weight);
  if (L.wave_equation_weight > 0)
    terms["wave_equation"] = L.wave_equation_weight * wave_equation_loss(r0, L.wavelength);
  if (L.tensegrity && in.means.defined()) terms["tensegrity"] = L.tensegrity_weight * tensegrity_loss(in.means);
  if (L.depth_head_weight > 0 && in.predicted_depth.defined() && in.depth_target.defined()) {
    auto valid = in.depth_valid.defined() ? in.depth_valid : torch::ones_like(in.depth_target);
    terms["depth_head"] =
        L.depth_head_weight * ((in.predicted_depth - in.depth_target).abs() * valid).sum() / valid.sum().clamp_min(1.0);
    if (L.depth_grad_weight > 0)
      terms["depth_grad"] = L.depth_grad_weight * depth_gradient_loss(in.predicted_depth, in.depth_target, valid);
  }
  if (L.novel_view_weight > 0 && in.novel_rendered.defined()) {
    const auto &rv = in.novel_rendered, &tv = in.novel_target;
    auto nv = pixel_l1_loss(rv, tv);
    if (L.ssim_weight > 0) nv = nv + L.ssim_weight * ssim_term(rv, tv);
    if (L.lpips_weight > 0) nv = nv + L.lpips_weight * lpips_term(*in.lpips, rv, tv);
    terms["novel_view"] = L.novel_view_weight * nv;
  }
  // Silhouette supervision (ours): without it multi-view training can fall into "render nothing" (all opacities
  // → 0), where the gradients vanish.
  if (L.mask_weight > 0 && in.alpha.defined() && in.masks.defined())
    terms["mask"] = L.mask_weight * (in.alpha - in.masks).abs().mean();
  out.total = torch::zeros({}, r0.options());
  for (auto& [k, v] : terms) out.total = out.total + v;
  return out;
}

LearnableWavelengthsImpl::LearnableWavelengthsImpl(double r, double g, double b) {
  auto inv_softplus = [](double y) { return std::log(std::expm1(y)); };
  raw = register_parameter("raw",
                           torch::tensor({float(inv_softplus(r)), float(inv_softplus(g)), float(inv_softplus(b))}));
}

torch::Tensor LearnableWavelengthsImpl::forward() { return F::softplus(raw).clamp(0.01, 0.5); }

}  // namespace fresnel::train
