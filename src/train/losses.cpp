#include "train/losses.hpp"

#include <cmath>

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
  auto nn = std::get<0>(d.topk(std::min<int64_t>(k + 1, d.size(-1)), -1, /*largest=*/false)).narrow(-1, 1, std::min<int64_t>(k, d.size(-1) - 1));
  const double phi = (1.0 + std::sqrt(5.0)) / 2.0;
  auto ideal = 0.1 * torch::pow(phi, 0.5 * torch::arange(nn.size(-1), positions.options()));
  return F::mse_loss(nn, ideal.expand_as(nn));
}

LearnableWavelengthsImpl::LearnableWavelengthsImpl(double r, double g, double b) {
  auto inv_softplus = [](double y) { return std::log(std::expm1(y)); };
  raw = register_parameter("raw", torch::tensor({float(inv_softplus(r)), float(inv_softplus(g)), float(inv_softplus(b))}));
}

torch::Tensor LearnableWavelengthsImpl::forward() { return F::softplus(raw).clamp(0.01, 0.5); }

}  // namespace fresnel::train
