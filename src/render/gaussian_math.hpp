// Per-Gaussian math shared by the CPU kernels and the CUDA kernels (host/device inline functions):
// EWA projection of a 3D Gaussian to a 2D conic, its exact backward, and spherical-harmonics colour.
// Templated on the scalar type so the CPU path also runs in double precision for gradient checks.
#pragma once
#include <cmath>

#include "core/sh_constants.hpp"
#include "render/constants.hpp"

#if defined(__CUDACC__)
#define FRESNEL_HD __host__ __device__ __forceinline__
#else
#define FRESNEL_HD inline
#endif

namespace fresnel::gmath {

namespace rc = fresnel::render_constants;

// One pinhole camera (OpenCV: x right, y down, z forward), world→camera rotation R (row-major) and t.
template <typename S>
struct CameraParams {
  S R[9];
  S t[3];
  S fx, fy, cx, cy;
  S near_plane, far_plane;
  S pos[3];  // camera centre in world coordinates (for SH view directions)
  int width, height;
  // Screen filter: `filter_var` px² added to the 2D covariance diagonal; with `mip_filter` (Mip-Splatting's 2D
  // Mip filter) opacity is also scaled by ρ = sqrt(det Σ2D / det(Σ2D + filter_var·I)) so that the filter blurs a
  // Gaussian without adding to its footprint's integral; without it (3DGS's dilation) opacity is kept.
  S filter_var;
  bool mip_filter;
  // Limits of x/z and y/z used for the Jacobian: the image plus a guard band on each side.
  S lim_x_lo, lim_x_hi, lim_y_lo, lim_y_hi;
};

template <typename S>
FRESNEL_HD S clamp_val(S v, S lo, S hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

// Normalised quaternion (w,x,y,z) → rotation matrix (row-major). inv is 1/sqrt(|q|²+eps).
template <typename S>
FRESNEL_HD void quat_to_rot(const S q[4], S qn[4], S& inv, S R[9]) {
  const S n2 = q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3];
  inv = S(1) / std::sqrt(n2 + S(rc::kQuatEps));
  for (int i = 0; i < 4; ++i) qn[i] = q[i] * inv;
  const S w = qn[0], x = qn[1], y = qn[2], z = qn[3];
  R[0] = S(1) - S(2) * (y * y + z * z);
  R[1] = S(2) * (x * y - w * z);
  R[2] = S(2) * (x * z + w * y);
  R[3] = S(2) * (x * y + w * z);
  R[4] = S(1) - S(2) * (x * x + z * z);
  R[5] = S(2) * (y * z - w * x);
  R[6] = S(2) * (x * z - w * y);
  R[7] = S(2) * (y * z + w * x);
  R[8] = S(1) - S(2) * (x * x + y * y);
}

// Intermediate values of the projection that the backward pass needs again.
template <typename S>
struct ProjectionState {
  S p[3];    // camera-space mean
  S tx, ty;  // clamped x and y used by the Jacobian
  bool clamp_x, clamp_y;
  S qn[4], qinv, Rq[9];
  S M[9];     // R_view · R_q · diag(s)
  S cov3[6];  // camera-space covariance (xx, xy, xz, yy, yz, zz)
  S j00, j02, j11, j12;
  S a, b, c;  // 2D covariance incl. the screen filter
  S det;
  S rho;             // opacity scale of the Mip filter (1 for dilation)
  S det0;            // det Σ2D before the filter (Mip filter only)
  bool rho_clamped;  // det Σ2D was floored at kMipDetEps: ρ gets no gradient
};

// Forward projection. Returns false when the Gaussian is culled (behind the near plane, beyond the far
// plane, degenerate or non-finite covariance). Outputs the pixel mean, conic (A,B,C) = Σ2⁻¹ and depth.
template <typename S>
FRESNEL_HD bool project(const CameraParams<S>& cam, const S mean[3], const S quat[4], const S scale[3],
                        ProjectionState<S>& st, S& u, S& v, S conic[3], S& depth) {
  st.rho = S(1);
  st.rho_clamped = false;
  const S* R = cam.R;
  for (int i = 0; i < 3; ++i) st.p[i] = R[3 * i] * mean[0] + R[3 * i + 1] * mean[1] + R[3 * i + 2] * mean[2] + cam.t[i];
  const S x = st.p[0], y = st.p[1], z = st.p[2];
  if (!(z >= cam.near_plane && z <= cam.far_plane)) return false;
  const S xz = x / z, yz = y / z;
  st.clamp_x = xz < cam.lim_x_lo || xz > cam.lim_x_hi;
  st.clamp_y = yz < cam.lim_y_lo || yz > cam.lim_y_hi;
  st.tx = z * clamp_val(xz, cam.lim_x_lo, cam.lim_x_hi);
  st.ty = z * clamp_val(yz, cam.lim_y_lo, cam.lim_y_hi);
  const S iz = S(1) / z, iz2 = iz * iz;
  st.j00 = cam.fx * iz;
  st.j02 = -cam.fx * st.tx * iz2;
  st.j11 = cam.fy * iz;
  st.j12 = -cam.fy * st.ty * iz2;

  quat_to_rot(quat, st.qn, st.qinv, st.Rq);
  // M = R_view · R_q · diag(s)
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      st.M[3 * i + j] = (R[3 * i] * st.Rq[j] + R[3 * i + 1] * st.Rq[3 + j] + R[3 * i + 2] * st.Rq[6 + j]) * scale[j];
  const S* M = st.M;
  auto dot_rows = [&](int r0, int r1) {
    return M[3 * r0] * M[3 * r1] + M[3 * r0 + 1] * M[3 * r1 + 1] + M[3 * r0 + 2] * M[3 * r1 + 2];
  };
  S* s3 = st.cov3;
  s3[0] = dot_rows(0, 0);
  s3[1] = dot_rows(0, 1);
  s3[2] = dot_rows(0, 2);
  s3[3] = dot_rows(1, 1);
  s3[4] = dot_rows(1, 2);
  s3[5] = dot_rows(2, 2);
  // K = J Σ; Σ2 = K Jᵀ. J = [[j00,0,j02],[0,j11,j12]].
  const S k00 = st.j00 * s3[0] + st.j02 * s3[2];
  const S k01 = st.j00 * s3[1] + st.j02 * s3[4];
  const S k02 = st.j00 * s3[2] + st.j02 * s3[5];
  const S k11 = st.j11 * s3[3] + st.j12 * s3[4];
  const S k12 = st.j11 * s3[4] + st.j12 * s3[5];
  const S a0 = k00 * st.j00 + k02 * st.j02;
  st.b = k01 * st.j11 + k02 * st.j12;
  const S c0 = k11 * st.j11 + k12 * st.j12;
  st.a = a0 + cam.filter_var;
  st.c = c0 + cam.filter_var;
  st.det = st.a * st.c - st.b * st.b;
  if (!(st.det > S(0)) || !std::isfinite(st.det) || !std::isfinite(st.a) || !std::isfinite(st.c)) return false;
  if (cam.mip_filter) {
    st.det0 = a0 * c0 - st.b * st.b;
    st.rho_clamped = !(st.det0 > S(rc::kMipDetEps));
    st.rho = std::sqrt((st.rho_clamped ? S(rc::kMipDetEps) : st.det0) / st.det);
  }
  const S idet = S(1) / st.det;
  conic[0] = st.c * idet;
  conic[1] = -st.b * idet;
  conic[2] = st.a * idet;
  u = cam.fx * x * iz + cam.cx;
  v = cam.fy * y * iz + cam.cy;
  depth = z;
  return std::isfinite(u) && std::isfinite(v);
}

// Backward of `project`: given dL/du, dL/dv, dL/dconic, dL/ddepth and dL/dρ (the Mip filter's opacity scale;
// ignored with dilation), adds dL/dmean and writes dL/dquat, dL/dscale. `st` must come from `project` on the same
// inputs.
template <typename S>
FRESNEL_HD void project_backward(const CameraParams<S>& cam, const S quat[4], const S scale[3],
                                 const ProjectionState<S>& st, const S conic[3], S gu, S gv, const S gconic[3],
                                 S gdepth, S grho, S gmean[3], S gquat[4], S gscale[3]) {
  const S x = st.p[0], y = st.p[1], z = st.p[2];
  const S iz = S(1) / z, iz2 = iz * iz, iz3 = iz2 * iz;
  S gp[3] = {0, 0, 0};
  // Pixel mean.
  gp[0] += gu * cam.fx * iz;
  gp[2] -= gu * cam.fx * x * iz2;
  gp[1] += gv * cam.fy * iz;
  gp[2] -= gv * cam.fy * y * iz2;
  gp[2] += gdepth;

  // Conic P = Σ2⁻¹: dL/dΣ2 = −P G P with G the symmetric gradient (B is shared by both off-diagonals).
  const S A = conic[0], B = conic[1], C = conic[2];
  const S gA = gconic[0], gB = S(0.5) * gconic[1], gC = gconic[2];
  const S pg00 = A * gA + B * gB, pg01 = A * gB + B * gC;
  const S pg10 = B * gA + C * gB, pg11 = B * gB + C * gC;
  S s00 = -(pg00 * A + pg01 * B);
  S s01 = -(pg00 * B + pg01 * C);
  S s11 = -(pg10 * B + pg11 * C);
  if (cam.mip_filter && !st.rho_clamped) {
    // ρ² = D0/D with D0 = a0·c0 − b², D = a·c − b² (a = a0 + v, c = c0 + v): ∂ρ = ρ/2 (∂D0/D0 − ∂D/D).
    // b sits in both off-diagonals, so s01 (per entry) gets half of ∂ρ/∂b.
    const S a0 = st.a - cam.filter_var, c0 = st.c - cam.filter_var;
    const S iD0 = S(1) / st.det0, iD = S(1) / st.det, h = S(0.5) * st.rho * grho;
    s00 += h * (c0 * iD0 - st.c * iD);
    s11 += h * (a0 * iD0 - st.a * iD);
    s01 += h * st.b * (iD - iD0);
  }

  // Σ2 = T Σc Tᵀ: dL/dΣc = Tᵀ S T, dL/dT = 2 S T Σc.
  const S T[6] = {st.j00, S(0), st.j02, S(0), st.j11, st.j12};
  S U[6];  // S·T (2×3)
  for (int j = 0; j < 3; ++j) {
    U[j] = s00 * T[j] + s01 * T[3 + j];
    U[3 + j] = s01 * T[j] + s11 * T[3 + j];
  }
  const S* c3 = st.cov3;
  const S Sig[9] = {c3[0], c3[1], c3[2], c3[1], c3[3], c3[4], c3[2], c3[4], c3[5]};
  S gT[6];
  for (int a = 0; a < 2; ++a)
    for (int j = 0; j < 3; ++j)
      gT[3 * a + j] = S(2) * (U[3 * a] * Sig[j] + U[3 * a + 1] * Sig[3 + j] + U[3 * a + 2] * Sig[6 + j]);
  S gSig[9];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) gSig[3 * i + j] = T[i] * U[j] + T[3 + i] * U[3 + j];

