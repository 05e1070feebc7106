// CPU rasterizer kernels: projection → tile binning → per-tile front-to-back compositing, and the exact
// backward pass. Tiles run in parallel (at::parallel_for); every tile writes only its own pixels and its
// own per-entry gradient slots, which are then summed per Gaussian in a fixed order, so results do not
// depend on the thread count.
#include "render/raster_cpu.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <type_traits>
#include <vector>

#include "render/camera_params.hpp"
#include "render/constants.hpp"
#include "render/gaussian_math.hpp"

// The lane helpers and tile kernels are always inlined into their 128-bit or AVX2 callers, so the
// 32-byte vector calling convention GCC warns about is never used between functions.
#pragma GCC diagnostic ignored "-Wpsabi"
#include "render/lanes.hpp"
#include "render/raster_record.hpp"

namespace fresnel::raster {
namespace {

namespace rc = fresnel::render_constants;
using gmath::CameraParams;
using gmath::ProjectionState;

constexpr int kTile = rc::kTileSize;
constexpr int kTilePixels = kTile * kTile;
constexpr int64_t kPrefetch = 8;  // entries to fetch ahead in the tile loops


using gmath::pixel_span;

// Chords of one Gaussian's support ellipse (Mahalanobis² ≤ k2), row by row: the columns [x0, x1) ⊂ [xlo, xhi)
// of row offset dy = v − (y + 0.5) where the per-pixel test can pass. The constants are widened
// (k2·1.001 + 1e-3, det·0.999) and rounded in double once per (entry, tile), so the cheap per-row
// arithmetic in S never loses a pixel the per-pixel test would accept; extra columns only cost time.
// Used by the scalar wave-field kernels, where every skipped pixel saves a full evaluation.
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

int tiles_along(int pixels) { return (pixels + kTile - 1) / kTile; }

// Runs fn(t) for every tile with dynamic scheduling, heaviest tiles first. Each tile is computed by one
// thread start to finish, so results never depend on which thread ran it.
template <typename F>
void for_each_tile(const std::vector<int64_t>& tile_order, F&& fn) {
  std::atomic<int64_t> next{0};
  const int64_t n = int64_t(tile_order.size());
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n));
  at::parallel_for(0, workers, 1, [&](int64_t, int64_t) {
    for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(tile_order[i]);
  });
}

std::vector<int64_t> tiles_by_cost(const int64_t* offsets, int64_t ntiles) {
  std::vector<int64_t> order(ntiles);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return offsets[a + 1] - offsets[a] > offsets[b + 1] - offsets[b];
  });
  return order;
}

// ---------------------------------------------------------------------------------------------------
// Projection: every Gaussian independently (parallel over Gaussians) into an N×R scratch array.
template <typename S>
void project_all(const Inputs& in, const CameraParams<S>& cam, const Settings& s, S* recs, int R,
                 uint8_t* visible, int64_t n) {
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
      S* f = recs + i * R;
      visible[i] = 0;
      ProjectionState<S> st;
      S u, v, conic[3], z;
      if (!gmath::project(cam, means + 3 * i, quats + 4 * i, scales + 3 * i, st, u, v, conic, z)) continue;
      const S o = opac[i];
      S k2, ex, ey;
      if (!gmath::support_extent(o, st.a, st.c, k2, ex, ey)) continue;  // α ≤ o never reaches 1/255
      int x0, x1, y0, y1;
      pixel_span(u, ex, cam.width, x0, x1);
      pixel_span(v, ey, cam.height, y0, y1);
      if (x0 >= x1 || y0 >= y1) continue;  // outside the image
      f[kU] = u;
      f[kV] = v;
      f[kConA] = conic[0];
      f[kConB] = conic[1];
      f[kConC] = conic[2];
      f[kOpacity] = o;
      f[kDepth] = z;
      f[kExtX] = ex;
      f[kExtY] = ey;
      f[kK2] = k2;
      if (sh) {
        S d[3], b[16];
        gmath::view_dir(cam, means + 3 * i, d);
        gmath::sh_basis(s.sh_degree, d, b);
        const S* c = cols + i * K * 3;
        for (int ch = 0; ch < 3; ++ch) {
          S acc = S(0.5);
          for (int k = 0; k < k_used; ++k) acc += b[k] * c[3 * k + ch];
          f[kColR + ch] = std::max(acc, S(0));
        }
      } else {
        for (int ch = 0; ch < 3; ++ch) f[kColR + ch] = cols[3 * i + ch];
      }
      if (phases)
        for (int ch = 0; ch < 3; ++ch) {
          f[kCos0 + ch] = std::cos(phases[3 * i + ch]);
          f[kSin0 + ch] = std::sin(phases[3 * i + ch]);
        }
      visible[i] = 1;
    }
  });
}

