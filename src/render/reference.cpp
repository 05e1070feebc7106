// Reference twin (tests and benchmark comparisons only): the rasterizer's rules written as dense libtorch
// ops over (Gaussians × pixels). Every rule mirrors the kernels: 3σ support, α = min(0.99, o·e^power),
// skip α < 1/255, stop before T drops below 1e-4, background × final T, Jacobian guard band, SH colour.
#include "render/reference.hpp"

#include <cmath>

#include "core/error.hpp"
#include "core/sh_constants.hpp"
#include "render/constants.hpp"

namespace fresnel::reference {
namespace {

namespace rc = fresnel::render_constants;
using torch::Tensor;

Tensor sh_basis(const Tensor& d, int degree) {
  const auto x = d.select(-1, 0), y = d.select(-1, 1), z = d.select(-1, 2);
  std::vector<Tensor> b{torch::full_like(x, sh::kC0)};
  if (degree >= 1) {
    b.push_back(-sh::kC1 * y);
    b.push_back(sh::kC1 * z);
    b.push_back(-sh::kC1 * x);
  }
  if (degree >= 2) {
    const auto xx = x * x, yy = y * y, zz = z * z;
    b.push_back(sh::kC2_0 * x * y);
    b.push_back(sh::kC2_1 * y * z);
    b.push_back(sh::kC2_2 * (2 * zz - xx - yy));
    b.push_back(sh::kC2_3 * x * z);
    b.push_back(sh::kC2_4 * (xx - yy));
    if (degree >= 3) {
      b.push_back(sh::kC3_0 * y * (3 * xx - yy));
      b.push_back(sh::kC3_1 * x * y * z);
      b.push_back(sh::kC3_2 * y * (4 * zz - xx - yy));
      b.push_back(sh::kC3_3 * z * (2 * zz - 3 * xx - 3 * yy));
      b.push_back(sh::kC3_4 * x * (4 * zz - xx - yy));
      b.push_back(sh::kC3_5 * z * (xx - yy));
      b.push_back(sh::kC3_6 * x * (xx - 3 * yy));
    }
  }
  return torch::stack(b, -1);  // (N,K)
}

int used_degree(const Gaussians& g, const RenderOptions& o) {
  const int data = g.sh_degree();
  return o.sh_degree < 0 ? data : std::min(o.sh_degree, data);
}

}  // namespace

Projection project(const Gaussians& g, const Camera& cam, const RenderOptions& opt) {
  const auto dt = g.means.options();
  Tensor view =
      torch::tensor(std::vector<double>(cam.world_to_camera.begin(), cam.world_to_camera.end()), torch::kFloat64)
          .view({4, 4})
          .to(dt);
  const Tensor Rv = view.slice(0, 0, 3).slice(1, 0, 3), t = view.slice(0, 0, 3).select(1, 3);
  const Tensor p = g.means.matmul(Rv.t()) + t;
  const Tensor x = p.select(1, 0), y = p.select(1, 1), z = p.select(1, 2);
  Tensor valid = ((z >= cam.near_plane) & (z <= cam.far_plane)).detach();
  const Tensor zs = torch::where(valid, z, torch::ones_like(z));
  const double lxl = (-rc::kGuardBand * cam.width - cam.cx) / cam.fx;
  const double lxh = ((1 + rc::kGuardBand) * cam.width - cam.cx) / cam.fx;
  const double lyl = (-rc::kGuardBand * cam.height - cam.cy) / cam.fy;
  const double lyh = ((1 + rc::kGuardBand) * cam.height - cam.cy) / cam.fy;
  const Tensor tx = zs * (x / zs).clamp(lxl, lxh);
  const Tensor ty = zs * (y / zs).clamp(lyl, lyh);
  const Tensor iz = 1.0 / zs, iz2 = iz * iz;
  const Tensor zero = torch::zeros_like(zs);
  const Tensor J = torch::stack({torch::stack({cam.fx * iz, zero, -cam.fx * tx * iz2}, -1),
                                 torch::stack({zero, cam.fy * iz, -cam.fy * ty * iz2}, -1)},
                                1);  // (N,2,3)
  const Tensor q = g.quats;
  const Tensor qn = q / torch::sqrt((q * q).sum(-1, true) + rc::kQuatEps);
  const Tensor w = qn.select(1, 0), qx = qn.select(1, 1), qy = qn.select(1, 2), qz = qn.select(1, 3);
  const Tensor Rq = torch::stack({1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - w * qz), 2 * (qx * qz + w * qy),
                                  2 * (qx * qy + w * qz), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - w * qx),
                                  2 * (qx * qz - w * qy), 2 * (qy * qz + w * qx), 1 - 2 * (qx * qx + qy * qy)},
                                 -1)
                        .view({-1, 3, 3});
  const Tensor M = torch::matmul(Rv, Rq) * g.scales.unsqueeze(1);
  const Tensor cov3 = torch::matmul(M, M.transpose(1, 2));
  const Tensor cov2 = torch::matmul(torch::matmul(J, cov3), J.transpose(1, 2));
  const double v = opt.screen_filter.variance_px2;
  const Tensor a0 = cov2.select(1, 0).select(1, 0), c0 = cov2.select(1, 1).select(1, 1);
  const Tensor b = cov2.select(1, 0).select(1, 1);
  const Tensor a = a0 + v, c = c0 + v;
  const Tensor det = a * c - b * b;
  valid = valid & (det > 0).detach() & torch::isfinite(det).detach();
  const Tensor dets = torch::where(valid, det, torch::ones_like(det));
  Projection pr;
  pr.cov_a = a;
  pr.cov_b = b;
  pr.cov_c = c;
  pr.A = torch::where(valid, c / dets, zero);
  pr.B = torch::where(valid, -b / dets, zero);
  pr.C = torch::where(valid, a / dets, zero);
  pr.u = cam.fx * x * iz + cam.cx;
  pr.v = cam.fy * y * iz + cam.cy;
  pr.opacity = g.opacities;
  if (opt.screen_filter.is_mip()) {  // opacity × sqrt(det Σ2D / det(Σ2D + v·I)), det Σ2D floored (no gradient there)
    const Tensor det0 = (a0 * c0 - b * b).clamp_min(rc::kMipDetEps);
    pr.opacity = g.opacities * torch::sqrt(det0 / dets);
  }
  valid =
      valid & torch::isfinite(pr.u).detach() & torch::isfinite(pr.v).detach() & (pr.opacity >= rc::kMinAlpha).detach();
  pr.valid = valid;
  pr.z = zs;
  if (g.has_sh()) {
    const int deg = used_degree(g, opt);
    const Vec3 cp = cam.position();
    const Tensor r = g.means - torch::tensor({cp[0], cp[1], cp[2]}, torch::kFloat64).to(dt);
    const Tensor d = r / torch::sqrt((r * r).sum(-1, true) + rc::kDirEps);
    const Tensor basis = sh_basis(d, deg);  // (N,K)
    const int k = sh_coeffs_for_degree(deg);
    pr.color = (0.5 + (basis.unsqueeze(-1) * g.colors.slice(1, 0, k)).sum(1)).clamp_min(0.0);
  } else {
    pr.color = g.colors;
  }
  if (g.has_phases()) {
    pr.cosp = torch::cos(g.phases);
    pr.sinp = torch::sin(g.phases);
  }
  return pr;
}

