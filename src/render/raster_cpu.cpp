// CPU rasterizer kernels: projection → tile binning → per-tile front-to-back compositing, and the exact
// backward pass. Tiles run in parallel (at::parallel_for); every tile writes only its own pixels and its
// own per-entry gradient slots, which are then summed per Gaussian in a fixed order, so results do not
// depend on the thread count.
#include "render/raster_cpu.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "render/constants.hpp"
#include "render/gaussian_math.hpp"

namespace fresnel::raster {
namespace {

namespace rc = fresnel::render_constants;
using gmath::CameraParams;
using gmath::ProjectionState;

constexpr int kTile = rc::kTileSize;
constexpr int kTilePixels = kTile * kTile;

// Projected per-Gaussian fields, one row of `proj` each (structure of arrays).
enum Field : int {
  kU = 0, kV, kConA, kConB, kConC, kOpacity, kDepth, kColR, kColG, kColB, kExtX, kExtY,
  kCos0, kCos1, kCos2, kSin0, kSin1, kSin2, kNumFields
};
// Per-entry gradient slots written by the backward tile kernel.
enum GradField : int { gU = 0, gV, gA, gB, gC, gO, gZ, gCol0, gCol1, gCol2, gPhi0, gPhi1, gPhi2, kNumGrads };

template <typename S>
CameraParams<S> camera_params(const Camera& cam) {
  CameraParams<S> p{};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) p.R[3 * i + j] = S(cam.world_to_camera[4 * i + j]);
    p.t[i] = S(cam.world_to_camera[4 * i + 3]);
  }
  p.fx = S(cam.fx);
  p.fy = S(cam.fy);
  p.cx = S(cam.cx);
  p.cy = S(cam.cy);
  p.near_plane = S(cam.near_plane);
  p.far_plane = S(cam.far_plane);
  const Vec3 c = cam.position();
  for (int i = 0; i < 3; ++i) p.pos[i] = S(c[i]);
  p.width = cam.width;
  p.height = cam.height;
  p.lim_x_lo = S((-rc::kGuardBand * cam.width - cam.cx) / cam.fx);
  p.lim_x_hi = S(((1 + rc::kGuardBand) * cam.width - cam.cx) / cam.fx);
  p.lim_y_lo = S((-rc::kGuardBand * cam.height - cam.cy) / cam.fy);
  p.lim_y_hi = S(((1 + rc::kGuardBand) * cam.height - cam.cy) / cam.fy);
  return p;
}

// Pixels [lo, hi) whose centres (x + 0.5) may lie within `ext` of `c`, with one pixel of margin so that
// rounding never drops a pixel the per-pixel test would accept.
template <typename S>
inline void pixel_span(S c, S ext, int limit, int& lo, int& hi) {
  const double a = std::min(std::max(double(c - ext), -1e7), 1e7);
  const double b = std::min(std::max(double(c + ext), -1e7), 1e7);
  lo = std::max(int(std::floor(a)) - 1, 0);
  hi = std::min(int(std::ceil(b)) + 1, limit);
}

int tiles_along(int pixels) { return (pixels + kTile - 1) / kTile; }

// ---------------------------------------------------------------------------------------------------
// Projection: every Gaussian independently (parallel over Gaussians).
template <typename S>
void project_all(const Inputs& in, const CameraParams<S>& cam, const Settings& s, S* proj, int64_t n) {
  const S* means = in.means.data_ptr<S>();
  const S* quats = in.quats.data_ptr<S>();
  const S* scales = in.scales.data_ptr<S>();
  const S* opac = in.opacities.data_ptr<S>();
  const S* cols = in.colors.data_ptr<S>();
  const S* phases = in.phases.defined() ? in.phases.data_ptr<S>() : nullptr;
  const bool sh = in.has_sh();
  const int64_t K = sh ? in.colors.size(1) : 1;
  const int k_used = (s.sh_degree + 1) * (s.sh_degree + 1);
  at::parallel_for(0, n, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      auto f = [&](int field) -> S& { return proj[field * n + i]; };
      f(kExtX) = S(-1);  // culled unless everything below succeeds
      ProjectionState<S> st;
      S u, v, conic[3], z;
      if (!gmath::project(cam, means + 3 * i, quats + 4 * i, scales + 3 * i, st, u, v, conic, z)) continue;
      const S o = opac[i];
      if (!(o >= S(rc::kMinAlpha))) continue;  // α ≤ o can never reach the threshold
      // Where o·e^power ≥ 1/255 and power ≥ −4.5: Mahalanobis² ≤ k2.
      const S k2 = std::min(S(-2 * rc::kMinPower), S(2) * std::log(o / S(rc::kMinAlpha)));
      const S ex = std::sqrt(k2 * st.a), ey = std::sqrt(k2 * st.c);
      int x0, x1, y0, y1;
      pixel_span(u, ex, cam.width, x0, x1);
      pixel_span(v, ey, cam.height, y0, y1);
      if (x0 >= x1 || y0 >= y1) continue;  // outside the image
      f(kU) = u;
      f(kV) = v;
      f(kConA) = conic[0];
      f(kConB) = conic[1];
      f(kConC) = conic[2];
      f(kOpacity) = o;
      f(kDepth) = z;
      if (sh) {
        S d[3], b[16];
        gmath::view_dir(cam, means + 3 * i, d);
        gmath::sh_basis(s.sh_degree, d, b);
        const S* c = cols + i * K * 3;
        for (int ch = 0; ch < 3; ++ch) {
          S acc = S(0.5);
          for (int k = 0; k < k_used; ++k) acc += b[k] * c[3 * k + ch];
          f(kColR + ch) = std::max(acc, S(0));
        }
      } else {
        for (int ch = 0; ch < 3; ++ch) f(kColR + ch) = cols[3 * i + ch];
      }
      if (phases)
        for (int ch = 0; ch < 3; ++ch) {
          f(kCos0 + ch) = std::cos(phases[3 * i + ch]);
          f(kSin0 + ch) = std::sin(phases[3 * i + ch]);
        }
      f(kExtY) = ey;
      f(kExtX) = ex;
    }
  });
}