// Sort key of a depth whose unsigned order is the numeric order (negative values have all bits flipped,
// others only the sign bit), so depths sort with a radix sort.
template <typename S>
inline auto depth_key(S z) {
  using U = std::conditional_t<sizeof(S) == 4, uint32_t, uint64_t>;
  U b;
  std::memcpy(&b, &z, sizeof b);
  const U sign = U(1) << (8 * sizeof(U) - 1);
  return (b & sign) ? U(~b) : U(b | sign);
}

// Ranks of the visible Gaussians by (depth, id): an LSD radix sort over the depth bits (stable, and ids
// enter in increasing order, so ties stay ordered by id).
template <typename S>
std::vector<int32_t> depth_order(const std::vector<S>& scratch, int R, const std::vector<uint8_t>& visible) {
  using U = decltype(depth_key(S(0)));
  std::vector<int32_t> ids, tmp_ids;
  std::vector<U> keys, tmp_keys;
  for (int64_t i = 0; i < int64_t(visible.size()); ++i)
    if (visible[i]) {
      ids.push_back(int32_t(i));
      keys.push_back(depth_key(scratch[size_t(i) * R + kDepth]));
    }
  const size_t m = ids.size();
  tmp_ids.resize(m);
  tmp_keys.resize(m);
  for (int shift = 0; shift < int(8 * sizeof(U)); shift += 8) {
    size_t count[257] = {0};
    for (size_t i = 0; i < m; ++i) count[((keys[i] >> shift) & 0xFF) + 1]++;
    if (count[((keys.empty() ? 0 : keys[0] >> shift) & 0xFF) + 1] == m) continue;  // all equal: pass is a no-op
    for (int d = 0; d < 256; ++d) count[d + 1] += count[d];
    for (size_t i = 0; i < m; ++i) {
      const size_t at = count[(keys[i] >> shift) & 0xFF]++;
      tmp_keys[at] = keys[i];
      tmp_ids[at] = ids[i];
    }
    keys.swap(tmp_keys);
    ids.swap(tmp_ids);
  }
  return ids;
}

// Tile columns [c0, c1) ⊂ [tx_lo, tx_hi) of a tile row that a Gaussian's support ellipse reaches: the
// x-extent of the ellipse inside the row's pixel band (exact for an ellipse, so tiles in the bounding box
// that the ellipse misses get no entry). Widened (k2·1.01 + 0.01 and one pixel each side) so that a tile
// holding a pixel the per-pixel test accepts is never dropped; dropping the others changes no result.
struct TileCover {
  bool exact = false;  // false for degenerate conics: keep the bounding box
  double u = 0, v = 0, B = 0, det = 0, k2a = 0, inv_a = 0, ymax = 0, xmax = 0, y_right = 0, y_left = 0;
  TileCover() = default;
  template <typename S>
  explicit TileCover(const S* f) {
    const double A = f[kConA], C = f[kConC];
    B = f[kConB];
    det = A * C - B * B;
    if (!(det > 0) || !(A > 0) || !(C > 0)) return;
    exact = true;
    const double k2 = double(f[kK2]) * 1.01 + 0.01;
    u = f[kU];
    v = f[kV];
    // In X = x − u, Y = y − v the support is A X² + 2B X Y + C Y² ≤ k2.
    k2a = k2 * A;
    inv_a = 1.0 / A;
    ymax = std::sqrt(k2a / det);
    xmax = std::sqrt(k2 * C / det);
    y_right = -B * xmax / C;  // Y of the rightmost point; the leftmost is at −y_right
    y_left = -y_right;
  }
  // Right end of the chord at Y is concave in Y, the left end convex: each extreme over a band lies at the
  // ellipse's extreme point when that is inside the band, else at the nearer band edge.
  double chord_end(double Y, double side) const {
    return (-B * Y + side * std::sqrt(std::max(k2a - det * Y * Y, 0.0))) * inv_a;
  }
  void columns(int ty, int H, int tx_lo, int tx_hi, int& c0, int& c1) const {
    c0 = tx_lo;
    c1 = tx_hi;
    if (!exact) return;
    const double b0 = std::max(double(ty) * kTile - v, -ymax);
    const double b1 = std::min(std::min(double(ty + 1) * kTile, double(H)) - v, ymax);
    if (!(b0 <= b1)) {
      c1 = c0;  // the band misses the ellipse
      return;
    }
    const double hi = (y_right >= b0 && y_right <= b1) ? xmax : chord_end(y_right < b0 ? b0 : b1, 1.0);
    const double lo = (y_left >= b0 && y_left <= b1) ? -xmax : chord_end(y_left < b0 ? b0 : b1, -1.0);
    const double xl = std::max(u + lo - 1, -1e7), xr = std::min(u + hi + 1, 1e7);
    // floor(a) as a truncation of a positive number (a ≥ −1e7/16).
    c0 = std::max(tx_lo, int(xl / kTile + 1e6) - 1000000);
    c1 = std::min(tx_hi, int(xr / kTile + 1e6) - 1000000 + 1);
  }
};