namespace {

std::pair<Tensor, Tensor> pixel_centres(const Camera& cam, int r0, int r1, const torch::TensorOptions& dt) {
  const Tensor ys = torch::arange(r0, r1, torch::kFloat64).to(dt) + 0.5;
  const Tensor xs = torch::arange(0, cam.width, torch::kFloat64).to(dt) + 0.5;
  const auto grid = torch::meshgrid({ys, xs}, "ij");
  return {grid[1].reshape(-1), grid[0].reshape(-1)};
}

void check_rows(const Camera& cam, int& r0, int& r1) {
  if (r1 < 0) r1 = cam.height;
  if (r0 < 0 || r0 > r1 || r1 > cam.height) throw Error("reference: bad row range");
}

}  // namespace

Footprint footprint(const Projection& pr, const Camera& cam, int r0, int r1) {
  check_rows(cam, r0, r1);
  auto [px, py] = pixel_centres(cam, r0, r1, pr.u.options());
  const Tensor dx = pr.u.unsqueeze(1) - px.unsqueeze(0);
  const Tensor dy = pr.v.unsqueeze(1) - py.unsqueeze(0);
  const Tensor power = -0.5 * (pr.A.unsqueeze(1) * dx * dx + pr.C.unsqueeze(1) * dy * dy) - pr.B.unsqueeze(1) * dx * dy;
  const Tensor in_ellipse = pr.valid.unsqueeze(1) & (power <= 0).detach() & (power >= rc::kMinPower).detach();
  const Tensor amp = pr.opacity.unsqueeze(1) * torch::exp(torch::where(in_ellipse, power, torch::zeros_like(power)));
  Footprint fp;
  fp.accepted = in_ellipse & (amp >= rc::kMinAlpha).detach();
  fp.amplitude = torch::where(fp.accepted, amp, torch::zeros_like(amp));
  return fp;
}