// Tile binning: a Gaussian goes to every tile its pixel span touches; each tile's list is sorted by
// (depth, id). Counting and filling run in Gaussian order, sorting in parallel over tiles.
template <typename S>
void bin_tiles(const S* proj, int64_t n, int width, int height, torch::Tensor& offsets_out,
               torch::Tensor& entries_out) {
  const int tx = tiles_along(width), ty = tiles_along(height), ntiles = tx * ty;
  std::vector<int> rect(4 * n);
  std::vector<int64_t> counts(ntiles + 1, 0);
  for (int64_t i = 0; i < n; ++i) {
    int* r = &rect[4 * i];
    r[0] = r[1] = r[2] = r[3] = 0;
    if (!(proj[kExtX * n + i] >= S(0))) continue;
    int x0, x1, y0, y1;
    pixel_span(proj[kU * n + i], proj[kExtX * n + i], width, x0, x1);
    pixel_span(proj[kV * n + i], proj[kExtY * n + i], height, y0, y1);
    if (x0 >= x1 || y0 >= y1) continue;
    r[0] = x0 / kTile;
    r[1] = (x1 - 1) / kTile + 1;
    r[2] = y0 / kTile;
    r[3] = (y1 - 1) / kTile + 1;
    for (int y = r[2]; y < r[3]; ++y)
      for (int x = r[0]; x < r[1]; ++x) counts[y * tx + x + 1]++;
  }
  for (int t = 0; t < ntiles; ++t) counts[t + 1] += counts[t];
  offsets_out = torch::empty({ntiles + 1}, torch::kInt64);
  std::copy(counts.begin(), counts.end(), offsets_out.data_ptr<int64_t>());
  entries_out = torch::empty({counts[ntiles]}, torch::kInt32);
  int32_t* ent = entries_out.data_ptr<int32_t>();
  std::vector<int64_t> cursor(counts.begin(), counts.end() - 1);
  for (int64_t i = 0; i < n; ++i) {
    const int* r = &rect[4 * i];
    for (int y = r[2]; y < r[3]; ++y)
      for (int x = r[0]; x < r[1]; ++x) ent[cursor[y * tx + x]++] = int32_t(i);
  }
  const S* depth = proj + kDepth * n;
  at::parallel_for(0, ntiles, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t)
      std::sort(ent + counts[t], ent + counts[t + 1], [depth](int32_t a, int32_t c) {
        return depth[a] < depth[c] || (depth[a] == depth[c] && a < c);
      });
  });
}

template <typename S>
CameraState project_and_bin_typed(const Inputs& in, const Camera& camera, const Settings& s) {
  const auto cam = camera_params<S>(camera);
  const int64_t n = in.means.size(0);
  CameraState st;
  st.proj = torch::empty({kNumFields, n}, in.means.options());
  project_all<S>(in, cam, s, st.proj.data_ptr<S>(), n);
  bin_tiles<S>(st.proj.data_ptr<S>(), n, camera.width, camera.height, st.tile_offsets, st.entries);
  return st;
}

// Pixel bounds of tile t.
struct TileRect {
  int x0, x1, y0, y1;
};
inline TileRect tile_rect(int64_t t, int width, int height) {
  const int tx = tiles_along(width);
  const int x0 = int(t % tx) * kTile, y0 = int(t / tx) * kTile;
  return {x0, std::min(x0 + kTile, width), y0, std::min(y0 + kTile, height)};
}

// Exponent of Gaussian g at pixel centre (px, py); false when the pixel lies outside its 3σ ellipse
// or the power is positive through rounding (same tests as the reference twin).
template <typename S>
inline bool eval_power(S A, S B, S C, S dx, S dy, S& power) {
  power = S(-0.5) * (A * dx * dx + C * dy * dy) - B * dx * dy;
  return power <= S(0) && power >= S(rc::kMinPower);
}

