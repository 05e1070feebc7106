#include "decode/decoder_common.hpp"

#include <cmath>

#include "core/camera.hpp"

namespace fresnel::decode {

namespace F = torch::nn::functional;

torch::Tensor normalized_depth_to_z(const torch::Tensor& d, const torch::Tensor& depth_offset) {
  return depth_offset + 2.0 * (1.0 - d);
}

torch::Tensor default_normalized_intrinsics(int64_t batch, const torch::TensorOptions& options) {
  const auto& k = kDefaultNormalizedIntrinsics;
  return torch::tensor({k[0], k[1], k[2], k[3]}, options.dtype(torch::kFloat32)).unsqueeze(0).repeat({batch, 1});
}

torch::Tensor unproject_normalized(const torch::Tensor& u, const torch::Tensor& v, const torch::Tensor& z,
                                   const torch::Tensor& intrinsics) {
  // Broadcast (B,4) intrinsics over the trailing dims of u/v/z.
  auto shape = std::vector<int64_t>{intrinsics.size(0)};
  for (int64_t i = 1; i < z.dim(); ++i) shape.push_back(1);
  auto fx = intrinsics.select(1, 0).view(shape), fy = intrinsics.select(1, 1).view(shape);
  auto cx = intrinsics.select(1, 2).view(shape), cy = intrinsics.select(1, 3).view(shape);
  auto x = (u - cx) / fx * z;
  auto y = (v - cy) / fy * z;
  return torch::stack({x, y, z.expand_as(x)}, -1);
}

torch::nn::Sequential make_mlp(int64_t in, const std::vector<int64_t>& hidden, int64_t out, double dropout) {
  torch::nn::Sequential seq;
  int64_t prev = in;
  for (int64_t h : hidden) {
    seq->push_back(torch::nn::Linear(prev, h));
    seq->push_back(torch::nn::ReLU());
    if (dropout > 0) seq->push_back(torch::nn::Dropout(dropout));
    prev = h;
  }
  seq->push_back(torch::nn::Linear(prev, out));
  return seq;
}

namespace {
torch::Tensor safe_normalize(const torch::Tensor& v, double eps = 1e-6) {
  return v / v.norm(2, -1, true).clamp_min(eps);
}
}  // namespace

torch::Tensor matrix_to_quaternion(const torch::Tensor& m) {
  auto m00 = m.select(-2, 0).select(-1, 0), m01 = m.select(-2, 0).select(-1, 1), m02 = m.select(-2, 0).select(-1, 2);
  auto m10 = m.select(-2, 1).select(-1, 0), m11 = m.select(-2, 1).select(-1, 1), m12 = m.select(-2, 1).select(-1, 2);
  auto m20 = m.select(-2, 2).select(-1, 0), m21 = m.select(-2, 2).select(-1, 1), m22 = m.select(-2, 2).select(-1, 2);
  auto trace = m00 + m11 + m22;
  // Each case's square-root argument is clamped so the unused branches stay finite (and their gradients zero).
  auto s1 = 2.0 * (trace + 1.0).clamp_min(1e-10).sqrt();
  auto q1 = torch::stack({0.25 * s1, (m21 - m12) / s1, (m02 - m20) / s1, (m10 - m01) / s1}, -1);
  auto s2 = 2.0 * (1.0 + m00 - m11 - m22).clamp_min(1e-10).sqrt();
  auto q2 = torch::stack({(m21 - m12) / s2, 0.25 * s2, (m01 + m10) / s2, (m02 + m20) / s2}, -1);
  auto s3 = 2.0 * (1.0 + m11 - m00 - m22).clamp_min(1e-10).sqrt();
  auto q3 = torch::stack({(m02 - m20) / s3, (m01 + m10) / s3, 0.25 * s3, (m12 + m21) / s3}, -1);
  auto s4 = 2.0 * (1.0 + m22 - m00 - m11).clamp_min(1e-10).sqrt();
  auto q4 = torch::stack({(m10 - m01) / s4, (m02 + m20) / s4, (m12 + m21) / s4, 0.25 * s4}, -1);
  auto c1 = (trace > 0).unsqueeze(-1);
  auto c2 = ((m00 > m11) & (m00 > m22)).unsqueeze(-1);
  auto c3 = (m11 > m22).unsqueeze(-1);
  auto q = torch::where(c1, q1, torch::where(c2, q2, torch::where(c3, q3, q4)));
  q = safe_normalize(q, 1e-12);
  // One hemisphere (w ≥ 0) so equal rotations give equal quaternions.
  return torch::where(q.narrow(-1, 0, 1) < 0, -q, q);
}

torch::Tensor rotation_6d_to_quaternion(const torch::Tensor& r6) {
  auto a1 = r6.narrow(-1, 0, 3), a2 = r6.narrow(-1, 3, 3);
  // Degenerate first column → x axis; degenerate second → any axis orthogonal to b1 (deterministic, unlike the
  // original's 1e-8·sign(randn) jitter, so runs are repeatable).
  auto ex = torch::zeros_like(a1);
  ex.select(-1, 0).fill_(1.0);
  auto ey = torch::zeros_like(a1);
  ey.select(-1, 1).fill_(1.0);
  auto n1 = a1.norm(2, -1, true);
  auto b1 = torch::where(n1 > 1e-6, a1 / n1.clamp_min(1e-6), ex);
  auto b2raw = a2 - (b1 * a2).sum(-1, true) * b1;
  auto n2 = b2raw.norm(2, -1, true);
  auto alt_axis = torch::where(b1.select(-1, 0).abs().unsqueeze(-1) < 0.9, ex, ey);
  auto alt = safe_normalize(alt_axis - (b1 * alt_axis).sum(-1, true) * b1);
  auto b2 = torch::where(n2 > 1e-6, b2raw / n2.clamp_min(1e-6), alt);
  auto b3 = torch::cross(b1, b2, -1);
  auto m = torch::stack({b1, b2, b3}, -1);  // columns
  return matrix_to_quaternion(m);
}

torch::Tensor quaternion_multiply(const torch::Tensor& a, const torch::Tensor& b) {
  auto aw = a.select(-1, 0), ax = a.select(-1, 1), ay = a.select(-1, 2), az = a.select(-1, 3);
  auto bw = b.select(-1, 0), bx = b.select(-1, 1), by = b.select(-1, 2), bz = b.select(-1, 3);
  return torch::stack({aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                       aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw},
                      -1);
}

PoseEncoderImpl::PoseEncoderImpl(int64_t embed_dim, int64_t nfreq) : num_frequencies(nfreq) {
  mlp = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(4 * nfreq, embed_dim), torch::nn::ReLU(),
                                                     torch::nn::Linear(embed_dim, embed_dim)));
}