  // Jacobian entries → camera-space mean (tx, ty are clamped copies of x, y).
  const S gj00 = gT[0], gj02 = gT[2], gj11 = gT[4], gj12 = gT[5];
  gp[2] += -cam.fx * iz2 * gj00 - cam.fy * iz2 * gj11 + S(2) * cam.fx * st.tx * iz3 * gj02 +
           S(2) * cam.fy * st.ty * iz3 * gj12;
  const S gtx = -cam.fx * iz2 * gj02, gty = -cam.fy * iz2 * gj12;
  if (st.clamp_x)
    gp[2] += gtx * (st.tx / z);
  else
    gp[0] += gtx;
  if (st.clamp_y)
    gp[2] += gty * (st.ty / z);
  else
    gp[1] += gty;

  // Σc = M Mᵀ → dM = 2 gSig M; M = Rv N with N = Rq diag(s) → dN = Rvᵀ dM.
  S gM[9];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      gM[3 * i + j] = S(2) * (gSig[3 * i] * st.M[j] + gSig[3 * i + 1] * st.M[3 + j] + gSig[3 * i + 2] * st.M[6 + j]);
  const S* R = cam.R;
  S gN[9];
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 3; ++j) gN[3 * k + j] = R[k] * gM[j] + R[3 + k] * gM[3 + j] + R[6 + k] * gM[6 + j];
  S gR[9];
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 3; ++j) gR[3 * k + j] = gN[3 * k + j] * scale[j];
  for (int j = 0; j < 3; ++j) gscale[j] = gN[j] * st.Rq[j] + gN[3 + j] * st.Rq[3 + j] + gN[6 + j] * st.Rq[6 + j];
  // Rotation matrix → normalised quaternion → raw quaternion.
  const S w = st.qn[0], qx = st.qn[1], qy = st.qn[2], qz = st.qn[3];
  S gq[4];
  gq[0] = S(2) * (-qz * gR[1] + qy * gR[2] + qz * gR[3] - qx * gR[5] - qy * gR[6] + qx * gR[7]);
  gq[1] = S(2) * (qy * gR[1] + qz * gR[2] + qy * gR[3] - S(2) * qx * gR[4] - w * gR[5] + qz * gR[6] + w * gR[7] -
                  S(2) * qx * gR[8]);
  gq[2] = S(2) * (-S(2) * qy * gR[0] + qx * gR[1] + w * gR[2] + qx * gR[3] + qz * gR[5] - w * gR[6] + qz * gR[7] -
                  S(2) * qy * gR[8]);
  gq[3] = S(2) * (-S(2) * qz * gR[0] - w * gR[1] + qx * gR[2] + w * gR[3] - S(2) * qz * gR[4] + qy * gR[5] +
                  qx * gR[6] + qy * gR[7]);
  const S qdot = quat[0] * gq[0] + quat[1] * gq[1] + quat[2] * gq[2] + quat[3] * gq[3];
  const S inv3 = st.qinv * st.qinv * st.qinv;
  for (int i = 0; i < 4; ++i) gquat[i] = st.qinv * gq[i] - inv3 * quat[i] * qdot;

  // Camera-space mean → world mean: p = R m + t.
  for (int j = 0; j < 3; ++j) gmean[j] += R[j] * gp[0] + R[3 + j] * gp[1] + R[6 + j] * gp[2];
}