// ---------------------------------------------------------------------------------------------------
// Forward compositing of one tile. Gaussians are visited in depth order and each touches only the
// pixels of its span inside the tile; per-pixel state lives in fixed-size arrays (no allocation).
template <typename S, bool kPhase>
void forward_tile(int64_t t, const S* proj, int64_t n, const int64_t* offsets, const int32_t* ent, int W, int H,
                  const Settings& s, S* rgb, S* alpha, S* dacc, S* finalT, int32_t* last_out, S* phasor) {
  const TileRect r = tile_rect(t, W, H);
  const int tw = r.x1 - r.x0, th = r.y1 - r.y0, npix = tw * th;
  S T[kTilePixels], acc[3][kTilePixels], dep[kTilePixels];
  S ur[3][kTilePixels], ui[3][kTilePixels];
  int32_t last[kTilePixels];
  bool done[kTilePixels];
  for (int p = 0; p < kTilePixels; ++p) {
    T[p] = S(1);
    dep[p] = S(0);
    last[p] = 0;
    done[p] = false;
    for (int c = 0; c < 3; ++c) {
      acc[c][p] = S(0);
      if (kPhase) ur[c][p] = ui[c][p] = S(0);
    }
  }
  int ndone = 0;
  const int64_t begin = offsets[t], end = offsets[t + 1];
  for (int64_t k = begin; k < end && ndone < npix; ++k) {
    const int64_t g = ent[k];
    const S u = proj[kU * n + g], v = proj[kV * n + g];
    int xs, xe, ys, ye;
    pixel_span(u, proj[kExtX * n + g], W, xs, xe);
    pixel_span(v, proj[kExtY * n + g], H, ys, ye);
    xs = std::max(xs, r.x0);
    xe = std::min(xe, r.x1);
    ys = std::max(ys, r.y0);
    ye = std::min(ye, r.y1);
    if (xs >= xe || ys >= ye) continue;
    const S A = proj[kConA * n + g], B = proj[kConB * n + g], C = proj[kConC * n + g];
    const S o = proj[kOpacity * n + g], z = proj[kDepth * n + g];
    const S col[3] = {proj[kColR * n + g], proj[kColG * n + g], proj[kColB * n + g]};
    S pc[3] = {0, 0, 0}, ps[3] = {0, 0, 0};
    if (kPhase)
      for (int c = 0; c < 3; ++c) {
        pc[c] = col[c] * proj[(kCos0 + c) * n + g];
        ps[c] = col[c] * proj[(kSin0 + c) * n + g];
      }
    const int32_t pos = int32_t(k - begin + 1);
    for (int y = ys; y < ye; ++y) {
      const S dy = v - (S(y) + S(0.5));
      int p = (y - r.y0) * kTile + (xs - r.x0);
      for (int x = xs; x < xe; ++x, ++p) {
        if (done[p]) continue;
        const S dx = u - (S(x) + S(0.5));
        S power;
        if (!eval_power(A, B, C, dx, dy, power)) continue;
        const S a = std::min(S(rc::kMaxAlpha), o * std::exp(power));
        if (a < S(rc::kMinAlpha)) continue;
        const S nextT = T[p] * (S(1) - a);
        if (nextT < S(rc::kMinTransmittance)) {
          done[p] = true;
          ++ndone;
          continue;
        }
        const S w = a * T[p];
        for (int c = 0; c < 3; ++c) acc[c][p] += w * col[c];
        if (kPhase)
          for (int c = 0; c < 3; ++c) {
            ur[c][p] += w * pc[c];
            ui[c][p] += w * ps[c];
          }
        dep[p] += w * z;
        T[p] = nextT;
        last[p] = pos;
      }
    }
  }
  const S amp = S(s.phase_amplitude), eps = S(rc::kPhaseEps);
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x) {
      const int p = (y - r.y0) * kTile + (x - r.x0);
      const int64_t pix = int64_t(y) * W + x;
      for (int c = 0; c < 3; ++c) {
        S val = acc[c][p];
        if (kPhase) {
          const S mag = std::sqrt(ur[c][p] * ur[c][p] + ui[c][p] * ui[c][p] + eps * eps) - eps;
          val = (S(1) - amp) * val + amp * mag;
          phasor[pix * 6 + c] = ur[c][p];
          phasor[pix * 6 + 3 + c] = ui[c][p];
        }
        rgb[pix * 3 + c] = val + T[p] * S(s.background[c]);
      }
      alpha[pix] = S(1) - T[p];
      dacc[pix] = dep[p];
      finalT[pix] = T[p];
      last_out[pix] = last[p];
    }
}