RenderOutput render_rows(const Gaussians& g, const Camera& cam, const RenderOptions& opt, int r0, int r1) {
  check_rows(cam, r0, r1);
  const auto dt = g.means.options();
  const Projection pr = project(g, cam, opt);
  const Tensor alpha = footprint(pr, cam, r0, r1).amplitude.clamp_max(rc::kMaxAlpha);
  // Front to back: depth ascending, ties by index (stable sort), culled Gaussians last.
  const Tensor key = torch::where(pr.valid, pr.z.detach(), torch::full_like(pr.z, INFINITY));
  const Tensor order = std::get<1>(torch::sort(key, /*stable=*/true, 0, false));
  const Tensor a = alpha.index_select(0, order);
  const Tensor T_incl = torch::cumprod(1 - a.detach(), 0);
  const Tensor alive = (torch::cumsum((T_incl < rc::kMinTransmittance).to(torch::kInt64), 0) == 0);
  const Tensor ae = a * alive.to(a.scalar_type());
  const Tensor cp = torch::cumprod(1 - ae, 0);
  const Tensor T_excl = torch::cat({torch::ones_like(cp.slice(0, 0, 1)), cp.slice(0, 0, -1)}, 0);
  const Tensor wgt = ae * T_excl;  // (N,P)
  const Tensor T_final = cp.select(0, cp.size(0) - 1);
  const Tensor col = pr.color.index_select(0, order);
  const Tensor bg = torch::tensor({opt.background[0], opt.background[1], opt.background[2]}, torch::kFloat64).to(dt);
  Tensor rgb = wgt.t().matmul(col);  // (P,3)
  if (opt.phase_blending) {
    if (!g.has_phases()) throw Error("render: phase_blending needs gaussians.phases");
    const Tensor cs = pr.cosp.index_select(0, order), sn = pr.sinp.index_select(0, order);
    const Tensor ur = wgt.t().matmul(col * cs), ui = wgt.t().matmul(col * sn);
    const double eps = rc::kPhaseEps;
    const Tensor mag = torch::sqrt(ur * ur + ui * ui + eps * eps) - eps;
    rgb = (1 - opt.phase_amplitude) * rgb + opt.phase_amplitude * mag;
  }
  rgb = rgb + T_final.unsqueeze(1) * bg;
  const Tensor dacc = (wgt * pr.z.index_select(0, order).unsqueeze(1)).sum(0);
  const int rows = r1 - r0;
  RenderOutput out;
  out.rgb = rgb.view({rows, cam.width, 3});
  out.alpha = (1 - T_final).view({rows, cam.width});
  out.depth_accum = dacc.view({rows, cam.width});
  out.depth = torch::where(out.alpha > 0, out.depth_accum / out.alpha.clamp_min(1e-12), torch::zeros_like(out.alpha));
  return out;
}

RenderOutput render(const Gaussians& g, const std::vector<Camera>& cams, const RenderOptions& opt) {
  std::vector<Tensor> rgb, alpha, depth, dacc;
  for (const auto& c : cams) {
    auto o = render_rows(g, c, opt);
    rgb.push_back(o.rgb);
    alpha.push_back(o.alpha);
    depth.push_back(o.depth);
    dacc.push_back(o.depth_accum);
  }
  return {torch::stack(rgb), torch::stack(alpha), torch::stack(depth), torch::stack(dacc)};
}

WaveOutput render_wave(const Gaussians& g, const std::vector<Camera>& cams, const RenderOptions& opt) {
  if (!g.has_phases()) throw Error("render_wave: gaussians.phases is required");
  std::vector<Tensor> I, cov;
  for (const auto& cam : cams) {
    const Projection pr = project(g, cam, opt);
    const Tensor amp = footprint(pr, cam, 0, cam.height).amplitude;
    const Tensor ur = amp.t().matmul(pr.color * pr.cosp), ui = amp.t().matmul(pr.color * pr.sinp);
    I.push_back((ur * ur + ui * ui).view({cam.height, cam.width, 3}));
    cov.push_back(amp.sum(0).view({cam.height, cam.width}));
  }
  return {torch::stack(I), torch::stack(cov)};
}

}  // namespace fresnel::reference
