// CPU rasterizer kernels: per-tile front-to-back compositing in SIMD lanes and its exact backward pass.
// Projection and binning are in raster_binning.cpp, the per-Gaussian end of the backward pass in
// raster_gradients.cpp. Tiles run in parallel; every tile writes only its own pixels and its own per-entry
// gradient slots, which are then summed per Gaussian in a fixed order, so results do not depend on the
// thread count.
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#include "render/tile_grid.hpp"

// The lane helpers and tile kernels are always inlined into their 128-bit or AVX2 callers, so the
// 32-byte vector calling convention GCC warns about is never used between functions.
#pragma GCC diagnostic ignored "-Wpsabi"
#include "render/lanes.hpp"

namespace fresnel::raster {
namespace {

namespace rc = fresnel::render_constants;

// The SIMD view of one tile that both kernels share: lane types, each column's pixel-centre x and index,
// and α over kW pixels of a row. The backward pass calls the same α code as the forward pass, so it replays
// exactly the forward's arithmetic and its skip decisions.
template <typename S, int kBytes>
struct TileLanes {
  using LS = lanes::Lanes<S, kBytes>;
  using V = typename LS::V;
  using M = typename LS::M;
  using I = typename LS::Int;
  static constexpr int kW = LS::kWidth;

  TileRect r;
  alignas(32) S centre_x[kTile];
  alignas(32) I column[kTile];