template <typename S>
ForwardOut forward_typed(const Inputs& in, const Camera& camera, const Settings& s) {
  ForwardOut out;
  out.state = project_and_bin_typed<S>(in, camera, s);
  const int W = camera.width, H = camera.height;
  const int64_t n = in.means.size(0);
  const auto opt = in.means.options();
  out.rgb = torch::empty({H, W, 3}, opt);
  out.alpha = torch::empty({H, W}, opt);
  out.depth_accum = torch::empty({H, W}, opt);
  CameraState& st = out.state;
  st.final_T = torch::empty({H, W}, opt);
  st.last = torch::empty({H, W}, torch::kInt32);
  const bool phase = s.mode == BlendMode::kPhase;
  if (phase) st.phasor = torch::empty({H, W, 6}, opt);
  const S* proj = st.proj.data_ptr<S>();
  const int64_t* off = st.tile_offsets.data_ptr<int64_t>();
  const int32_t* ent = st.entries.data_ptr<int32_t>();
  S* rgb = out.rgb.data_ptr<S>();
  S* al = out.alpha.data_ptr<S>();
  S* da = out.depth_accum.data_ptr<S>();
  S* fT = st.final_T.data_ptr<S>();
  int32_t* last = st.last.data_ptr<int32_t>();
  S* ph = phase ? st.phasor.data_ptr<S>() : nullptr;
  const int64_t ntiles = int64_t(tiles_along(W)) * tiles_along(H);
  at::parallel_for(0, ntiles, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      if (phase)
        forward_tile<S, true>(t, proj, n, off, ent, W, H, s, rgb, al, da, fT, last, ph);
      else
        forward_tile<S, false>(t, proj, n, off, ent, W, H, s, rgb, al, da, fT, last, ph);
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Backward of one tile: back to front, recovering T_i = T_{i+1}/(1−α_i), with 3DGS's running
// "colour behind" so each Gaussian's dL/dα costs O(1). Gradients of entry k go to slot k.
template <typename S, bool kPhase>
void backward_tile(int64_t t, const S* proj, int64_t n, const int64_t* offsets, const int32_t* ent, int W, int H,
                   const Settings& s, const S* finalT, const int32_t* last_in, const S* phasor, const S* g_rgb,
                   const S* g_alpha, const S* g_dacc, S* slots) {
  const TileRect r = tile_rect(t, W, H);
  S T[kTilePixels], Tfin[kTilePixels], rec[3][kTilePixels], recz[kTilePixels], last_a[kTilePixels];
  S last_c[3][kTilePixels], last_z[kTilePixels], gc[3][kTilePixels], gbg[kTilePixels], gz[kTilePixels];
  S rho_r[3][kTilePixels], rho_i[3][kTilePixels];
  int32_t last[kTilePixels];
  int32_t kmax = 0;
  const S eps = S(rc::kPhaseEps);
  for (int p = 0; p < kTilePixels; ++p) last[p] = 0;
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x) {
      const int p = (y - r.y0) * kTile + (x - r.x0);
      const int64_t pix = int64_t(y) * W + x;
      T[p] = Tfin[p] = finalT[pix];
      last[p] = last_in[pix];
      kmax = std::max(kmax, last[p]);
      recz[p] = last_a[p] = last_z[p] = S(0);
      S bgdot = 0;
      for (int c = 0; c < 3; ++c) {
        rec[c][p] = last_c[c][p] = S(0);
        gc[c][p] = g_rgb[pix * 3 + c];
        bgdot += S(s.background[c]) * gc[c][p];
        if (kPhase) {
          const S re = phasor[pix * 6 + c], im = phasor[pix * 6 + 3 + c];
          const S inv = S(1) / std::sqrt(re * re + im * im + eps * eps);
          rho_r[c][p] = re * inv;
          rho_i[c][p] = im * inv;
        }
      }
      gbg[p] = g_alpha[pix] - bgdot;  // dL/dα_i gets T_final/(1−α_i)·(dL/dalpha − bg·dL/drgb)
      gz[p] = g_dacc[pix];
    }
  const int64_t begin = offsets[t], end = offsets[t + 1];
  const S amp = S(s.phase_amplitude);
  for (int64_t k = begin + kmax; k < end; ++k)
    for (int f = 0; f < kNumGrads; ++f) slots[k * kNumGrads + f] = S(0);
  for (int64_t k = begin + kmax - 1; k >= begin; --k) {
    S* out = slots + k * kNumGrads;
    for (int f = 0; f < kNumGrads; ++f) out[f] = S(0);
    const int64_t g = ent[k];
    const S u = proj[kU * n + g], v = proj[kV * n + g];
    int xs, xe, ys, ye;
    pixel_span(u, proj[kExtX * n + g], W, xs, xe);
    pixel_span(v, proj[kExtY * n + g], H, ys, ye);
    xs = std::max(xs, r.x0);
    xe = std::min(xe, r.x1);
    ys = std::max(ys, r.y0);
    ye = std::min(ye, r.y1);
    if (xs >= xe || ys >= ye) continue;
    const S A = proj[kConA * n + g], B = proj[kConB * n + g], C = proj[kConC * n + g];
    const S o = proj[kOpacity * n + g], z = proj[kDepth * n + g];
    const S col[3] = {proj[kColR * n + g], proj[kColG * n + g], proj[kColB * n + g]};
    S cs[3] = {1, 1, 1}, sn[3] = {0, 0, 0};
    if (kPhase)
      for (int c = 0; c < 3; ++c) {
        cs[c] = proj[(kCos0 + c) * n + g];
        sn[c] = proj[(kSin0 + c) * n + g];
      }
    const int32_t pos = int32_t(k - begin);  // pixels with last > pos received this Gaussian
    S su = 0, sv = 0, sA = 0, sB = 0, sC = 0, so = 0, sz = 0, scol[3] = {0, 0, 0}, sphi[3] = {0, 0, 0};
    for (int y = ys; y < ye; ++y) {
      const S dy = v - (S(y) + S(0.5));
      int p = (y - r.y0) * kTile + (xs - r.x0);
      for (int x = xs; x < xe; ++x, ++p) {
        if (last[p] <= pos) continue;
        const S dx = u - (S(x) + S(0.5));
        S power;
        if (!eval_power(A, B, C, dx, dy, power)) continue;
        const S G = std::exp(power);
        const S raw = o * G;
        const S a = std::min(S(rc::kMaxAlpha), raw);
        if (a < S(rc::kMinAlpha)) continue;
        const S one_minus = S(1) - a;
        T[p] = T[p] / one_minus;  // transmittance in front of this Gaussian
        const S w = a * T[p];
        S dalpha = 0;
        for (int c = 0; c < 3; ++c) {
          S eff = col[c], fac = S(1);
          if (kPhase) {
            fac = (S(1) - amp) + amp * (rho_r[c][p] * cs[c] + rho_i[c][p] * sn[c]);
            eff = col[c] * fac;
            sphi[c] += amp * w * col[c] * (rho_i[c][p] * cs[c] - rho_r[c][p] * sn[c]) * gc[c][p];
          }
          scol[c] += w * fac * gc[c][p];
          rec[c][p] = last_a[p] * last_c[c][p] + (S(1) - last_a[p]) * rec[c][p];
          dalpha += (eff - rec[c][p]) * gc[c][p];
          last_c[c][p] = eff;
        }
        recz[p] = last_a[p] * last_z[p] + (S(1) - last_a[p]) * recz[p];
        dalpha += (z - recz[p]) * gz[p];
        dalpha *= T[p];
        dalpha += Tfin[p] / one_minus * gbg[p];
        last_z[p] = z;
        last_a[p] = a;
        sz += w * gz[p];
        if (raw > S(rc::kMaxAlpha)) continue;  // α clamped: no gradient to opacity or shape
        so += G * dalpha;
        const S gp = raw * dalpha;
        su += gp * (-A * dx - B * dy);
        sv += gp * (-C * dy - B * dx);
        sA += S(-0.5) * dx * dx * gp;
        sC += S(-0.5) * dy * dy * gp;
        sB += -dx * dy * gp;
      }
    }
    out[gU] = su;
    out[gV] = sv;
    out[gA] = sA;
    out[gB] = sB;
    out[gC] = sC;
    out[gO] = so;
    out[gZ] = sz;
    for (int c = 0; c < 3; ++c) {
      out[gCol0 + c] = scol[c];
      out[gPhi0 + c] = sphi[c];
    }
  }
}

// Sums per-entry slots into per-Gaussian rows in entry order (deterministic), then runs the projection
// and colour backward per Gaussian, adding into the gradient tensors.
template <typename S>
void finish_backward(const Inputs& in, const Camera& camera, const Settings& s, const CameraState& st,
                     const torch::Tensor& slots_t, bool has_depth_grad, Grads& g) {
  const auto cam = camera_params<S>(camera);
  const int64_t n = in.means.size(0);
  const int64_t E = st.entries.size(0);
  std::vector<S> per(n * kNumGrads, S(0));
  const S* slots = slots_t.data_ptr<S>();
  const int32_t* ent = st.entries.data_ptr<int32_t>();
  // Parallel over gradient fields: each field's sum runs over entries in the same order.
  at::parallel_for(0, kNumGrads, 1, [&](int64_t fb, int64_t fe) {
    for (int64_t f = fb; f < fe; ++f)
      for (int64_t k = 0; k < E; ++k) per[ent[k] * kNumGrads + f] += slots[k * kNumGrads + f];
  });
  const S* proj = st.proj.data_ptr<S>();
  const S* means = in.means.data_ptr<S>();
  const S* quats = in.quats.data_ptr<S>();
  const S* scales = in.scales.data_ptr<S>();
  const S* cols = in.colors.data_ptr<S>();
  S* gm = g.means.data_ptr<S>();
  S* gq = g.quats.data_ptr<S>();
  S* gs = g.scales.data_ptr<S>();
  S* go = g.opacities.data_ptr<S>();
  S* gcol = g.colors.data_ptr<S>();
  S* gph = g.phases.defined() ? g.phases.data_ptr<S>() : nullptr;
  const bool sh = in.has_sh();
  const int64_t K = sh ? in.colors.size(1) : 1;
  const int k_used = (s.sh_degree + 1) * (s.sh_degree + 1);
  at::parallel_for(0, n, 256, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (!(proj[kExtX * n + i] >= S(0))) continue;
      const S* pg = &per[i * kNumGrads];
      bool any = false;
      for (int f = 0; f < kNumGrads; ++f) any = any || pg[f] != S(0);
      if (!any) continue;
      ProjectionState<S> pst;
      S u, v, conic[3], z;
      gmath::project(cam, means + 3 * i, quats + 4 * i, scales + 3 * i, pst, u, v, conic, z);
      const S gconic[3] = {pg[gA], pg[gB], pg[gC]};
      S gmean[3] = {0, 0, 0}, gquat[4], gscale[3];
      gmath::project_backward(cam, quats + 4 * i, scales + 3 * i, pst, conic, pg[gU], pg[gV], gconic,
                              has_depth_grad ? pg[gZ] : S(0), gmean, gquat, gscale);
      go[i] += pg[gO];
      if (sh) {
        S d[3], b[16];
        const S inv = gmath::view_dir(cam, means + 3 * i, d);
        gmath::sh_basis(s.sh_degree, d, b);
        const S* c = cols + i * K * 3;
        S gb[16] = {0};
        for (int ch = 0; ch < 3; ++ch) {
          S raw = S(0.5);
          for (int k = 0; k < k_used; ++k) raw += b[k] * c[3 * k + ch];
          if (raw < S(0)) continue;  // colour clamped at 0
          const S gch = pg[gCol0 + ch];
          for (int k = 0; k < k_used; ++k) {
            gcol[(i * K + k) * 3 + ch] += b[k] * gch;
            gb[k] += c[3 * k + ch] * gch;
          }
        }
        S gd[3] = {0, 0, 0};
        gmath::sh_basis_backward(s.sh_degree, d, gb, gd);
        gmath::view_dir_backward(d, inv, gd, gmean);
      } else {
        for (int ch = 0; ch < 3; ++ch) gcol[3 * i + ch] += pg[gCol0 + ch];
      }
      if (gph)
        for (int ch = 0; ch < 3; ++ch) gph[3 * i + ch] += pg[gPhi0 + ch];
      for (int j = 0; j < 3; ++j) {
        gm[3 * i + j] += gmean[j];
        gs[3 * i + j] += gscale[j];
      }
      for (int j = 0; j < 4; ++j) gq[4 * i + j] += gquat[j];
    }
  });
}

