// Projection and tile binning for the CPU kernels: every Gaussian projected independently, a global
// depth sort of the visible ones, and per-tile entry lists in (depth, id) order.
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/radix_sort.hpp"
#include "render/camera_params.hpp"
#include "render/gaussian_arrays.hpp"
#include "render/tile_grid.hpp"

namespace fresnel::raster {
namespace {

using gmath::CameraParams;

// Projection: every Gaussian independently (parallel over Gaussians) into an N×R scratch array.
template <typename S>
void project_all(const GaussianArrays<S>& g, const CameraParams<S>& cam, S* recs, int R, uint8_t* visible, int64_t n) {
  at::parallel_for(0, n, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      S* f = recs + i * R;
      visible[i] = 0;
      if (!pack_record(cam, g.means + 3 * i, g.quats + 4 * i, g.scales + 3 * i, g.opacities[i], g.colors_of(i), g.sh,
                       g.sh_degree, f))
        continue;
      int x0, x1, y0, y1;
      pixel_span(f[kU], f[kExtX], cam.width, x0, x1);
      pixel_span(f[kV], f[kExtY], cam.height, y0, y1);
      if (x0 >= x1 || y0 >= y1) continue;  // outside the image
      if (g.phases)
        for (int ch = 0; ch < 3; ++ch) {
          f[kCos0 + ch] = std::cos(g.phases[3 * i + ch]);
          f[kSin0 + ch] = std::sin(g.phases[3 * i + ch]);
        }
      visible[i] = 1;
    }
  });
}

// Ranks of the visible Gaussians by (depth, id): a stable radix sort over the depth keys, and ids enter in
// increasing order, so ties stay ordered by id.
template <typename S>
std::vector<int32_t> depth_order(const std::vector<S>& scratch, int R, const std::vector<uint8_t>& visible) {
  std::vector<int32_t> ids;
  std::vector<decltype(float_sort_key(S(0)))> keys;
  for (int64_t i = 0; i < int64_t(visible.size()); ++i)
    if (visible[i]) {
      ids.push_back(int32_t(i));
      keys.push_back(float_sort_key(scratch[size_t(i) * R + kDepth]));
    }
  radix_sort_pairs(keys, ids);
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
  const auto cam = camera_params<S>(camera, s);
  const int64_t n = in.means.size(0);
  const int R = record_width(in.phases.defined());
  std::vector<S> scratch(size_t(n) * R);
  std::vector<uint8_t> visible(n);
  project_all<S>(gaussian_arrays<S>(in, s), cam, scratch.data(), R, visible.data(), n);
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

}  // namespace

CameraState project_and_bin(const Inputs& in, const Camera& cam, const Settings& s) {
  CameraState st;
  AT_DISPATCH_FLOATING_TYPES(in.means.scalar_type(), "project_and_bin",
                             [&] { st = project_and_bin_typed<scalar_t>(in, cam, s); });
  return st;
}

}  // namespace fresnel::raster