// Real SH basis up to `degree` (0..3) at unit direction d; writes (degree+1)² values.
template <typename S>
FRESNEL_HD void sh_basis(int degree, const S d[3], S b[16]) {
  const S x = d[0], y = d[1], z = d[2];
  b[0] = S(sh::kC0);
  if (degree < 1) return;
  b[1] = -S(sh::kC1) * y;
  b[2] = S(sh::kC1) * z;
  b[3] = -S(sh::kC1) * x;
  if (degree < 2) return;
  const S xx = x * x, yy = y * y, zz = z * z;
  b[4] = S(sh::kC2_0) * x * y;
  b[5] = S(sh::kC2_1) * y * z;
  b[6] = S(sh::kC2_2) * (S(2) * zz - xx - yy);
  b[7] = S(sh::kC2_3) * x * z;
  b[8] = S(sh::kC2_4) * (xx - yy);
  if (degree < 3) return;
  b[9] = S(sh::kC3_0) * y * (S(3) * xx - yy);
  b[10] = S(sh::kC3_1) * x * y * z;
  b[11] = S(sh::kC3_2) * y * (S(4) * zz - xx - yy);
  b[12] = S(sh::kC3_3) * z * (S(2) * zz - S(3) * xx - S(3) * yy);
  b[13] = S(sh::kC3_4) * x * (S(4) * zz - xx - yy);
  b[14] = S(sh::kC3_5) * z * (xx - yy);
  b[15] = S(sh::kC3_6) * x * (xx - S(3) * yy);
}