template <typename S>
void backward_typed(const Inputs& in, const Camera& camera, const Settings& s, const CameraState& st,
                    const torch::Tensor& grad_rgb, const torch::Tensor& grad_alpha, const torch::Tensor& grad_dacc,
                    Grads& g) {
  const int W = camera.width, H = camera.height;
  const int64_t n = in.means.size(0);
  const int64_t E = st.entries.size(0);
  auto slots_t = torch::empty({E, kNumGrads}, in.means.options());
  const S* proj = st.proj.data_ptr<S>();
  const int64_t* off = st.tile_offsets.data_ptr<int64_t>();
  const int32_t* ent = st.entries.data_ptr<int32_t>();
  const S* fT = st.final_T.data_ptr<S>();
  const int32_t* last = st.last.data_ptr<int32_t>();
  const bool phase = s.mode == BlendMode::kPhase;
  const S* ph = phase ? st.phasor.data_ptr<S>() : nullptr;
  const S* gr = grad_rgb.data_ptr<S>();
  const S* ga = grad_alpha.data_ptr<S>();
  const S* gd = grad_dacc.data_ptr<S>();
  S* slots = slots_t.data_ptr<S>();
  const int64_t ntiles = int64_t(tiles_along(W)) * tiles_along(H);
  at::parallel_for(0, ntiles, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      if (phase)
        backward_tile<S, true>(t, proj, n, off, ent, W, H, s, fT, last, ph, gr, ga, gd, slots);
      else
        backward_tile<S, false>(t, proj, n, off, ent, W, H, s, fT, last, ph, gr, ga, gd, slots);
    }
  });
  finish_backward<S>(in, camera, s, st, slots_t, true, g);
}