// Projection, global depth sort of the visible Gaussians (ties by id) and tile binning. Binning walks the
// Gaussians in depth order, so every tile's list comes out sorted by (depth, id) without per-tile sorts.
// It runs on a fixed number of rank chunks (independent of the thread count): each chunk counts its
// entries per tile, and chunk c writes after chunks 0..c−1 in every tile, which keeps the rank order.
template <typename S>
CameraState project_and_bin_typed(const Inputs& in, const Camera& camera, const Settings& s) {
  const auto cam = camera_params<S>(camera);
  const int64_t n = in.means.size(0);
  const int R = record_width(in.phases.defined());
  std::vector<S> scratch(size_t(n) * R);
  std::vector<uint8_t> visible(n);
  project_all<S>(in, cam, s, scratch.data(), R, visible.data(), n);
  const std::vector<int32_t> ranked = depth_order(scratch, R, visible);
  const int64_t M = int64_t(ranked.size());
  CameraState st;
  st.order = torch::empty({M}, torch::kInt32);
  st.records = torch::empty({M, R}, in.means.options());
  int32_t* order = st.order.data_ptr<int32_t>();
  S* rec = st.records.data_ptr<S>();
  at::parallel_for(0, M, 4096, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      order[r] = ranked[r];
      std::copy_n(&scratch[size_t(ranked[r]) * R], R, rec + r * R);
    }
  });
  const int W = camera.width, H = camera.height;
  const int tx = tiles_along(W), ty = tiles_along(H), ntiles = tx * ty;
  // Bounding boxes in tiles, then the tile columns of every (Gaussian, tile row), computed once and kept
  // for both the counting and the writing pass.
  std::vector<std::array<int16_t, 4>> box(M);  // tile columns [0,1), tile rows [2,3)
  std::vector<int64_t> row_base(M + 1, 0);
  at::parallel_for(0, M, 4096, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const S* f = rec + r * R;
      int x0, x1, y0, y1;
      pixel_span(f[kU], f[kExtX], W, x0, x1);
      pixel_span(f[kV], f[kExtY], H, y0, y1);
      box[r] = {int16_t(x0 / kTile), int16_t((x1 - 1) / kTile + 1), int16_t(y0 / kTile), int16_t((y1 - 1) / kTile + 1)};
      row_base[r + 1] = box[r][3] - box[r][2];
    }
  });
  for (int64_t r = 0; r < M; ++r) row_base[r + 1] += row_base[r];
  std::vector<std::array<int16_t, 2>> cols(row_base[M]);
  constexpr int64_t kChunks = 32;
  const int64_t chunk = (M + kChunks - 1) / kChunks;
  std::vector<int64_t> cursor(size_t(kChunks) * ntiles, 0);  // per chunk: count, then write position
  at::parallel_for(0, kChunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      int64_t* cnt = &cursor[size_t(c) * ntiles];
      for (int64_t r = c * chunk; r < std::min(M, (c + 1) * chunk); ++r) {
        const auto& q = box[r];
        // One tile column or row: the box is already tight.
        const bool tight = q[1] - q[0] <= 1 || q[3] - q[2] <= 1;
        const TileCover cover = tight ? TileCover() : TileCover(rec + r * R);
        for (int y = q[2]; y < q[3]; ++y) {
          int c0 = q[0], c1 = q[1];
          if (!tight) cover.columns(y, H, q[0], q[1], c0, c1);
          cols[row_base[r] + y - q[2]] = {int16_t(c0), int16_t(c1)};
          for (int x = c0; x < c1; ++x) cnt[y * tx + x]++;
        }
      }
    }
  });
  st.tile_offsets = torch::empty({ntiles + 1}, torch::kInt64);
  int64_t* off = st.tile_offsets.data_ptr<int64_t>();
  int64_t total = 0;
  for (int t = 0; t < ntiles; ++t) {
    off[t] = total;
    for (int64_t c = 0; c < kChunks; ++c) {
      const int64_t k = cursor[size_t(c) * ntiles + t];
      cursor[size_t(c) * ntiles + t] = total;
      total += k;
    }
  }
  off[ntiles] = total;
  st.entries = torch::empty({total}, torch::kInt32);
  int32_t* ent = st.entries.data_ptr<int32_t>();
  at::parallel_for(0, kChunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      int64_t* pos = &cursor[size_t(c) * ntiles];
      for (int64_t r = c * chunk; r < std::min(M, (c + 1) * chunk); ++r)
        for (int y = box[r][2]; y < box[r][3]; ++y) {
          const auto& span = cols[row_base[r] + y - box[r][2]];
          for (int x = span[0]; x < span[1]; ++x) ent[pos[y * tx + x]++] = int32_t(r);
        }
    }
  });
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

