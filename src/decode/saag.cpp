#include "decode/saag.hpp"

#include <array>
#include <cmath>
#include <vector>

#include "core/error.hpp"

namespace fresnel::decode {

namespace {
using V3 = std::array<double, 3>;
using Q4 = std::array<double, 4>;  // w,x,y,z

V3 sub(const V3& a, const V3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
V3 add(const V3& a, const V3& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }
V3 mul(const V3& a, double s) { return {a[0] * s, a[1] * s, a[2] * s}; }
double dot(const V3& a, const V3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
V3 cross(const V3& a, const V3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double len(const V3& a) { return std::sqrt(dot(a, a)); }
V3 normalize(const V3& a) {
  const double l = len(a);
  return l > 1e-12 ? mul(a, 1.0 / l) : V3{0, 0, 1};
}

// Rotation taking +Z onto unit vector n (antiparallel → 180° about X, as the original).
Q4 rotate_z_to(const V3& n) {
  const V3 z{0, 0, 1};
  const double c = std::clamp(dot(z, n), -1.0, 1.0);
  if (c < -0.999999) return {0, 1, 0, 0};
  if (c > 0.999999) return {1, 0, 0, 0};
  const V3 axis = normalize(cross(z, n));
  const double half = 0.5 * std::acos(c);
  const double s = std::sin(half);
  return {std::cos(half), axis[0] * s, axis[1] * s, axis[2] * s};
}

Q4 slerp_from_identity(const Q4& q, double t) {
  if (t >= 1.0) return q;
  const double w = std::clamp(q[0], -1.0, 1.0);
  const double theta = std::acos(w);
  if (theta < 1e-9) return {1, 0, 0, 0};
  const double a = std::sin((1 - t) * theta) / std::sin(theta), b = std::sin(t * theta) / std::sin(theta);
  Q4 r{a + b * q[0], b * q[1], b * q[2], b * q[3]};
  const double l = std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2] + r[3] * r[3]);
  for (auto& v : r) v /= l;
  return r;
}

// The original's integer hash → [0,1].
double hash01(uint32_t x, uint32_t y, uint32_t i, uint32_t seed) {
  uint32_t h = (x * 374761393u + y * 668265263u + i * 2147483647u + seed) ^ 0x85ebca6bu;
  h = ((h >> 16) ^ h) * 0x7feb352du;
  return static_cast<double>(h & 0xFFFFu) / 65535.0;
}

struct Sink {
  std::vector<float> means, quats, scales, colors, opacities;
  void push(const V3& p, const Q4& q, const V3& s, const V3& c, double o) {
    for (double v : p) means.push_back(float(v));
    for (double v : q) quats.push_back(float(v));
    for (double v : s) scales.push_back(float(std::max(v, 1e-7)));
    for (double v : c) colors.push_back(float(std::clamp(v, 0.0, 1.0)));
    opacities.push_back(float(std::clamp(o, 0.0, 1.0)));
  }
};
}  // namespace

SaagOptions saag_fixed_count_options(int subsample, DepthMode mode) {
  SaagOptions o;
  o.subsample = subsample;
  o.volumetric_shell = o.silhouette_wrap = o.adaptive_density = false;
  o.min_confidence = 0.0;
  o.depth_mode = mode;
  return o;
}

Gaussians saag_from_depth(const torch::Tensor& image_in, const torch::Tensor& depth_in,
                          const torch::Tensor& intrinsics_in, const SaagOptions& o) {
  if (image_in.dim() != 3 || image_in.size(0) != 3) throw Error("saag: image must be (3,H,W)");
  if (depth_in.dim() != 2) throw Error("saag: depth must be (H,W)");
  const int H = depth_in.size(0), W = depth_in.size(1);
  if (o.subsample < 1) throw Error("saag: subsample must be >= 1");
  auto image = image_in.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  if (image.size(1) != H || image.size(2) != W)
    image = torch::nn::functional::interpolate(image.unsqueeze(0), torch::nn::functional::InterpolateFuncOptions()
                                                                       .size(std::vector<int64_t>{H, W})
                                                                       .mode(torch::kBilinear)
                                                                       .align_corners(false))[0]
                .contiguous();
  auto depth = depth_in.detach().to(torch::kCPU, torch::kDouble).contiguous();
  auto K = intrinsics_in.detach().to(torch::kCPU, torch::kDouble).contiguous();
  const double fx = K[0].item<double>() * W, fy = K[1].item<double>() * H;
  const double cx = K[2].item<double>() * W, cy = K[3].item<double>() * H;
  auto D = depth.accessor<double, 2>();
  auto I = image.accessor<float, 3>();

  // Normalised depth (1 = near) for confidence and gradients, and camera z per pixel.
  std::vector<double> nd(size_t(H) * W, 0.0), zc(size_t(H) * W, 0.0);
  std::vector<char> valid(size_t(H) * W, 1);
  double dmin = 1e300, dmax = -1e300;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const double v = D[y][x];
      if (!std::isfinite(v)) throw Error("saag: depth contains NaN/Inf");
      if (o.depth_mode == DepthMode::Metric && v <= 0) {
        valid[size_t(y) * W + x] = 0;
        continue;
      }
      dmin = std::min(dmin, v);
      dmax = std::max(dmax, v);
    }
  const double range = std::max(dmax - dmin, 1e-6);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const size_t k = size_t(y) * W + x;
      if (!valid[k]) continue;
      const double v = D[y][x];
      if (o.depth_mode == DepthMode::Metric) {
        nd[k] = dmax > dmin ? 1.0 - (v - dmin) / range : 1.0;
        zc[k] = v;
      } else {
        nd[k] = dmax > dmin ? (v - dmin) / range : 1.0;
        zc[k] = o.depth_offset + 2.0 * (1.0 - std::clamp(v, 0.0, 1.0));
      }
    }
  auto point = [&](int x, int y) -> V3 {
    const double z = zc[size_t(y) * W + x];
    return {(x + 0.5 - cx) / fx * z, (y + 0.5 - cy) / fy * z, z};
  };
  auto grad = [&](int x, int y) -> std::array<double, 2> {
    const int x0 = std::max(0, x - 1), x1 = std::min(W - 1, x + 1), y0 = std::max(0, y - 1),
              y1 = std::min(H - 1, y + 1);
    const double gx = (nd[size_t(y) * W + x1] - nd[size_t(y) * W + x0]) / std::max(1, x1 - x0);
    const double gy = (nd[size_t(y1) * W + x] - nd[size_t(y0) * W + x]) / std::max(1, y1 - y0);
    return {gx, gy};
  };
  // Extent of the cloud (max bbox side) sets sizes relative to the original's extent-3 normalisation.
  V3 lo{1e300, 1e300, 1e300}, hi{-1e300, -1e300, -1e300};
  double max_grad = 1e-12;
  for (int y = 0; y < H; y += o.subsample)
    for (int x = 0; x < W; x += o.subsample) {
      if (!valid[size_t(y) * W + x]) continue;
      const V3 p = point(x, y);
      for (int a = 0; a < 3; ++a) lo[a] = std::min(lo[a], p[a]), hi[a] = std::max(hi[a], p[a]);
      const auto g = grad(x, y);
      max_grad = std::max(max_grad, std::hypot(g[0], g[1]));
    }
  const double extent = std::max({hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2], 1e-6});
  const double unit = extent / 3.0;

  Sink s;
  for (int y = 0; y < H; y += o.subsample)
    for (int x = 0; x < W; x += o.subsample) {
      const size_t k = size_t(y) * W + x;
      const double conf = valid[k] ? nd[k] : 0.0;
      if (o.min_confidence > 0 && (!valid[k] || conf < o.min_confidence)) continue;
      const V3 color{I[0][y][x], I[1][y][x], I[2][y][x]};
      if (!valid[k]) {  // fixed-count mode keeps an invisible (opacity 0) Gaussian at the far plane
        const double z = dmax > 0 ? dmax : o.depth_offset + 2.0;
        s.push({(x + 0.5 - cx) / fx * z, (y + 0.5 - cy) / fy * z, z}, {1, 0, 0, 0}, {1e-4, 1e-4, 1e-4}, color, 0.0);
        continue;
      }
      const V3 p = point(x, y);
      const int x0 = std::max(0, x - 1), x1 = std::min(W - 1, x + 1), y0 = std::max(0, y - 1),
                y1 = std::min(H - 1, y + 1);
      const V3 dx = sub(point(x1, y), point(x0, y)), dy = sub(point(x, y1), point(x, y0));
      V3 n = normalize(cross(dx, dy));
      if (dot(n, p) > 0) n = mul(n, -1.0);  // face the camera
      const Q4 q = slerp_from_identity(rotate_z_to(n), o.normal_strength);
      const auto g = grad(x, y);
      const double gmag = std::hypot(g[0], g[1]);
      const double ng = gmag / max_grad;
      const double base = o.base_size * unit * (0.5 + 0.5 * conf);
      const double t = std::clamp((ng - o.edge_threshold) / (1.0 - o.edge_threshold), 0.0, 1.0);
      const double ef = 1.0 - t * (1.0 - o.edge_shrink);
      const V3 scale{base * ef, base * ef, base / o.aspect * ef};
      const double op = o.opacity * conf * (0.7 + 0.3 * ef);
      s.push(p, q, scale, color, op);

      const V3 view = normalize(p);
      const double gdir_len = gmag * o.gradient_scale;
      const V3 gdir = gmag > 1e-12 ? V3{g[0] / gmag, g[1] / gmag, 0.0} : V3{0, 0, 0};
      if (o.volumetric_shell && ng > 0.1) {
        const V3 back = add(p, mul(view, o.shell_thickness * unit));
        s.push(back, rotate_z_to(view), scale, mul(color, 0.8), op * 0.6);
        if (gdir_len > 0.1) {
          const V3 wall_n = normalize(cross(view, gdir));
          for (int seg = 1; seg <= 3; ++seg) {
            const V3 wp = add(p, mul(sub(back, p), seg / 4.0));
            s.push(wp, rotate_z_to(wall_n), mul(scale, 0.9), color, op * 0.5);
          }
        }
      }
      if (o.silhouette_wrap && ng > o.edge_threshold && gdir_len > 0.1) {
        V3 wrap = normalize(cross(n, gdir));
        if (dot(wrap, view) < 0) wrap = mul(wrap, -1.0);
        for (int l = 0; l < 3; ++l) {
          const V3 wp = add(p, mul(wrap, (l + 1) * 0.5 * o.base_size * unit));
          s.push(wp, rotate_z_to(mul(wrap, -1.0)), {0.8 * base, 0.8 * base, 0.4 * base}, color,
                 op * std::pow(0.7, l + 1));
        }
      }
      if (o.adaptive_density && ng > 0.08) {
        for (uint32_t e = 0; e < 4; ++e) {
          V3 off;
          for (uint32_t a = 0; a < 3; ++a) off[a] = (2.0 * hash01(x, y, e * 4 + a, o.seed) - 1.0) * 0.6 * base;
          const double r = hash01(x, y, e * 4 + 3, o.seed);
          s.push(add(p, off), q, mul(scale, (1.0 + (r - 0.5) * 0.6) * 0.8), color, op * 0.7);
        }
      }
    }
  const int64_t N = static_cast<int64_t>(s.opacities.size());
  auto f = torch::TensorOptions().dtype(torch::kFloat32);
  Gaussians out;
  out.means = torch::from_blob(s.means.data(), {N, 3}, f).clone();
  out.quats = torch::from_blob(s.quats.data(), {N, 4}, f).clone();
  out.scales = torch::from_blob(s.scales.data(), {N, 3}, f).clone();
  out.colors = torch::from_blob(s.colors.data(), {N, 3}, f).clone();
  out.opacities = torch::from_blob(s.opacities.data(), {N}, f).clone();
  return out;
}

}  // namespace fresnel::decode