// ---------------------------------------------------------------------------------------------------
// Wave-field (QSR) renderer: order-independent coherent sum, so no transmittance and no early stop.
template <typename S>
void wave_forward_tile(int64_t t, const S* proj, int64_t n, const int64_t* offsets, const int32_t* ent, int W,
                       int H, S* intensity, S* coverage, S* field) {
  const TileRect r = tile_rect(t, W, H);
  S ur[3][kTilePixels], ui[3][kTilePixels], cov[kTilePixels];
  for (int p = 0; p < kTilePixels; ++p) {
    cov[p] = S(0);
    for (int c = 0; c < 3; ++c) ur[c][p] = ui[c][p] = S(0);
  }
  for (int64_t k = offsets[t]; k < offsets[t + 1]; ++k) {
    const int64_t g = ent[k];
    const S u = proj[kU * n + g], v = proj[kV * n + g];
    int xs, xe, ys, ye;
    pixel_span(u, proj[kExtX * n + g], W, xs, xe);
    pixel_span(v, proj[kExtY * n + g], H, ys, ye);
    xs = std::max(xs, r.x0);
    xe = std::min(xe, r.x1);
    ys = std::max(ys, r.y0);
    ye = std::min(ye, r.y1);
    if (xs >= xe || ys >= ye) continue;
    const S A = proj[kConA * n + g], B = proj[kConB * n + g], C = proj[kConC * n + g];
    const S o = proj[kOpacity * n + g];
    S pc[3], ps[3];
    for (int c = 0; c < 3; ++c) {
      pc[c] = proj[(kColR + c) * n + g] * proj[(kCos0 + c) * n + g];
      ps[c] = proj[(kColR + c) * n + g] * proj[(kSin0 + c) * n + g];
    }
    for (int y = ys; y < ye; ++y) {
      const S dy = v - (S(y) + S(0.5));
      int p = (y - r.y0) * kTile + (xs - r.x0);
      for (int x = xs; x < xe; ++x, ++p) {
        const S dx = u - (S(x) + S(0.5));
        S power;
        if (!eval_power(A, B, C, dx, dy, power)) continue;
        const S amp = o * std::exp(power);
        if (amp < S(rc::kMinAlpha)) continue;
        cov[p] += amp;
        for (int c = 0; c < 3; ++c) {
          ur[c][p] += amp * pc[c];
          ui[c][p] += amp * ps[c];
        }
      }
    }
  }
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x) {
      const int p = (y - r.y0) * kTile + (x - r.x0);
      const int64_t pix = int64_t(y) * W + x;
      for (int c = 0; c < 3; ++c) {
        intensity[pix * 3 + c] = ur[c][p] * ur[c][p] + ui[c][p] * ui[c][p];
        field[pix * 6 + c] = ur[c][p];
        field[pix * 6 + 3 + c] = ui[c][p];
      }
      coverage[pix] = cov[p];
    }
}

