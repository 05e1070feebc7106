#include "metrics/ssim.hpp"

#include <torch/torch.h>

#include <ATen/Parallel.h>
#include <cmath>
#include <vector>

#include "core/error.hpp"

namespace fresnel {
namespace {

constexpr int kRadius = kSsimWindow / 2;

std::vector<double> window_1d() {
  std::vector<double> g(kSsimWindow);
  double sum = 0;
  for (int i = 0; i < kSsimWindow; ++i) {
    const double d = i - kRadius;
    g[i] = std::exp(-d * d / (2 * kSsimSigma * kSsimSigma));
    sum += g[i];
  }
  for (auto& v : g) v /= sum;
  return g;
}

void check_pair(const torch::Tensor& a, const torch::Tensor& b, const char* who) {
  if (a.dim() != 4 || b.dim() != 4)
    throw Error(std::string(who) + ": expected (B,C,H,W) tensors, got " + std::to_string(a.dim()) + "-D and " +
                std::to_string(b.dim()) + "-D");
  if (a.sizes() != b.sizes()) throw Error(std::string(who) + ": prediction and target shapes differ");
  if (!a.is_floating_point() || !b.is_floating_point())
    throw Error(std::string(who) + ": expected floating-point images");
}

// Separable Gaussian blur of one H×W plane with zero "same" padding: out = g ⋆ (g ⋆ in) along rows then columns.
template <typename T>
void blur_plane(const T* in, T* out, T* tmp, int64_t h, int64_t w, const T* g) {
  for (int64_t y = 0; y < h; ++y) {
    const T* row = in + y * w;
    T* trow = tmp + y * w;
    for (int64_t x = 0; x < w; ++x) {
      T s = 0;
      const int64_t k0 = std::max<int64_t>(0, kRadius - x), k1 = std::min<int64_t>(kSsimWindow, w - x + kRadius);
      for (int64_t k = k0; k < k1; ++k) s += g[k] * row[x + k - kRadius];
      trow[x] = s;
    }
  }
  for (int64_t y = 0; y < h; ++y) {
    T* orow = out + y * w;
    for (int64_t x = 0; x < w; ++x) orow[x] = 0;
    const int64_t k0 = std::max<int64_t>(0, kRadius - y), k1 = std::min<int64_t>(kSsimWindow, h - y + kRadius);
    for (int64_t k = k0; k < k1; ++k) {
      const T gk = g[k];
      const T* trow = tmp + (y + k - kRadius) * w;
      for (int64_t x = 0; x < w; ++x) orow[x] += gk * trow[x];
    }
  }
}

// Local statistics of one plane: means, variances and covariance under the window.
template <typename T>
struct PlaneStats {
  std::vector<T> mx, my, vx, vy, cxy, tmp, prod;
  PlaneStats(const T* x, const T* y, int64_t h, int64_t w, const T* g)
      : mx(h * w), my(h * w), vx(h * w), vy(h * w), cxy(h * w), tmp(h * w), prod(h * w) {
    const int64_t n = h * w;
    blur_plane(x, mx.data(), tmp.data(), h, w, g);
    blur_plane(y, my.data(), tmp.data(), h, w, g);
    for (int64_t i = 0; i < n; ++i) prod[i] = x[i] * x[i];
    blur_plane(prod.data(), vx.data(), tmp.data(), h, w, g);
    for (int64_t i = 0; i < n; ++i) prod[i] = y[i] * y[i];
    blur_plane(prod.data(), vy.data(), tmp.data(), h, w, g);
    for (int64_t i = 0; i < n; ++i) prod[i] = x[i] * y[i];
    blur_plane(prod.data(), cxy.data(), tmp.data(), h, w, g);
    for (int64_t i = 0; i < n; ++i) {
      vx[i] -= mx[i] * mx[i];
      vy[i] -= my[i] * my[i];
      cxy[i] -= mx[i] * my[i];
    }
  }
};

template <typename T>
std::vector<T> window_as() {
  const auto g = window_1d();
  return std::vector<T>(g.begin(), g.end());
}

// (B,) per-image mean SSIM.
torch::Tensor fused_forward(const torch::Tensor& x_in, const torch::Tensor& y_in) {
  const auto x = x_in.contiguous();
  const auto y = y_in.to(x.scalar_type()).contiguous();
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  std::vector<double> plane_sum(B * C, 0.0);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "ssim_forward", [&] {
    const auto g = window_as<scalar_t>();
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const scalar_t* yp = y.data_ptr<scalar_t>();
    at::parallel_for(0, B * C, 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        PlaneStats<scalar_t> s(xp + p * H * W, yp + p * H * W, H, W, g.data());
        double sum = 0;
        for (int64_t i = 0; i < H * W; ++i) {
          const double mx = s.mx[i], my = s.my[i];
          const double num = (2 * mx * my + kSsimC1) * (2 * double(s.cxy[i]) + kSsimC2);
          const double den = (mx * mx + my * my + kSsimC1) * (double(s.vx[i]) + s.vy[i] + kSsimC2);
          sum += num / den;
        }
        plane_sum[p] = sum;
      }
    });
  });
  auto out = torch::empty({B}, torch::TensorOptions().dtype(x.scalar_type()));
  for (int64_t b = 0; b < B; ++b) {
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += plane_sum[b * C + c];
    out[b] = s / double(C * H * W);
  }
  return out;
}