// dL/ddir += Σ_k g_k · ∂b_k/∂dir, where g_k = dL/db_k.
template <typename S>
FRESNEL_HD void sh_basis_backward(int degree, const S d[3], const S g[16], S gd[3]) {
  if (degree < 1) return;
  const S x = d[0], y = d[1], z = d[2];
  const S c1 = S(sh::kC1);
  gd[0] += -c1 * g[3];
  gd[1] += -c1 * g[1];
  gd[2] += c1 * g[2];
  if (degree < 2) return;
  const S a0 = S(sh::kC2_0), a1 = S(sh::kC2_1), a2 = S(sh::kC2_2), a3 = S(sh::kC2_3), a4 = S(sh::kC2_4);
  gd[0] += a0 * y * g[4] - S(2) * a2 * x * g[6] + a3 * z * g[7] + S(2) * a4 * x * g[8];
  gd[1] += a0 * x * g[4] + a1 * z * g[5] - S(2) * a2 * y * g[6] - S(2) * a4 * y * g[8];
  gd[2] += a1 * y * g[5] + S(4) * a2 * z * g[6] + a3 * x * g[7];
  if (degree < 3) return;
  const S xx = x * x, yy = y * y, zz = z * z;
  const S e0 = S(sh::kC3_0), e1 = S(sh::kC3_1), e2 = S(sh::kC3_2), e3 = S(sh::kC3_3), e4 = S(sh::kC3_4),
          e5 = S(sh::kC3_5), e6 = S(sh::kC3_6);
  gd[0] += S(6) * e0 * x * y * g[9] + e1 * y * z * g[10] - S(2) * e2 * x * y * g[11] - S(6) * e3 * x * z * g[12] +
           e4 * (S(4) * zz - S(3) * xx - yy) * g[13] + S(2) * e5 * x * z * g[14] + e6 * (S(3) * xx - S(3) * yy) * g[15];
  gd[1] += e0 * (S(3) * xx - S(3) * yy) * g[9] + e1 * x * z * g[10] + e2 * (S(4) * zz - xx - S(3) * yy) * g[11] -
           S(6) * e3 * y * z * g[12] - S(2) * e4 * x * y * g[13] - S(2) * e5 * y * z * g[14] -
           S(6) * e6 * x * y * g[15];
  gd[2] += e1 * x * y * g[10] + S(8) * e2 * y * z * g[11] + e3 * (S(6) * zz - S(3) * xx - S(3) * yy) * g[12] +
           S(8) * e4 * x * z * g[13] + e5 * (xx - yy) * g[14];
}