// Exponent of a Gaussian at a pixel centre; false when the pixel lies outside its 3σ ellipse or the
// power is positive through rounding (same tests as the reference twin).
template <typename S>
inline bool eval_power(S A, S B, S C, S dx, S dy, S& power) {
  power = S(-0.5) * (A * dx * dx + C * dy * dy) - B * dx * dy;
  return power <= S(0) && power >= S(rc::kMinPower);
}

// Rows of tile r that Gaussian record f can touch.
template <typename S>
inline bool tile_rows(const S* f, const TileRect& r, int H, int& ys, int& ye) {
  pixel_span(f[kV], f[kExtY], H, ys, ye);
  ys = std::max(ys, r.y0);
  ye = std::min(ye, r.y1);
  return ys < ye;
}

// Columns [lo, hi) of tile r, relative to its left edge, that Gaussian record f can touch (its bounding box).
// The SIMD kernels use the box for every row: per-row ellipse chords cost more than the few pixel groups
// they would skip, since the per-pixel 3σ test masks those pixels anyway.
template <typename S>
inline bool tile_columns(const S* f, const TileRect& r, int W, int& lo, int& hi) {
  pixel_span(f[kU], f[kExtX], W, lo, hi);
  lo = std::max(lo, r.x0) - r.x0;
  hi = std::min(hi, r.x1) - r.x0;
  return lo < hi;
}