template <typename S>
void wave_backward_tile(int64_t t, const S* proj, int64_t n, const int64_t* offsets, const int32_t* ent, int W,
                        int H, const S* field, const S* g_int, const S* g_cov, S* slots) {
  const TileRect r = tile_rect(t, W, H);
  S gr[3][kTilePixels], gi[3][kTilePixels], gcv[kTilePixels];
  for (int p = 0; p < kTilePixels; ++p) {
    gcv[p] = S(0);
    for (int c = 0; c < 3; ++c) gr[c][p] = gi[c][p] = S(0);
  }
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x) {
      const int p = (y - r.y0) * kTile + (x - r.x0);
      const int64_t pix = int64_t(y) * W + x;
      for (int c = 0; c < 3; ++c) {
        gr[c][p] = S(2) * field[pix * 6 + c] * g_int[pix * 3 + c];  // dI/dRe = 2 Re
        gi[c][p] = S(2) * field[pix * 6 + 3 + c] * g_int[pix * 3 + c];
      }
      gcv[p] = g_cov[pix];
    }
  for (int64_t k = offsets[t]; k < offsets[t + 1]; ++k) {
    S* out = slots + k * kNumGrads;
    for (int f = 0; f < kNumGrads; ++f) out[f] = S(0);
    const int64_t g = ent[k];
    const S u = proj[kU * n + g], v = proj[kV * n + g];
    int xs, xe, ys, ye;
    pixel_span(u, proj[kExtX * n + g], W, xs, xe);
    pixel_span(v, proj[kExtY * n + g], H, ys, ye);
    xs = std::max(xs, r.x0);
    xe = std::min(xe, r.x1);
    ys = std::max(ys, r.y0);
    ye = std::min(ye, r.y1);
    if (xs >= xe || ys >= ye) continue;
    const S A = proj[kConA * n + g], B = proj[kConB * n + g], C = proj[kConC * n + g];
    const S o = proj[kOpacity * n + g];
    S col[3], cs[3], sn[3];
    for (int c = 0; c < 3; ++c) {
      col[c] = proj[(kColR + c) * n + g];
      cs[c] = proj[(kCos0 + c) * n + g];
      sn[c] = proj[(kSin0 + c) * n + g];
    }
    S su = 0, sv = 0, sA = 0, sB = 0, sC = 0, so = 0, scol[3] = {0, 0, 0}, sphi[3] = {0, 0, 0};
    for (int y = ys; y < ye; ++y) {
      const S dy = v - (S(y) + S(0.5));
      int p = (y - r.y0) * kTile + (xs - r.x0);
      for (int x = xs; x < xe; ++x, ++p) {
        const S dx = u - (S(x) + S(0.5));
        S power;
        if (!eval_power(A, B, C, dx, dy, power)) continue;
        const S G = std::exp(power);
        const S amp = o * G;
        if (amp < S(rc::kMinAlpha)) continue;
        S gamp = gcv[p];
        for (int c = 0; c < 3; ++c) {
          const S proj_c = gr[c][p] * cs[c] + gi[c][p] * sn[c];
          gamp += col[c] * proj_c;
          scol[c] += amp * proj_c;
          sphi[c] += amp * col[c] * (gi[c][p] * cs[c] - gr[c][p] * sn[c]);
        }
        so += G * gamp;
        const S gp = amp * gamp;
        su += gp * (-A * dx - B * dy);
        sv += gp * (-C * dy - B * dx);
        sA += S(-0.5) * dx * dx * gp;
        sC += S(-0.5) * dy * dy * gp;
        sB += -dx * dy * gp;
      }
    }
    out[gU] = su;
    out[gV] = sv;
    out[gA] = sA;
    out[gB] = sB;
    out[gC] = sC;
    out[gO] = so;
    for (int c = 0; c < 3; ++c) {
      out[gCol0 + c] = scol[c];
      out[gPhi0 + c] = sphi[c];
    }
  }
}