// d(per-image SSIM)/d prediction, weighted by grad_out (B,).
torch::Tensor fused_backward(const torch::Tensor& x_in, const torch::Tensor& y_in, const torch::Tensor& grad_out) {
  const auto x = x_in.contiguous();
  const auto y = y_in.to(x.scalar_type()).contiguous();
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), N = H * W;
  const auto go = grad_out.to(torch::kFloat64).contiguous();
  auto dx = torch::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "ssim_backward", [&] {
    const auto g = window_as<scalar_t>();
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const scalar_t* yp = y.data_ptr<scalar_t>();
    scalar_t* dxp = dx.data_ptr<scalar_t>();
    const double* gop = go.data_ptr<double>();
    at::parallel_for(0, B * C, 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const scalar_t* xs = xp + p * N;
        const scalar_t* ys = yp + p * N;
        PlaneStats<scalar_t> s(xs, ys, H, W, g.data());
        const double scale = gop[p / C] / double(C * N);
        // Partials of the SSIM map w.r.t. the local mean of x (total, through the variance and covariance),
        // the local E[x²] and the local E[xy]; each then goes back through the window (the adjoint of a
        // zero-padded "same" convolution with a symmetric kernel is the same convolution).
        std::vector<scalar_t> d_mean(N), d_sq(N), d_cross(N), t_mean(N), t_sq(N), t_cross(N);
        for (int64_t i = 0; i < N; ++i) {
          const double mx = s.mx[i], my = s.my[i];
          const double a1 = 2 * mx * my + kSsimC1, a2 = 2 * double(s.cxy[i]) + kSsimC2;
          const double b1 = mx * mx + my * my + kSsimC1, b2 = double(s.vx[i]) + s.vy[i] + kSsimC2;
          const double ssim = a1 * a2 / (b1 * b2);
          const double d_mx_direct = 2 * my * a2 / (b1 * b2) - ssim * 2 * mx / b1;
          const double d_var = -ssim / b2;
          const double d_cov = 2 * a1 / (b1 * b2);
          d_mean[i] = scalar_t(scale * (d_mx_direct - 2 * mx * d_var - my * d_cov));
          d_sq[i] = scalar_t(scale * d_var);
          d_cross[i] = scalar_t(scale * d_cov);
        }
        blur_plane(d_mean.data(), t_mean.data(), s.tmp.data(), H, W, g.data());
        blur_plane(d_sq.data(), t_sq.data(), s.tmp.data(), H, W, g.data());
        blur_plane(d_cross.data(), t_cross.data(), s.tmp.data(), H, W, g.data());
        scalar_t* out = dxp + p * N;
        for (int64_t i = 0; i < N; ++i) out[i] = t_mean[i] + 2 * xs[i] * t_sq[i] + ys[i] * t_cross[i];
      }
    });
  });
  return dx;
}

struct FusedSsimFunction : public torch::autograd::Function<FusedSsimFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& y) {
    ctx->save_for_backward({x, y});
    return fused_forward(x, y);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    return {fused_backward(saved[0], saved[1], grads[0]), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor ssim_gaussian_window_1d(torch::Dtype dtype) {
  const auto g = window_1d();
  return torch::tensor(g, torch::kFloat64).to(dtype);
}

torch::Tensor ssim_per_image(const torch::Tensor& prediction, const torch::Tensor& target) {
  check_pair(prediction, target, "ssim");
  if (!prediction.device().is_cpu()) return ssim_per_image_reference(prediction, target.detach());
  return FusedSsimFunction::apply(prediction, target.detach());
}

torch::Tensor ssim(const torch::Tensor& prediction, const torch::Tensor& target) {
  return ssim_per_image(prediction, target).mean();
}

torch::Tensor ssim_loss(const torch::Tensor& prediction, const torch::Tensor& target) {
  return 1.0 - ssim(prediction, target);
}

torch::Tensor ssim_map_reference(const torch::Tensor& x, const torch::Tensor& y) {
  check_pair(x, y, "ssim_map_reference");
  const int64_t C = x.size(1);
  const auto g = ssim_gaussian_window_1d(x.scalar_type()).to(x.device());
  const auto window = torch::outer(g, g).expand({C, 1, kSsimWindow, kSsimWindow}).contiguous();
  auto blur = [&](const torch::Tensor& t) {
    return torch::conv2d(t, window, {}, /*stride=*/1, /*padding=*/kRadius, /*dilation=*/1, /*groups=*/C);
  };
  const auto mx = blur(x), my = blur(y);
  const auto vx = blur(x * x) - mx * mx;
  const auto vy = blur(y * y) - my * my;
  const auto cxy = blur(x * y) - mx * my;
  return ((2 * mx * my + kSsimC1) * (2 * cxy + kSsimC2)) / ((mx * mx + my * my + kSsimC1) * (vx + vy + kSsimC2));
}

torch::Tensor ssim_per_image_reference(const torch::Tensor& x, const torch::Tensor& y) {
  return ssim_map_reference(x, y).mean({1, 2, 3});
}

}  // namespace fresnel
