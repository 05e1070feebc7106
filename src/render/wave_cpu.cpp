// Wave-field (QSR) CPU kernels: the coherent sum U_c = Σ A·c_c·e^{iφ_c} per tile and its exact backward. The
// sum is order-free, so there is no transmittance and no early stop; pixels run one at a time (scalar).
#include <memory>
#include <vector>

#include "render/tile_grid.hpp"

namespace fresnel::raster {
namespace {

namespace rc = fresnel::render_constants;

// Exponent of a Gaussian at a pixel centre; false when the pixel lies outside its 3σ ellipse or the
// power is positive through rounding (same tests as the reference twin).
template <typename S>
inline bool eval_power(S A, S B, S C, S dx, S dy, S& power) {
  power = S(-0.5) * (A * dx * dx + C * dy * dy) - B * dx * dy;
  return power <= S(0) && power >= S(rc::kMinPower);
}

// Chords of one Gaussian's support ellipse (Mahalanobis² ≤ k2), row by row: the columns [x0, x1) ⊂ [xlo, xhi)
// of row offset dy = v − (y + 0.5) where the per-pixel test can pass. The constants are widened
// (k2·1.001 + 1e-3, det·0.999) and rounded in double once per (entry, tile), so the cheap per-row
// arithmetic in S never loses a pixel the per-pixel test would accept; extra columns only cost time.
// The scalar wave kernels use them: there every skipped pixel saves a full evaluation.
template <typename S>
struct RowChords {
  S ak2, det, inv_a, slope, centre0;
  explicit RowChords(const S* rec) {
    const double A = rec[kConA], B = rec[kConB], C = rec[kConC];
    const double k2 = double(rec[kK2]) * 1.001 + 1e-3;
    ak2 = S(A * k2);
    det = S(std::max(A * C - B * B, 0.0) * 0.999);
    inv_a = S(1.0 / A);
    slope = S(B / A);
    centre0 = S(double(rec[kU]) - 0.5);  // column index whose pixel centre is u
  }
  bool span(S dy, int xlo, int xhi, int& x0, int& x1) const {
    const S D = ak2 - dy * dy * det;
    if (!(D >= S(0))) return false;
    const S half = std::sqrt(D) * inv_a;
    const S c = centre0 + slope * dy;
    // Clamp near the tile so that the truncations below act as floor (arguments ≥ 4) and never overflow.
    const S lo = std::max(c - half, S(xlo - 4)), hi = std::min(c + half, S(xhi + 4));
    if (!(lo <= hi)) return false;
    x0 = std::max(xlo, int(lo + S(8)) - 9);  // ≤ floor(lo) − 1
    x1 = std::min(xhi, int(hi + S(8)) - 5);  // ≥ ceil(hi) + 2
    return x0 < x1;
  }
};

// Calls fn(p, dx, dy, G, amp) for every pixel p of tile r where record f's amplitude amp = o·G, G = e^power,
// counts (inside the 3σ ellipse and amp ≥ 1/255): the pixel walk both wave kernels share.
template <typename S, typename F>
void for_each_wave_pixel(const S* f, const TileRect& r, int H, F&& fn) {
  int ys, ye;
  if (!tile_rows(f, r, H, ys, ye)) return;
  const RowChords<S> chords(f);
  const S u = f[kU], v = f[kV], A = f[kConA], B = f[kConB], C = f[kConC], o = f[kOpacity];
  for (int y = ys; y < ye; ++y) {
    const S dy = v - (S(y) + S(0.5));
    int xs, xe;
    if (!chords.span(dy, r.x0, r.x1, xs, xe)) continue;
    int p = (y - r.y0) * kTile + (xs - r.x0);
    for (int x = xs; x < xe; ++x, ++p) {
      const S dx = u - (S(x) + S(0.5));
      S power;
      if (!eval_power(A, B, C, dx, dy, power)) continue;
      const S G = std::exp(power);
      const S amp = o * G;
      if (amp < S(rc::kMinAlpha)) continue;
      fn(p, dx, dy, G, amp);
    }
  }
}

// Per-pixel outputs of the wave field, and what its backward reads per pixel.
template <typename S>
struct WaveImages {
  S* intensity;  // (H,W,3)
  S* coverage;   // (H,W)
  S* field;      // (H,W,6)
};
template <typename S>
struct WaveGradInputs {
  const S* field;
  const S* grad_intensity;
  const S* grad_coverage;
};

template <typename S>
void wave_forward_tile(int64_t t, TileLists<S> lists, WaveImages<S> out) {
  const int W = lists.width, H = lists.height;
  const TileRect r = tile_rect(t, W, H);
  S ur[3][kTilePixels], ui[3][kTilePixels], cov[kTilePixels];
  for (int p = 0; p < kTilePixels; ++p) {
    cov[p] = S(0);
    for (int c = 0; c < 3; ++c) ur[c][p] = ui[c][p] = S(0);
  }
  const int64_t end = lists.offsets[t + 1];
  for (int64_t k = lists.offsets[t]; k < end; ++k) {
    if (k + kPrefetch < end) __builtin_prefetch(lists.record_of(k + kPrefetch));
    const S* f = lists.record_of(k);
    S pc[3], ps[3];
    for (int c = 0; c < 3; ++c) {
      pc[c] = f[kColR + c] * f[kCos0 + c];
      ps[c] = f[kColR + c] * f[kSin0 + c];
    }
    for_each_wave_pixel(f, r, H, [&](int p, S, S, S, S amp) {
      cov[p] += amp;
      for (int c = 0; c < 3; ++c) {
        ur[c][p] += amp * pc[c];
        ui[c][p] += amp * ps[c];
      }
    });
  }
  for (TilePixels q(r, W); q.valid(); q.next()) {
    const int p = q.p;
    const int64_t pix = q.pix;
    for (int c = 0; c < 3; ++c) {
      out.intensity[pix * 3 + c] = ur[c][p] * ur[c][p] + ui[c][p] * ui[c][p];
      out.field[pix * 6 + c] = ur[c][p];
      out.field[pix * 6 + 3 + c] = ui[c][p];
    }
    out.coverage[pix] = cov[p];
  }
}

template <typename S>
void wave_backward_tile(int64_t t, TileLists<S> lists, WaveGradInputs<S> in, GradientSlots<S> grads) {
  const int W = lists.width, H = lists.height;
  const TileRect r = tile_rect(t, W, H);
  S gr[3][kTilePixels], gi[3][kTilePixels], gcv[kTilePixels];
  for (int p = 0; p < kTilePixels; ++p) {
    gcv[p] = S(0);
    for (int c = 0; c < 3; ++c) gr[c][p] = gi[c][p] = S(0);
  }
  for (TilePixels q(r, W); q.valid(); q.next()) {
    const int p = q.p;
    const int64_t pix = q.pix;
    for (int c = 0; c < 3; ++c) {
      gr[c][p] = S(2) * in.field[pix * 6 + c] * in.grad_intensity[pix * 3 + c];  // dI/dRe = 2 Re
      gi[c][p] = S(2) * in.field[pix * 6 + 3 + c] * in.grad_intensity[pix * 3 + c];
    }
    gcv[p] = in.grad_coverage[pix];
  }
  const SlotLayout& L = *grads.layout;
  const int64_t begin = lists.offsets[t], V = L.total;
  S* out = grads.slots + L.offset[t];
  for (int64_t j = 0; j < L.count[t]; ++j) {
    for (int q = 0; q < kNumGrads; ++q) out[q * V + j] = S(0);
    if (j + kPrefetch < L.count[t]) __builtin_prefetch(lists.record_of(begin + j + kPrefetch));
    const S* f = lists.record_of(begin + j);
    const S A = f[kConA], B = f[kConB], C = f[kConC];
    S col[3], cs[3], sn[3];
    for (int c = 0; c < 3; ++c) {
      col[c] = f[kColR + c];
      cs[c] = f[kCos0 + c];
      sn[c] = f[kSin0 + c];
    }
    S su = 0, sv = 0, sA = 0, sB = 0, sC = 0, so = 0, scol[3] = {0, 0, 0}, sphi[3] = {0, 0, 0};
    for_each_wave_pixel(f, r, H, [&](int p, S dx, S dy, S G, S amp) {
      S gamp = gcv[p];
      for (int c = 0; c < 3; ++c) {
        const S proj_c = gr[c][p] * cs[c] + gi[c][p] * sn[c];
        gamp += col[c] * proj_c;
        scol[c] += amp * proj_c;
        sphi[c] += amp * col[c] * (gi[c][p] * cs[c] - gr[c][p] * sn[c]);
      }
      so += G * gamp;
      const S gp = amp * gamp;
      add_shape_gradients(gp, dx, dy, A, B, C, su, sv, sA, sB, sC);
    });
    const S vals[kNumGrads] = {su, sv, sA, sB, sC, so, S(0), scol[0], scol[1], scol[2], sphi[0], sphi[1], sphi[2]};
    for (int q = 0; q < kNumGrads; ++q) out[q * V + j] = vals[q];
  }
}

template <typename S>
WaveOut wave_forward_typed(const Inputs& in, const Camera& camera, const Settings& s) {
  WaveOut out;
  out.state = project_and_bin(in, camera, s);
  const int W = camera.width, H = camera.height;
  const auto opt = in.means.options();
  out.intensity = torch::empty({H, W, 3}, opt);
  out.coverage = torch::empty({H, W}, opt);
  out.field = torch::empty({H, W, 6}, opt);
  const TileLists<S> lists = tile_lists<S>(out.state, camera);
  const WaveImages<S> images{out.intensity.data_ptr<S>(), out.coverage.data_ptr<S>(), out.field.data_ptr<S>()};
  const int64_t ntiles = int64_t(tiles_along(W)) * tiles_along(H);
  for_each_tile(tiles_by_cost(lists.offsets, ntiles), [&](int64_t t) { wave_forward_tile<S>(t, lists, images); });
  return out;
}

template <typename S>
void wave_backward_typed(const Inputs& in, const Camera& camera, const Settings& s, const WaveOut& fwd,
                         const torch::Tensor& grad_int, const torch::Tensor& grad_cov, Grads& g) {
  const int W = camera.width, H = camera.height;
  const CameraState& st = fwd.state;
  const int64_t ntiles = int64_t(tiles_along(W)) * tiles_along(H);
  const TileLists<S> lists = tile_lists<S>(st, camera);
  const SlotLayout L = make_layout(list_lengths(lists.offsets, ntiles));
  std::unique_ptr<S[]> slots = allocate_slots<S>(L);
  const WaveGradInputs<S> inputs{fwd.field.data_ptr<S>(), grad_int.data_ptr<S>(), grad_cov.data_ptr<S>()};
  const GradientSlots<S> grads{&L, slots.get()};
  for_each_tile(tiles_heaviest_first(L.count), [&](int64_t t) { wave_backward_tile<S>(t, lists, inputs, grads); });
  finish_backward<S>(in, camera, s, st, L, slots.get(), false, g);
}

}  // namespace

WaveOut wave_forward(const Inputs& in, const Camera& cam, const Settings& s) {
  WaveOut out;
  AT_DISPATCH_FLOATING_TYPES(in.means.scalar_type(), "wave_forward",
                             [&] { out = wave_forward_typed<scalar_t>(in, cam, s); });
  return out;
}

void wave_backward(const Inputs& in, const Camera& cam, const Settings& s, const WaveOut& fwd,
                   const torch::Tensor& grad_intensity, const torch::Tensor& grad_coverage, Grads& g) {
  AT_DISPATCH_FLOATING_TYPES(in.means.scalar_type(), "wave_backward",
                             [&] { wave_backward_typed<scalar_t>(in, cam, s, fwd, grad_intensity, grad_coverage, g); });
}

}  // namespace fresnel::raster