template <typename S>
WaveOut wave_forward_typed(const Inputs& in, const Camera& camera, const Settings& s) {
  WaveOut out;
  out.state = project_and_bin_typed<S>(in, camera, s);
  const int W = camera.width, H = camera.height;
  const int64_t n = in.means.size(0);
  const auto opt = in.means.options();
  out.intensity = torch::empty({H, W, 3}, opt);
  out.coverage = torch::empty({H, W}, opt);
  out.field = torch::empty({H, W, 6}, opt);
  const S* proj = out.state.proj.data_ptr<S>();
  const int64_t* off = out.state.tile_offsets.data_ptr<int64_t>();
  const int32_t* ent = out.state.entries.data_ptr<int32_t>();
  S* I = out.intensity.data_ptr<S>();
  S* cv = out.coverage.data_ptr<S>();
  S* fl = out.field.data_ptr<S>();
  const int64_t ntiles = int64_t(tiles_along(W)) * tiles_along(H);
  at::parallel_for(0, ntiles, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) wave_forward_tile<S>(t, proj, n, off, ent, W, H, I, cv, fl);
  });
  return out;
}

template <typename S>
void wave_backward_typed(const Inputs& in, const Camera& camera, const Settings& s, const WaveOut& fwd,
                         const torch::Tensor& grad_int, const torch::Tensor& grad_cov, Grads& g) {
  const int W = camera.width, H = camera.height;
  const int64_t n = in.means.size(0);
  const CameraState& st = fwd.state;
  auto slots_t = torch::empty({st.entries.size(0), kNumGrads}, in.means.options());
  const S* proj = st.proj.data_ptr<S>();
  const int64_t* off = st.tile_offsets.data_ptr<int64_t>();
  const int32_t* ent = st.entries.data_ptr<int32_t>();
  const S* fl = fwd.field.data_ptr<S>();
  const S* gI = grad_int.data_ptr<S>();
  const S* gC = grad_cov.data_ptr<S>();
  S* slots = slots_t.data_ptr<S>();
  const int64_t ntiles = int64_t(tiles_along(W)) * tiles_along(H);
  at::parallel_for(0, ntiles, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) wave_backward_tile<S>(t, proj, n, off, ent, W, H, fl, gI, gC, slots);
  });
  finish_backward<S>(in, camera, s, st, slots_t, false, g);
}

}  // namespace

CameraState project_and_bin(const Inputs& in, const Camera& cam, const Settings& s) {
  CameraState st;
  AT_DISPATCH_FLOATING_TYPES(in.means.scalar_type(), "project_and_bin",
                             [&] { st = project_and_bin_typed<scalar_t>(in, cam, s); });
  return st;
}

ForwardOut forward(const Inputs& in, const Camera& cam, const Settings& s) {
  ForwardOut out;
  AT_DISPATCH_FLOATING_TYPES(in.means.scalar_type(), "raster_forward",
                             [&] { out = forward_typed<scalar_t>(in, cam, s); });
  return out;
}

void backward(const Inputs& in, const Camera& cam, const Settings& s, const CameraState& st,
              const torch::Tensor& grad_rgb, const torch::Tensor& grad_alpha, const torch::Tensor& grad_depth_accum,
              Grads& g) {
  AT_DISPATCH_FLOATING_TYPES(in.means.scalar_type(), "raster_backward", [&] {
    backward_typed<scalar_t>(in, cam, s, st, grad_rgb, grad_alpha, grad_depth_accum, g);
  });
}

WaveOut wave_forward(const Inputs& in, const Camera& cam, const Settings& s) {
  WaveOut out;
  AT_DISPATCH_FLOATING_TYPES(in.means.scalar_type(), "wave_forward",
                             [&] { out = wave_forward_typed<scalar_t>(in, cam, s); });
  return out;
}

void wave_backward(const Inputs& in, const Camera& cam, const Settings& s, const WaveOut& fwd,
                   const torch::Tensor& grad_intensity, const torch::Tensor& grad_coverage, Grads& g) {
  AT_DISPATCH_FLOATING_TYPES(in.means.scalar_type(), "wave_backward", [&] {
    wave_backward_typed<scalar_t>(in, cam, s, fwd, grad_intensity, grad_coverage, g);
  });
}

}  // namespace fresnel::raster