// Unit view direction from the camera centre to the mean; returns the unnormalised length.
template <typename S>
FRESNEL_HD S view_dir(const CameraParams<S>& cam, const S mean[3], S d[3]) {
  S r[3] = {mean[0] - cam.pos[0], mean[1] - cam.pos[1], mean[2] - cam.pos[2]};
  const S inv = S(1) / std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2] + S(rc::kDirEps));
  for (int i = 0; i < 3; ++i) d[i] = r[i] * inv;
  return inv;
}

// Backward of view_dir: dL/dmean += (g − d(d·g))·inv.
template <typename S>
FRESNEL_HD void view_dir_backward(const S d[3], S inv, const S gd[3], S gmean[3]) {
  // d = r·inv with inv = (|r|²+eps)^(-1/2): ∂d_i/∂r_j = inv δ_ij − r_i r_j inv³ = inv (δ_ij − d_i d_j).
  const S dot = d[0] * gd[0] + d[1] * gd[1] + d[2] * gd[2];
  for (int i = 0; i < 3; ++i) gmean[i] += (gd[i] - d[i] * dot) * inv;
}

// Support of a Gaussian with opacity o and 2D covariance diagonal (a, c): pixels where o·e^power ≥ 1/255 and
// power ≥ −4.5, i.e. Mahalanobis² ≤ k2. Returns false when no pixel can pass (o < 1/255).
template <typename S>
FRESNEL_HD bool support_extent(S o, S a, S c, S& k2, S& ex, S& ey) {
  if (!(o >= S(rc::kMinAlpha))) return false;
  const S lim = S(-2 * rc::kMinPower), opa = S(2) * std::log(o / S(rc::kMinAlpha));
  k2 = opa < lim ? opa : lim;
  ex = std::sqrt(k2 * a);
  ey = std::sqrt(k2 * c);
  return true;
}

// Pixels [lo, hi) whose centres (x + 0.5) may lie within `ext` of `c`, with one pixel of margin so that
// rounding never drops a pixel the per-pixel test would accept.
template <typename S>
FRESNEL_HD void pixel_span(S c, S ext, int limit, int& lo, int& hi) {
  double a = double(c) - double(ext), b = double(c) + double(ext);
  a = a < -1e7 ? -1e7 : (a > 1e7 ? 1e7 : a);
  b = b < -1e7 ? -1e7 : (b > 1e7 ? 1e7 : b);
  lo = int(std::floor(a)) - 1;
  hi = int(std::ceil(b)) + 1;
  lo = lo < 0 ? 0 : lo;
  hi = hi > limit ? limit : hi;
}

}  // namespace fresnel::gmath