  TileLanes(int64_t t, int W, int H) : r(tile_rect(t, W, H)) {
    for (int i = 0; i < kTile; ++i) {
      centre_x[i] = S(r.x0 + i) + S(0.5);
      column[i] = I(i);
    }
  }
  // Lanes of the group starting at column gx that lie in columns [lo, hi).
  FRESNEL_LANES_INLINE M in_columns(int gx, int lo, int hi) const {
    const M c = lanes::load<M>(column + gx);
    return (c >= I(lo)) & (c < I(hi));
  }
};

// One entry's Gaussian as the tile kernels read it from its record.
template <typename S>
struct Splat {
  S u, v, A, B, C, o, z, col[3];
  explicit Splat(const S* f)
      : u(f[kU]),
        v(f[kV]),
        A(f[kConA]),
        B(f[kConB]),
        C(f[kConC]),
        o(f[kOpacity]),
        z(f[kDepth]),
        col{f[kColR], f[kColG], f[kColB]} {}
};

// α of splat g over one group of pixels (centre x `cx`, row offset dy = v − y_centre, cdy = C·dy²).
// eval() returns false when no lane of m lies inside the 3σ ellipse; otherwise m keeps the lanes whose
// α = min(0.99, o·G) reaches 1/255.
template <typename V, typename M>
struct GroupAlpha {
  V dx, G, raw, a;
  template <typename S>
  FRESNEL_LANES_INLINE bool eval(const Splat<S>& g, const V& cx, S dy, S cdy, M& m) {
    dx = g.u - cx;
    const V power = S(-0.5) * (g.A * dx * dx + cdy) - g.B * dx * dy;
    m &= (power <= S(0)) & (power >= S(rc::kMinPower));
    if (!lanes::any(m)) return false;
    G = lanes::exp_nonpos(power);
    raw = g.o * G;
    a = raw < S(rc::kMaxAlpha) ? raw : lanes::splat<V>(S(rc::kMaxAlpha));
    m &= a >= S(rc::kMinAlpha);
    return true;
  }
};

// ---------------------------------------------------------------------------------------------------
// Forward compositing of one tile. Gaussians are visited in depth order and each touches only the
// pixels of its bounding box inside the tile; per-pixel state lives in fixed-size arrays (no allocation).
// Pixels of a row run in SIMD lanes (lanes.hpp): each lane evaluates exactly the scalar expressions and
// masks replace the per-pixel branches, so every pixel's result is the same as a one-pixel-at-a-time loop.
template <typename S, bool kPhase, int kBytes>
FRESNEL_LANES_INLINE void forward_tile(int64_t t, TileLists<S> lists, const Settings& s, BlendImages<S> out) {
  using TL = TileLanes<S, kBytes>;
  using V = typename TL::V;
  using M = typename TL::M;
  using I = typename TL::I;
  using lanes::load;
  using lanes::store;
  const int W = lists.width, H = lists.height;
  const TL tl(t, W, H);
  const TileRect& r = tl.r;
  const int npix = (r.x1 - r.x0) * (r.y1 - r.y0);
  alignas(16) S T[kTilePixels], acc[3][kTilePixels], dep[kTilePixels];
  alignas(16) S ur[3][kTilePixels], ui[3][kTilePixels];
  alignas(16) I last[kTilePixels], done[kTilePixels];
  for (int p = 0; p < kTilePixels; ++p) {
    T[p] = S(1);
    dep[p] = S(0);
    last[p] = 0;
    done[p] = 0;
    for (int c = 0; c < 3; ++c) {
      acc[c][p] = S(0);
      if (kPhase) ur[c][p] = ui[c][p] = S(0);
    }
  }
  int ndone = 0;
  int row_done[kTile] = {0};  // finished pixels per row: full rows are skipped
  const int tw = r.x1 - r.x0;
  const int64_t begin = lists.offsets[t], end = lists.offsets[t + 1];
  for (int64_t k = begin; k < end && ndone < npix; ++k) {
    // Records of later entries are scattered in memory: fetch them ahead (the loop is latency-bound).
    if (k + kPrefetch < end) __builtin_prefetch(lists.record_of(k + kPrefetch));
    const S* f = lists.record_of(k);
    int ys, ye;
    if (!tile_rows(f, r, H, ys, ye)) continue;
    {
      // Skip the entry when every row it can touch has finished.
      bool open = false;
      for (int y = ys; y < ye && !open; ++y) open = row_done[y - r.y0] != tw;
      if (!open) continue;
    }
    int lo, hi;
    if (!tile_columns(f, r, W, lo, hi)) continue;
    const Splat<S> g(f);
    S pc[3] = {0, 0, 0}, ps[3] = {0, 0, 0};
    if (kPhase)
      for (int c = 0; c < 3; ++c) {
        pc[c] = g.col[c] * f[kCos0 + c];
        ps[c] = g.col[c] * f[kSin0 + c];
      }
    const M posm = lanes::splat<M>(I(k - begin + 1));
    for (int y = ys; y < ye; ++y) {
      if (row_done[y - r.y0] == tw) continue;
      const S dy = g.v - (S(y) + S(0.5));
      const S cdy = g.C * dy * dy;
      const int row = (y - r.y0) * kTile;
      for (int gx = lo & ~(TL::kW - 1); gx < hi; gx += TL::kW) {
        const int p = row + gx;
        const M dn = load<M>(done + p);
        M m = tl.in_columns(gx, lo, hi) & (dn == I(0));
        GroupAlpha<V, M> ga;
        if (!ga.eval(g, load<V>(tl.centre_x + gx), dy, cdy, m)) continue;
        const V a = ga.a;
        const V Tp = load<V>(T + p);
        const V nextT = Tp * (S(1) - a);
        const M stop = m & (nextT < S(rc::kMinTransmittance));
        if (lanes::any(stop)) {
          store(done + p, dn | stop);
          const int n = lanes::count(stop);
          ndone += n;
          row_done[y - r.y0] += n;
          m &= ~stop;
        }
        if (!lanes::any(m)) continue;
        // Weight 0 in masked lanes: adding an exact zero leaves those pixels' sums unchanged.
        const V w = m ? a * Tp : lanes::splat<V>(S(0));
        for (int c = 0; c < 3; ++c) {
          store(acc[c] + p, load<V>(acc[c] + p) + w * g.col[c]);
          if (kPhase) {
            store(ur[c] + p, load<V>(ur[c] + p) + w * pc[c]);
            store(ui[c] + p, load<V>(ui[c] + p) + w * ps[c]);
          }
        }
        store(dep + p, load<V>(dep + p) + w * g.z);
        store(T + p, m ? nextT : Tp);
        const M lp = load<M>(last + p);
        store(last + p, m ? posm : lp);
      }
    }
  }
  const S amp = S(s.phase_amplitude), eps = S(rc::kPhaseEps);
  for (TilePixels q(r, W); q.valid(); q.next()) {
    const int p = q.p;
    const int64_t pix = q.pix;
    for (int c = 0; c < 3; ++c) {
      S val = acc[c][p];
      if (kPhase) {
        const S mag = std::sqrt(ur[c][p] * ur[c][p] + ui[c][p] * ui[c][p] + eps * eps) - eps;
        val = (S(1) - amp) * val + amp * mag;
        out.phasor[pix * 6 + c] = ur[c][p];
        out.phasor[pix * 6 + 3 + c] = ui[c][p];
      }
      out.rgb[pix * 3 + c] = val + T[p] * S(s.background[c]);
    }
    out.alpha[pix] = S(1) - T[p];
    out.depth_accum[pix] = dep[p];
    out.final_T[pix] = T[p];
    out.last[pix] = int32_t(last[p]);
  }
}

// ---------------------------------------------------------------------------------------------------
// Backward of one tile: back to front, recovering T_i = T_{i+1}/(1−α_i), with 3DGS's running
// "colour behind" so each Gaussian's dL/dα costs O(1). Gradients of the tile's entry j go to its slot j.
// Pixels of a row run in SIMD lanes like the forward tile; each entry's sums are kept per lane and added
// lane by lane in a fixed order, so results never depend on the thread count.
template <typename S, bool kPhase, int kBytes>
FRESNEL_LANES_INLINE void backward_tile(int64_t t, TileLists<S> lists, const Settings& s, BlendGradInputs<S> in,
                                        GradientSlots<S> grads) {
  using TL = TileLanes<S, kBytes>;
  using V = typename TL::V;
  using M = typename TL::M;
  using I = typename TL::I;
  using lanes::load;
  using lanes::splat;
  using lanes::store;
  const int W = lists.width, H = lists.height;
  const TL tl(t, W, H);
  const TileRect& r = tl.r;
  // Per pixel: transmittance in front of the current entry, the colour and depth composited behind it
  // (normalised by that transmittance), the incoming gradients, and T_final·(dL/dα_pix − bg·dL/drgb).
  alignas(16) S T[kTilePixels], rec[3][kTilePixels], recz[kTilePixels];
  alignas(16) S gc[3][kTilePixels], gbg[kTilePixels], gz[kTilePixels];
  alignas(16) S rho_r[3][kTilePixels], rho_i[3][kTilePixels];
  alignas(16) I last[kTilePixels];
  const S eps = S(rc::kPhaseEps);
  // Pixels outside the image (partial tiles) keep last = 0 and neutral state, so no lane ever uses them.
  for (int p = 0; p < kTilePixels; ++p) {
    last[p] = 0;
    T[p] = S(1);
    recz[p] = gbg[p] = gz[p] = S(0);
    for (int c = 0; c < 3; ++c) {
      rec[c][p] = gc[c][p] = S(0);
      rho_r[c][p] = rho_i[c][p] = S(0);
    }
  }
  for (TilePixels q(r, W); q.valid(); q.next()) {
    const int p = q.p;
    const int64_t pix = q.pix;
    T[p] = in.final_T[pix];
    last[p] = in.last[pix];
    S bgdot = 0;
    for (int c = 0; c < 3; ++c) {
      gc[c][p] = in.grad_rgb[pix * 3 + c];
      bgdot += S(s.background[c]) * gc[c][p];
      if (kPhase) {
        const S re = in.phasor[pix * 6 + c], im = in.phasor[pix * 6 + 3 + c];
        const S inv = S(1) / std::sqrt(re * re + im * im + eps * eps);
        rho_r[c][p] = re * inv;
        rho_i[c][p] = im * inv;
      }
    }
    gbg[p] = T[p] * (in.grad_alpha[pix] - bgdot);  // dL/dα_i gets T_final/(1−α_i)·(dL/dalpha − bg·dL/drgb)
    gz[p] = in.grad_depth_accum[pix];
  }
  int32_t row_last[kTile] = {0};  // deepest contribution per row: rows past it are skipped
  for (TilePixels q(r, W); q.valid(); q.next())
    row_last[q.p / kTile] = std::max(row_last[q.p / kTile], int32_t(last[q.p]));
  const SlotLayout& L = *grads.layout;
  const int64_t begin = lists.offsets[t];
  const int64_t kmax = L.count[t], NV = L.total;
  S* out = grads.slots + L.offset[t];
  const S amp = S(s.phase_amplitude);
  const V zero = splat<V>(S(0)), one = splat<V>(S(1));
  for (int64_t j = kmax - 1; j >= 0; --j) {
    for (int f = 0; f < kNumGrads; ++f) out[f * NV + j] = S(0);
    if (j >= kPrefetch) __builtin_prefetch(lists.record_of(begin + j - kPrefetch));
    const S* f = lists.record_of(begin + j);
    int ys, ye;
    if (!tile_rows(f, r, H, ys, ye)) continue;
    {
      // Skip the entry when none of its rows has a pixel that received it.
      int32_t deepest = 0;
      for (int y = ys; y < ye; ++y) deepest = std::max(deepest, row_last[y - r.y0]);
      if (deepest <= int32_t(j)) continue;
    }
    int lo, hi;
    if (!tile_columns(f, r, W, lo, hi)) continue;
    const Splat<S> g(f);
    const S A = g.A, B = g.B, C = g.C, z = g.z;
    S cs[3] = {1, 1, 1}, sn[3] = {0, 0, 0};
    if (kPhase)
      for (int c = 0; c < 3; ++c) {
        cs[c] = f[kCos0 + c];
        sn[c] = f[kSin0 + c];
      }
    const int32_t pos = int32_t(j);  // pixels with last > pos received this Gaussian
    V su = zero, sv = zero, sA = zero, sB = zero, sC = zero, so = zero, sz = zero;
    V scol[3] = {zero, zero, zero}, sphi[3] = {zero, zero, zero};
    for (int y = ys; y < ye; ++y) {
      if (row_last[y - r.y0] <= pos) continue;
      const S dy = g.v - (S(y) + S(0.5));
      const S cdy = C * dy * dy;
      const int row = (y - r.y0) * kTile;
      for (int gx = lo & ~(TL::kW - 1); gx < hi; gx += TL::kW) {
        const int p = row + gx;
        M m = tl.in_columns(gx, lo, hi) & (load<M>(last + p) > I(pos));
        if (!lanes::any(m)) continue;
        GroupAlpha<V, M> ga;
        if (!ga.eval(g, load<V>(tl.centre_x + gx), dy, cdy, m) || !lanes::any(m)) continue;
        const V dx = ga.dx, G = ga.G, raw = ga.raw, a = ga.a;
        // T in front of this Gaussian is T behind it / (1 − α); "behind" sums are updated after dL/dα used them.
        const V inv_keep = S(1) / (S(1) - a);
        const V Tb = load<V>(T + p);
        const V Tp = Tb * inv_keep;
        store(T + p, m ? Tp : Tb);
        const V w = a * Tp;
        const V wm = m ? w : zero;  // masked lanes add exact zeros to the sums below
        const V keep = S(1) - a;
        V dalpha = zero;
        for (int c = 0; c < 3; ++c) {
          const V gpix = load<V>(gc[c] + p);
          V eff = splat<V>(g.col[c]), fac = one;
          if (kPhase) {
            const V rr = load<V>(rho_r[c] + p), ri = load<V>(rho_i[c] + p);
            fac = (S(1) - amp) + amp * (rr * cs[c] + ri * sn[c]);
            eff = g.col[c] * fac;
            sphi[c] += amp * wm * g.col[c] * (ri * cs[c] - rr * sn[c]) * gpix;
          }
          scol[c] += wm * fac * gpix;
          const V behind = load<V>(rec[c] + p);
          dalpha += (eff - behind) * gpix;
          store(rec[c] + p, m ? a * eff + keep * behind : behind);
        }
        const V behind_z = load<V>(recz + p);
        const V gzp = load<V>(gz + p);
        dalpha += (z - behind_z) * gzp;
        store(recz + p, m ? a * z + keep * behind_z : behind_z);
        dalpha *= Tp;
        dalpha += load<V>(gbg + p) * inv_keep;
        sz += wm * gzp;
        m &= raw <= S(rc::kMaxAlpha);  // α clamped: no gradient to opacity or shape
        const V dm = m ? dalpha : zero;
        so += G * dm;
        const V gp = raw * dm;
        add_shape_gradients(gp, dx, dy, A, B, C, su, sv, sA, sB, sC);
      }
    }
    using lanes::hsum;
    const S vals[kNumGrads] = {hsum(su),      hsum(sv),      hsum(sA),      hsum(sB),      hsum(sC),
                               hsum(so),      hsum(sz),      hsum(scol[0]), hsum(scol[1]), hsum(scol[2]),
                               hsum(sphi[0]), hsum(sphi[1]), hsum(sphi[2])};
    for (int q = 0; q < kNumGrads; ++q) out[q * NV + j] = vals[q];
  }
}

// The tile kernels compiled twice: 128-bit lanes (SSE2, any x86-64) and, on x86-64, 256-bit lanes in
// functions compiled for AVX2, picked at run time when the CPU has AVX2.
template <typename S, bool kPhase, typename... A>
void forward_tile_128(const A&... a) {
  forward_tile<S, kPhase, 16>(a...);
}
template <typename S, bool kPhase, typename... A>
void backward_tile_128(const A&... a) {
  backward_tile<S, kPhase, 16>(a...);
}
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FRESNEL_WIDE_LANES 1
template <typename S, bool kPhase, typename... A>
__attribute__((target("avx2"))) void forward_tile_256(const A&... a) {
  forward_tile<S, kPhase, 32>(a...);
}
template <typename S, bool kPhase, typename... A>
__attribute__((target("avx2"))) void backward_tile_256(const A&... a) {
  backward_tile<S, kPhase, 32>(a...);
}
#endif

std::atomic<bool> g_only_128{false};

bool wide_lanes() {
#if defined(FRESNEL_WIDE_LANES)
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  return has_avx2 && !g_only_128.load();
#else
  return false;
#endif
}

template <typename S, bool kPhase, typename... A>
void run_forward_tile(bool wide, const A&... a) {
#if defined(FRESNEL_WIDE_LANES)
  if (wide) return forward_tile_256<S, kPhase>(a...);
#endif
  forward_tile_128<S, kPhase>(a...);
}
template <typename S, bool kPhase, typename... A>
void run_backward_tile(bool wide, const A&... a) {
#if defined(FRESNEL_WIDE_LANES)
  if (wide) return backward_tile_256<S, kPhase>(a...);
#endif
  backward_tile_128<S, kPhase>(a...);
}

template <typename S>
ForwardOut forward_typed(const Inputs& in, const Camera& camera, const Settings& s) {
  ForwardOut out;
  out.state = project_and_bin(in, camera, s);
  const int W = camera.width, H = camera.height;
  const auto opt = in.means.options();
  out.rgb = torch::empty({H, W, 3}, opt);
  out.alpha = torch::empty({H, W}, opt);
  out.depth_accum = torch::empty({H, W}, opt);
  CameraState& st = out.state;
  st.final_T = torch::empty({H, W}, opt);
  st.last = torch::empty({H, W}, torch::kInt32);
  const bool phase = s.mode == BlendMode::kPhase;
  if (phase) st.phasor = torch::empty({H, W, 6}, opt);
  const TileLists<S> lists = tile_lists<S>(st, camera);
  const BlendImages<S> images = blend_images<S>(out, s);
  const int64_t ntiles = int64_t(tiles_along(W)) * tiles_along(H);
  const bool wide = wide_lanes();
  for_each_tile(tiles_by_cost(lists.offsets, ntiles), [&](int64_t t) {
    if (phase)
      run_forward_tile<S, true>(wide, t, lists, s, images);
    else
      run_forward_tile<S, false>(wide, t, lists, s, images);
  });
  return out;
}

template <typename S>
void backward_typed(const Inputs& in, const Camera& camera, const Settings& s, const CameraState& st,
                    const torch::Tensor& grad_rgb, const torch::Tensor& grad_alpha, const torch::Tensor& grad_dacc,
                    Grads& g) {
  const int W = camera.width, H = camera.height;
  const int64_t ntiles = int64_t(tiles_along(W)) * tiles_along(H);
  const int32_t* last = st.last.data_ptr<int32_t>();
  // A tile needs slots only up to the deepest entry any of its pixels used.
  std::vector<int64_t> kmax(ntiles, 0);
  at::parallel_for(0, ntiles, 16, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int32_t m = 0;
      for (TilePixels q(tile_rect(t, W, H), W); q.valid(); q.next()) m = std::max(m, last[q.pix]);
      kmax[t] = m;
    }
  });
  const SlotLayout L = make_layout(kmax);
  std::unique_ptr<S[]> slots = allocate_slots<S>(L);
  const TileLists<S> lists = tile_lists<S>(st, camera);
  const BlendGradInputs<S> inputs = blend_grad_inputs<S>(st, s, grad_rgb, grad_alpha, grad_dacc);
  const GradientSlots<S> grads{&L, slots.get()};
  const bool phase = s.mode == BlendMode::kPhase;
  const bool wide = wide_lanes();
  for_each_tile(tiles_heaviest_first(kmax), [&](int64_t t) {
    if (phase)
      run_backward_tile<S, true>(wide, t, lists, s, inputs, grads);
    else
      run_backward_tile<S, false>(wide, t, lists, s, inputs, grads);
  });
  finish_backward<S>(in, camera, s, st, L, slots.get(), true, g);
}

}  // namespace

void limit_lanes_to_128_bits(bool on) { g_only_128.store(on); }

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
}  // namespace fresnel::raster