torch::Tensor PoseEncoderImpl::forward(const torch::Tensor& elevation, const torch::Tensor& azimuth) {
  auto freqs = torch::pow(2.0, torch::arange(num_frequencies, elevation.options()));
  auto enc = [&](const torch::Tensor& a) {
    auto x = a.unsqueeze(-1) * freqs;
    return torch::cat({x.sin(), x.cos()}, -1);
  };
  return mlp->forward(torch::cat({enc(elevation), enc(azimuth)}, -1));
}

DepthEncoderImpl::DepthEncoderImpl(int64_t out_dim) {
  using torch::nn::Conv2dOptions;
  net = register_module(
      "net", torch::nn::Sequential(torch::nn::Conv2d(Conv2dOptions(1, 32, 3).padding(1)), torch::nn::ReLU(),
                                   torch::nn::Conv2d(Conv2dOptions(32, 64, 3).padding(1)), torch::nn::ReLU(),
                                   torch::nn::Conv2d(Conv2dOptions(64, out_dim, 3).padding(1)), torch::nn::ReLU()));
}

torch::Tensor DepthEncoderImpl::forward(const torch::Tensor& depth, int64_t gh, int64_t gw) {
  return F::adaptive_avg_pool2d(net->forward(depth), F::AdaptiveAvgPool2dFuncOptions({gh, gw}));
}

EdgeDetectorImpl::EdgeDetectorImpl(int64_t hidden) {
  using torch::nn::Conv2dOptions;
  net = register_module(
      "net", torch::nn::Sequential(torch::nn::Conv2d(Conv2dOptions(3, hidden, 3).padding(1)), torch::nn::ReLU(),
                                   torch::nn::Conv2d(Conv2dOptions(hidden, hidden, 3).padding(1)), torch::nn::ReLU(),
                                   torch::nn::Conv2d(Conv2dOptions(hidden, 1, 3).padding(1))));
  sobel_x =
      register_buffer("sobel_x", torch::tensor({-1.f, 0.f, 1.f, -2.f, 0.f, 2.f, -1.f, 0.f, 1.f}).view({1, 1, 3, 3}));
  sobel_y =
      register_buffer("sobel_y", torch::tensor({-1.f, -2.f, -1.f, 0.f, 0.f, 0.f, 1.f, 2.f, 1.f}).view({1, 1, 3, 3}));
}

torch::Tensor EdgeDetectorImpl::forward(const torch::Tensor& depth) {
  auto gx = F::conv2d(depth, sobel_x, F::Conv2dFuncOptions().padding(1));
  auto gy = F::conv2d(depth, sobel_y, F::Conv2dFuncOptions().padding(1));
  return torch::sigmoid(net->forward(torch::cat({depth, gx, gy}, 1)));
}

torch::Tensor snap_to_fresnel_zones(const torch::Tensor& d, int64_t n) {
  auto zone = torch::floor(d.clamp(0.0, 1.0) * static_cast<double>(n)).clamp(0, n - 1);
  return (zone + 0.5) / static_cast<double>(n);
}

NormalizedDepth normalize_metric_depth(const torch::Tensor& z) {
  const auto B = z.size(0);
  auto flat = z.reshape({B, -1});
  auto valid = flat > 0;
  auto big = torch::full_like(flat, 1e30);
  auto zmin = torch::where(valid, flat, big).amin(1);
  auto zmax = torch::where(valid, flat, -big).amax(1);
  auto any = valid.any(1);
  zmin = torch::where(any, zmin, torch::zeros_like(zmin)).view({B, 1, 1, 1});
  zmax = torch::where(any, zmax, torch::ones_like(zmax)).view({B, 1, 1, 1});
  auto range = (zmax - zmin).clamp_min(1e-6);
  // Invalid (background) pixels count as farthest (d = 0).
  auto d = torch::where(z > 0, 1.0 - (z - zmin) / range, torch::zeros_like(z)).clamp(0.0, 1.0);
  return {d, zmin, zmax};
}

torch::Tensor activate_scale(const torch::Tensor& raw) {
  return (F::softplus(raw.clamp(-10.0, 20.0) + 1.0) * 0.15).clamp(1e-6, 2.0);
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace fresnel::decode