// ---------------------------------------------------------------------------------------------------
// Forward compositing of one tile. Gaussians are visited in depth order and each touches only the
// pixels of its bounding box inside the tile; per-pixel state lives in fixed-size arrays (no allocation).
// Pixels of a row run in SIMD lanes (lanes.hpp): each lane evaluates exactly the scalar expressions and
// masks replace the per-pixel branches, so every pixel's result is the same as a one-pixel-at-a-time loop.
template <typename S, bool kPhase, int kBytes>
FRESNEL_LANES_INLINE void forward_tile(int64_t t, const S* recs, int R, const int64_t* offsets, const int32_t* ent, int W, int H,
                  const Settings& s, S* rgb, S* alpha, S* dacc, S* finalT, int32_t* last_out, S* phasor) {
  using LS = lanes::Lanes<S, kBytes>;
  using V = typename LS::V;
  using M = typename LS::M;
  using I = typename LS::Int;
  constexpr int kW = LS::kWidth;
  using lanes::load;
  using lanes::splat;
  using lanes::store;
  const TileRect r = tile_rect(t, W, H);
  const int npix = (r.x1 - r.x0) * (r.y1 - r.y0);
  alignas(16) S T[kTilePixels], acc[3][kTilePixels], dep[kTilePixels];
  alignas(16) S ur[3][kTilePixels], ui[3][kTilePixels];
  alignas(16) I last[kTilePixels], done[kTilePixels];
  alignas(16) S centre_x[kTile];  // pixel-centre x of each tile column
  alignas(16) I column[kTile];
  for (int i = 0; i < kTile; ++i) {
    centre_x[i] = S(r.x0 + i) + S(0.5);
    column[i] = I(i);
  }
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
  const int64_t begin = offsets[t], end = offsets[t + 1];
  const V max_alpha = splat<V>(S(rc::kMaxAlpha));
  for (int64_t k = begin; k < end && ndone < npix; ++k) {
    // Records of later entries are scattered in memory: fetch them ahead (the loop is latency-bound).
    if (k + kPrefetch < end) __builtin_prefetch(recs + int64_t(ent[k + kPrefetch]) * R);
    const S* f = recs + int64_t(ent[k]) * R;
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
    const S u = f[kU], v = f[kV], A = f[kConA], B = f[kConB], C = f[kConC], o = f[kOpacity], z = f[kDepth];
    const S col[3] = {f[kColR], f[kColG], f[kColB]};
    S pc[3] = {0, 0, 0}, ps[3] = {0, 0, 0};
    if (kPhase)
      for (int c = 0; c < 3; ++c) {
        pc[c] = col[c] * f[kCos0 + c];
        ps[c] = col[c] * f[kSin0 + c];
      }
    const M posm = splat<M>(I(k - begin + 1));
    for (int y = ys; y < ye; ++y) {
      if (row_done[y - r.y0] == tw) continue;
      const S dy = v - (S(y) + S(0.5));
      const S cdy = C * dy * dy;
      const int row = (y - r.y0) * kTile;
      for (int gx = lo & ~(kW - 1); gx < hi; gx += kW) {
        const int p = row + gx;
        const M colx = load<M>(column + gx);
        const M dn = load<M>(done + p);
        M m = (colx >= I(lo)) & (colx < I(hi)) & (dn == I(0));
        const V dx = u - load<V>(centre_x + gx);
        const V power = S(-0.5) * (A * dx * dx + cdy) - B * dx * dy;
        m &= (power <= S(0)) & (power >= S(rc::kMinPower));
        if (!lanes::any(m)) continue;
        const V raw = o * lanes::exp_nonpos(power);
        const V a = raw < max_alpha ? raw : max_alpha;  // std::min(kMaxAlpha, raw)
        m &= a >= S(rc::kMinAlpha);
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
        const V w = m ? a * Tp : splat<V>(S(0));
        for (int c = 0; c < 3; ++c) {
          store(acc[c] + p, load<V>(acc[c] + p) + w * col[c]);
          if (kPhase) {
            store(ur[c] + p, load<V>(ur[c] + p) + w * pc[c]);
            store(ui[c] + p, load<V>(ui[c] + p) + w * ps[c]);
          }
        }
        store(dep + p, load<V>(dep + p) + w * z);
        store(T + p, m ? nextT : Tp);
        const M lp = load<M>(last + p);
        store(last + p, m ? posm : lp);
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
      last_out[pix] = int32_t(last[p]);
    }
}

// Gradient slots: tile t owns `count[t]` consecutive slots starting at slot_offsets[t] (one per entry it
// may have touched), stored field-major: slots[f * V + slot].
struct SlotLayout {
  std::vector<int64_t> count, offset;
  int64_t total = 0;
};

// ---------------------------------------------------------------------------------------------------
// Backward of one tile: back to front, recovering T_i = T_{i+1}/(1−α_i), with 3DGS's running
// "colour behind" so each Gaussian's dL/dα costs O(1). Gradients of the tile's entry j go to its slot j.
// Pixels of a row run in SIMD lanes like the forward tile; each entry's sums are kept per lane and added
// lane by lane in a fixed order, so results never depend on the thread count.
template <typename S, bool kPhase, int kBytes>
FRESNEL_LANES_INLINE void backward_tile(int64_t t, const S* recs, int R, const int64_t* offsets, const int32_t* ent, int W, int H,
                   const Settings& s, const S* finalT, const int32_t* last_in, const S* phasor, const S* g_rgb,
                   const S* g_alpha, const S* g_dacc, const SlotLayout& L, S* slots) {
  using LS = lanes::Lanes<S, kBytes>;
  using V = typename LS::V;
  using M = typename LS::M;
  using I = typename LS::Int;
  constexpr int kW = LS::kWidth;
  using lanes::load;
  using lanes::splat;
  using lanes::store;
  const TileRect r = tile_rect(t, W, H);
  // Per pixel: transmittance in front of the current entry, the colour and depth composited behind it
  // (normalised by that transmittance), the incoming gradients, and T_final·(dL/dα_pix − bg·dL/drgb).
  alignas(16) S T[kTilePixels], rec[3][kTilePixels], recz[kTilePixels];
  alignas(16) S gc[3][kTilePixels], gbg[kTilePixels], gz[kTilePixels];
  alignas(16) S rho_r[3][kTilePixels], rho_i[3][kTilePixels];
  alignas(16) I last[kTilePixels];
  alignas(16) S centre_x[kTile];
  alignas(16) I column[kTile];
  for (int i = 0; i < kTile; ++i) {
    centre_x[i] = S(r.x0 + i) + S(0.5);
    column[i] = I(i);
  }
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
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x) {
      const int p = (y - r.y0) * kTile + (x - r.x0);
      const int64_t pix = int64_t(y) * W + x;
      T[p] = finalT[pix];
      last[p] = last_in[pix];
      S bgdot = 0;
      for (int c = 0; c < 3; ++c) {
        gc[c][p] = g_rgb[pix * 3 + c];
        bgdot += S(s.background[c]) * gc[c][p];
        if (kPhase) {
          const S re = phasor[pix * 6 + c], im = phasor[pix * 6 + 3 + c];
          const S inv = S(1) / std::sqrt(re * re + im * im + eps * eps);
          rho_r[c][p] = re * inv;
          rho_i[c][p] = im * inv;
        }
      }
      gbg[p] = T[p] * (g_alpha[pix] - bgdot);  // dL/dα_i gets T_final/(1−α_i)·(dL/dalpha − bg·dL/drgb)
      gz[p] = g_dacc[pix];
    }
  int32_t row_last[kTile] = {0};  // deepest contribution per row: rows past it are skipped
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x)
      row_last[y - r.y0] = std::max(row_last[y - r.y0], int32_t(last[(y - r.y0) * kTile + x - r.x0]));
  const int64_t begin = offsets[t];
  const int64_t kmax = L.count[t], NV = L.total;
  S* out = slots + L.offset[t];
  const S amp = S(s.phase_amplitude);
  const V zero = splat<V>(S(0)), one = splat<V>(S(1)), max_alpha = splat<V>(S(rc::kMaxAlpha));
  for (int64_t j = kmax - 1; j >= 0; --j) {
    for (int f = 0; f < kNumGrads; ++f) out[f * NV + j] = S(0);
    if (j >= kPrefetch) __builtin_prefetch(recs + int64_t(ent[begin + j - kPrefetch]) * R);
    const S* f = recs + int64_t(ent[begin + j]) * R;
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
    const S u = f[kU], v = f[kV], A = f[kConA], B = f[kConB], C = f[kConC], o = f[kOpacity], z = f[kDepth];
    const S col[3] = {f[kColR], f[kColG], f[kColB]};
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
      const S dy = v - (S(y) + S(0.5));
      const S cdy = C * dy * dy;
      const int row = (y - r.y0) * kTile;
      for (int gx = lo & ~(kW - 1); gx < hi; gx += kW) {
        const int p = row + gx;
        const M colx = load<M>(column + gx);
        M m = (colx >= I(lo)) & (colx < I(hi)) & (load<M>(last + p) > I(pos));
        if (!lanes::any(m)) continue;
        const V dx = u - load<V>(centre_x + gx);
        const V power = S(-0.5) * (A * dx * dx + cdy) - B * dx * dy;
        m &= (power <= S(0)) & (power >= S(rc::kMinPower));
        if (!lanes::any(m)) continue;
        const V G = lanes::exp_nonpos(power);
        const V raw = o * G;
        const V a = raw < max_alpha ? raw : max_alpha;
        m &= a >= S(rc::kMinAlpha);
        if (!lanes::any(m)) continue;
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
          const V g = load<V>(gc[c] + p);
          V eff = splat<V>(col[c]), fac = one;
          if (kPhase) {
            const V rr = load<V>(rho_r[c] + p), ri = load<V>(rho_i[c] + p);
            fac = (S(1) - amp) + amp * (rr * cs[c] + ri * sn[c]);
            eff = col[c] * fac;
            sphi[c] += amp * wm * col[c] * (ri * cs[c] - rr * sn[c]) * g;
          }
          scol[c] += wm * fac * g;
          const V behind = load<V>(rec[c] + p);
          dalpha += (eff - behind) * g;
          store(rec[c] + p, m ? a * eff + keep * behind : behind);
        }
        const V behind_z = load<V>(recz + p);
        const V gzp = load<V>(gz + p);
        dalpha += (z - behind_z) * gzp;
        store(recz + p, m ? a * z + keep * behind_z : behind_z);
        dalpha *= Tp;
        dalpha += load<V>(gbg + p) * inv_keep;
        sz += wm * gzp;
        m &= raw <= max_alpha;  // α clamped: no gradient to opacity or shape
        const V dm = m ? dalpha : zero;
        so += G * dm;
        const V gp = raw * dm;
        su += gp * (-A * dx - B * dy);
        sv += gp * (-C * dy - B * dx);
        sA += S(-0.5) * dx * dx * gp;
        sC += S(-0.5) * dy * dy * gp;
        sB += -dx * dy * gp;
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
  out.state = project_and_bin_typed<S>(in, camera, s);
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
  const S* recs = st.records.data_ptr<S>();
  const int R = int(st.records.size(1));
  const int64_t* off = st.tile_offsets.data_ptr<int64_t>();
  const int32_t* ent = st.entries.data_ptr<int32_t>();
  S* rgb = out.rgb.data_ptr<S>();
  S* al = out.alpha.data_ptr<S>();
  S* da = out.depth_accum.data_ptr<S>();
  S* fT = st.final_T.data_ptr<S>();
  int32_t* last = st.last.data_ptr<int32_t>();
  S* ph = phase ? st.phasor.data_ptr<S>() : nullptr;
  const int64_t ntiles = int64_t(tiles_along(W)) * tiles_along(H);
  const bool wide = wide_lanes();
  for_each_tile(tiles_by_cost(off, ntiles), [&](int64_t t) {
    if (phase)
      run_forward_tile<S, true>(wide, t, recs, R, off, ent, W, H, s, rgb, al, da, fT, last, ph);
    else
      run_forward_tile<S, false>(wide, t, recs, R, off, ent, W, H, s, rgb, al, da, fT, last, ph);
  });
  return out;
}

// Sums the slots per Gaussian (each field over tiles and entries in a fixed order: deterministic), then
// runs the projection and colour backward per Gaussian, adding into the gradient tensors.
template <typename S>
void finish_backward(const Inputs& in, const Camera& camera, const Settings& s, const CameraState& st,
                     const SlotLayout& L, const S* slots, bool has_depth_grad, Grads& g) {
  const auto cam = camera_params<S>(camera);
  const int64_t M = st.order.size(0);
  const int64_t ntiles = int64_t(L.count.size());
  const int64_t V = L.total;
  std::vector<S> per(size_t(kNumGrads) * M, S(0));
  const int32_t* ent = st.entries.data_ptr<int32_t>();
  const int64_t* off = st.tile_offsets.data_ptr<int64_t>();
  at::parallel_for(0, kNumGrads, 1, [&](int64_t fb, int64_t fe) {
    for (int64_t f = fb; f < fe; ++f) {
      S* pf = per.data() + f * M;
      const S* sf = slots + f * V;
      for (int64_t t = 0; t < ntiles; ++t) {
        const int32_t* e = ent + off[t];
        const S* sl = sf + L.offset[t];
        for (int64_t j = 0; j < L.count[t]; ++j) pf[e[j]] += sl[j];
      }
    }
  });
  const int32_t* order = st.order.data_ptr<int32_t>();
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
  at::parallel_for(0, M, 256, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      S pg[kNumGrads];
      bool any = false;
      for (int f = 0; f < kNumGrads; ++f) {
        pg[f] = per[f * M + r];
        any = any || pg[f] != S(0);
      }
      if (!any) continue;
      const int64_t i = order[r];
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

SlotLayout make_layout(std::vector<int64_t> count) {
  SlotLayout L;
  L.count = std::move(count);
  L.offset.resize(L.count.size());
  for (size_t t = 0; t < L.count.size(); ++t) {
    L.offset[t] = L.total;
    L.total += L.count[t];
  }
  return L;
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
      const TileRect r = tile_rect(t, W, H);
      int32_t m = 0;
      for (int y = r.y0; y < r.y1; ++y)
        for (int x = r.x0; x < r.x1; ++x) m = std::max(m, last[int64_t(y) * W + x]);
      kmax[t] = m;
    }
  });
  const SlotLayout L = make_layout(kmax);
  // Left uninitialised: the tile kernels write every slot they own (tens of MB need no zeroing pass).
  std::unique_ptr<S[]> slots(new S[size_t(kNumGrads) * L.total]);
  const S* recs = st.records.data_ptr<S>();
  const int R = int(st.records.size(1));
  const int64_t* off = st.tile_offsets.data_ptr<int64_t>();
  const int32_t* ent = st.entries.data_ptr<int32_t>();
  const S* fT = st.final_T.data_ptr<S>();
  const bool phase = s.mode == BlendMode::kPhase;
  const S* ph = phase ? st.phasor.data_ptr<S>() : nullptr;
  const S* gr = grad_rgb.data_ptr<S>();
  const S* ga = grad_alpha.data_ptr<S>();
  const S* gd = grad_dacc.data_ptr<S>();
  std::vector<int64_t> tile_order(ntiles);
  std::iota(tile_order.begin(), tile_order.end(), 0);
  std::stable_sort(tile_order.begin(), tile_order.end(), [&](int64_t a, int64_t b) { return kmax[a] > kmax[b]; });
  const bool wide = wide_lanes();
  S* sl = slots.get();
  for_each_tile(tile_order, [&](int64_t t) {
    if (phase)
      run_backward_tile<S, true>(wide, t, recs, R, off, ent, W, H, s, fT, last, ph, gr, ga, gd, L, sl);
    else
      run_backward_tile<S, false>(wide, t, recs, R, off, ent, W, H, s, fT, last, ph, gr, ga, gd, L, sl);
  });
  finish_backward<S>(in, camera, s, st, L, slots.get(), true, g);
}

