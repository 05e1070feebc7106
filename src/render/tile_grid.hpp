// Tile grid shared by the CPU kernels (raster_cpu.cpp, wave_cpu.cpp, raster_binning.cpp,
// raster_gradients.cpp): tile geometry, the tile scheduler, the rows and columns an entry can touch, and the
// per-entry gradient slots that make the backward passes race-free and deterministic.
#pragma once
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <vector>

#include "render/constants.hpp"
#include "render/gaussian_math.hpp"
#include "render/raster_cpu.hpp"
#include "render/raster_record.hpp"
#include "render/tile_kernel_args.hpp"

namespace fresnel::raster {

constexpr int kTile = render_constants::kTileSize;
constexpr int kTilePixels = kTile * kTile;
constexpr int64_t kPrefetch = 8;  // entries to fetch ahead in the tile loops

using gmath::pixel_span;

inline int tiles_along(int pixels) { return (pixels + kTile - 1) / kTile; }

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

// Tile indices ordered by decreasing cost (ties by index), for for_each_tile.
inline std::vector<int64_t> tiles_heaviest_first(const std::vector<int64_t>& cost) {
  std::vector<int64_t> order(cost.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cost[a] > cost[b]; });
  return order;
}

// Entries per tile: the lengths of the lists in tile_offsets.
inline std::vector<int64_t> list_lengths(const int64_t* offsets, int64_t ntiles) {
  std::vector<int64_t> n(ntiles);
  for (int64_t t = 0; t < ntiles; ++t) n[t] = offsets[t + 1] - offsets[t];
  return n;
}
inline std::vector<int64_t> tiles_by_cost(const int64_t* offsets, int64_t ntiles) {
  return tiles_heaviest_first(list_lengths(offsets, ntiles));
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

// The image pixels of tile r, row by row: p is the index in the tile's 16×16 arrays, pix the index in the
// H×W image (row-major, width W). A loop object rather than a callback, so the SIMD kernels keep plain loops.
//   for (TilePixels q(r, W); q.valid(); q.next()) use(q.p, q.pix);
struct TilePixels {
  int x0, x1, y1, x, y, width;
  int p;
  int64_t pix;
  TilePixels(const TileRect& r, int W)
      : x0(r.x0), x1(r.x1), y1(r.y1), x(r.x0), y(r.y0), width(W), p(0), pix(int64_t(r.y0) * W + r.x0) {
    if (x0 >= x1) y = y1;
  }
  bool valid() const { return y < y1; }
  void next() {
    ++p;
    ++pix;
    if (++x == x1) {
      x = x0;
      ++y;
      p += kTile - (x1 - x0);
      pix = int64_t(y) * width + x0;
    }
  }
};

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

// Adds one pixel's (or one SIMD group's) share of dL/du, dL/dv and dL/d(conic A, B, C), given gp = dL/dpower
// there (power = −½(A·dx² + C·dy²) − B·dx·dy with dx = u − x, dy = v − y). T is a scalar or a SIMD lane
// vector; always inlined, so vectors never cross a call.
template <typename T, typename S>
__attribute__((always_inline)) inline void add_shape_gradients(const T& gp, const T& dx, S dy, S A, S B, S C, T& su,
                                                               T& sv, T& sA, T& sB, T& sC) {
  su += gp * (-A * dx - B * dy);
  sv += gp * (-C * dy - B * dx);
  sA += S(-0.5) * dx * dx * gp;
  sC += S(-0.5) * dy * dy * gp;
  sB += -dx * dy * gp;
}

// Gradient slots: tile t owns `count[t]` consecutive slots starting at slot_offsets[t] (one per entry it
// may have touched), stored field-major: slots[f * V + slot].
struct SlotLayout {
  std::vector<int64_t> count, offset;
  int64_t total = 0;
};

// Where a backward tile kernel writes its gradients: the slots of `layout`, stored in `slots`.
template <typename S>
struct GradientSlots {
  const SlotLayout* layout;
  S* slots;
};

// Storage for the slots of layout L, kNumGrads fields. Left uninitialised: the tile kernels write every slot they
// own (tens of MB need no zeroing pass).
template <typename S>
std::unique_ptr<S[]> allocate_slots(const SlotLayout& L) {
  return std::unique_ptr<S[]>(new S[size_t(kNumGrads) * L.total]);
}

inline SlotLayout make_layout(std::vector<int64_t> count) {
  SlotLayout L;
  L.count = std::move(count);
  L.offset.resize(L.count.size());
  for (size_t t = 0; t < L.count.size(); ++t) {
    L.offset[t] = L.total;
    L.total += L.count[t];
  }
  return L;
}

// Sums the per-entry slots per Gaussian and runs the projection and colour backward, adding into `g`
// (raster_gradients.cpp; instantiated for float and double).
template <typename S>
void finish_backward(const Inputs& in, const Camera& camera, const Settings& s, const CameraState& st,
                     const SlotLayout& L, const S* slots, bool has_depth_grad, Grads& g);

}  // namespace fresnel::raster