// ---------------------------------------------------------------------------------------------------
// Wave-field (QSR) renderer: order-free coherent sum, so no transmittance and no early stop.
template <typename S>
void wave_forward_tile(int64_t t, const S* recs, int R, const int64_t* offsets, const int32_t* ent, int W, int H,
                       S* intensity, S* coverage, S* field) {
  const TileRect r = tile_rect(t, W, H);
  S ur[3][kTilePixels], ui[3][kTilePixels], cov[kTilePixels];
  for (int p = 0; p < kTilePixels; ++p) {
    cov[p] = S(0);
    for (int c = 0; c < 3; ++c) ur[c][p] = ui[c][p] = S(0);
  }
  for (int64_t k = offsets[t]; k < offsets[t + 1]; ++k) {
    if (k + kPrefetch < offsets[t + 1]) __builtin_prefetch(recs + int64_t(ent[k + kPrefetch]) * R);
    const S* f = recs + int64_t(ent[k]) * R;
    int ys, ye;
    if (!tile_rows(f, r, H, ys, ye)) continue;
    const RowChords<S> chords(f);
    const S u = f[kU], v = f[kV], A = f[kConA], B = f[kConB], C = f[kConC], o = f[kOpacity];
    S pc[3], ps[3];
    for (int c = 0; c < 3; ++c) {
      pc[c] = f[kColR + c] * f[kCos0 + c];
      ps[c] = f[kColR + c] * f[kSin0 + c];
    }
    for (int y = ys; y < ye; ++y) {
      const S dy = v - (S(y) + S(0.5));
      int xs, xe;
      if (!chords.span(dy, r.x0, r.x1, xs, xe)) continue;
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
void wave_backward_tile(int64_t t, const S* recs, int R, const int64_t* offsets, const int32_t* ent, int W, int H,
                        const S* field, const S* g_int, const S* g_cov, const SlotLayout& L, S* slots) {
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
  const int64_t begin = offsets[t], V = L.total;
  S* out = slots + L.offset[t];
  for (int64_t j = 0; j < L.count[t]; ++j) {
    for (int q = 0; q < kNumGrads; ++q) out[q * V + j] = S(0);
    if (j + kPrefetch < L.count[t]) __builtin_prefetch(recs + int64_t(ent[begin + j + kPrefetch]) * R);
    const S* f = recs + int64_t(ent[begin + j]) * R;
    int ys, ye;
    if (!tile_rows(f, r, H, ys, ye)) continue;
    const RowChords<S> chords(f);
    const S u = f[kU], v = f[kV], A = f[kConA], B = f[kConB], C = f[kConC], o = f[kOpacity];
    S col[3], cs[3], sn[3];
    for (int c = 0; c < 3; ++c) {
      col[c] = f[kColR + c];
      cs[c] = f[kCos0 + c];
      sn[c] = f[kSin0 + c];
    }
    S su = 0, sv = 0, sA = 0, sB = 0, sC = 0, so = 0, scol[3] = {0, 0, 0}, sphi[3] = {0, 0, 0};
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
    const S vals[kNumGrads] = {su, sv, sA, sB, sC, so, S(0), scol[0], scol[1], scol[2], sphi[0], sphi[1], sphi[2]};
    for (int q = 0; q < kNumGrads; ++q) out[q * V + j] = vals[q];
  }
}

template <typename S>
WaveOut wave_forward_typed(const Inputs& in, const Camera& camera, const Settings& s) {
  WaveOut out;
  out.state = project_and_bin_typed<S>(in, camera, s);
  const int W = camera.width, H = camera.height;
  const auto opt = in.means.options();
  out.intensity = torch::empty({H, W, 3}, opt);
  out.coverage = torch::empty({H, W}, opt);
  out.field = torch::empty({H, W, 6}, opt);
  const S* recs = out.state.records.data_ptr<S>();
  const int R = int(out.state.records.size(1));
  const int64_t* off = out.state.tile_offsets.data_ptr<int64_t>();
  const int32_t* ent = out.state.entries.data_ptr<int32_t>();
  S* I = out.intensity.data_ptr<S>();
  S* cv = out.coverage.data_ptr<S>();
  S* fl = out.field.data_ptr<S>();
  const int64_t ntiles = int64_t(tiles_along(W)) * tiles_along(H);
  for_each_tile(tiles_by_cost(off, ntiles),
                [&](int64_t t) { wave_forward_tile<S>(t, recs, R, off, ent, W, H, I, cv, fl); });
  return out;
}

template <typename S>
void wave_backward_typed(const Inputs& in, const Camera& camera, const Settings& s, const WaveOut& fwd,
                         const torch::Tensor& grad_int, const torch::Tensor& grad_cov, Grads& g) {
  const int W = camera.width, H = camera.height;
  const CameraState& st = fwd.state;
  const int64_t ntiles = int64_t(tiles_along(W)) * tiles_along(H);
  const int64_t* off = st.tile_offsets.data_ptr<int64_t>();
  std::vector<int64_t> count(ntiles);
  for (int64_t t = 0; t < ntiles; ++t) count[t] = off[t + 1] - off[t];
  const SlotLayout L = make_layout(count);
  // Left uninitialised: the tile kernels write every slot they own (tens of MB need no zeroing pass).
  std::unique_ptr<S[]> slots(new S[size_t(kNumGrads) * L.total]);
  const S* recs = st.records.data_ptr<S>();
  const int R = int(st.records.size(1));
  const int32_t* ent = st.entries.data_ptr<int32_t>();
  const S* fl = fwd.field.data_ptr<S>();
  const S* gI = grad_int.data_ptr<S>();
  const S* gC = grad_cov.data_ptr<S>();
  for_each_tile(tiles_by_cost(off, ntiles), [&](int64_t t) {
    wave_backward_tile<S>(t, recs, R, off, ent, W, H, fl, gI, gC, L, slots.get());
  });
  finish_backward<S>(in, camera, s, st, L, slots.get(), false, g);
}

}  // namespace

void limit_lanes_to_128_bits(bool on) { g_only_128.store(on); }

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
