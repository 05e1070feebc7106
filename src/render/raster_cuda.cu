// CUDA kernels of the rasterizer (alpha blending, float32): projection, (tile, depth) key sort, per-tile
// forward compositing and the backward pass, all with the per-Gaussian math of gaussian_math.hpp.
#include <ATen/ATen.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "core/camera.hpp"
#include "render/camera_params.hpp"
#include "render/constants.hpp"
#include "render/gaussian_arrays.hpp"
#include "render/gaussian_math.hpp"
#include "render/raster_cuda.hpp"
#include "render/raster_record.hpp"
#include "render/tile_kernel_args.hpp"

namespace fresnel::raster {
namespace {

namespace rc = fresnel::render_constants;
using gmath::CameraParams;
using gmath::ProjectionState;

constexpr int kTile = rc::kTileSize;
constexpr int kRec = kRecordWidth;  // raster_record.hpp: the CPU kernels' record without phases
constexpr int kGrads = kNumGradsWithoutPhases;

__device__ void tile_rect_of(const float* f, int W, int H, int& tx0, int& tx1, int& ty0, int& ty1) {
  int x0, x1, y0, y1;
  gmath::pixel_span(f[kU], f[kExtX], W, x0, x1);
  gmath::pixel_span(f[kV], f[kExtY], H, y0, y1);
  tx0 = x0 / kTile;
  tx1 = (x1 - 1) / kTile + 1;
  ty0 = y0 / kTile;
  ty1 = (y1 - 1) / kTile + 1;
  if (x0 >= x1 || y0 >= y1) tx0 = tx1 = ty0 = ty1 = 0;
}

__global__ void project_kernel(int64_t n, CameraParams<float> cam, GaussianArrays<float> g, float* recs,
                               int32_t* touched) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  touched[i] = 0;
  float* f = recs + i * kRec;
  if (!pack_record(cam, g.means + 3 * i, g.quats + 4 * i, g.scales + 3 * i, g.opacities[i], g.colors_of(i), g.sh,
                   g.sh_degree, f))
    return;
  int tx0, tx1, ty0, ty1;
  tile_rect_of(f, cam.width, cam.height, tx0, tx1, ty0, ty1);
  touched[i] = (tx1 - tx0) * (ty1 - ty0);
}

// Keys (tile << 32 | depth bits) in Gaussian order; a stable sort then gives (tile, depth, id) order.
__global__ void emit_keys_kernel(int64_t n, const float* recs, const int32_t* touched, const int64_t* offsets, int W,
                                 int H, int64_t* keys, int32_t* ids) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n || touched[i] == 0) return;
  const float* f = recs + i * kRec;
  int tx0, tx1, ty0, ty1;
  tile_rect_of(f, W, H, tx0, tx1, ty0, ty1);
  const int tiles_x = (W + kTile - 1) / kTile;
  int64_t k = offsets[i] - touched[i];
  const uint32_t depth_bits = __float_as_uint(f[kDepth]);  // positive floats order like their bits
  for (int y = ty0; y < ty1; ++y)
    for (int x = tx0; x < tx1; ++x, ++k) {
      keys[k] = (int64_t(y * tiles_x + x) << 32) | int64_t(depth_bits);
      ids[k] = int32_t(i);
    }
}

__device__ bool eval_power(const float* f, float dx, float dy, float& power) {
  power = -0.5f * (f[kConA] * dx * dx + f[kConC] * dy * dy) - f[kConB] * dx * dy;
  return power <= 0.f && power >= float(rc::kMinPower);
}

__global__ void forward_kernel(TileLists<float> lists, float3 bg, BlendImages<float> out) {
  const int W = lists.width, H = lists.height;
  const int tiles_x = (W + kTile - 1) / kTile;
  const int tile = blockIdx.y * tiles_x + blockIdx.x;
  const int x = blockIdx.x * kTile + threadIdx.x, y = blockIdx.y * kTile + threadIdx.y;
  const bool inside = x < W && y < H;
  const int64_t begin = lists.offsets[tile], end = lists.offsets[tile + 1];
  __shared__ float batch[kTile * kTile][kRec];
  const int tid = threadIdx.y * kTile + threadIdx.x;
  float T = 1.f, C[3] = {0, 0, 0}, D = 0.f;
  int32_t last = 0;
  bool done = !inside;
  const float px = x + 0.5f, py = y + 0.5f;
  for (int64_t b0 = begin; b0 < end; b0 += kTile * kTile) {
    if (__syncthreads_and(done)) break;
    if (b0 + tid < end) {
      const float* src = lists.record_of(b0 + tid);
      for (int q = 0; q < kRec; ++q) batch[tid][q] = src[q];
    }
    __syncthreads();
    const int count = int(end - b0 < int64_t(kTile * kTile) ? end - b0 : int64_t(kTile * kTile));
    for (int j = 0; j < count && !done; ++j) {
      const float* f = batch[j];
      float power;
      if (!eval_power(f, f[kU] - px, f[kV] - py, power)) continue;
      const float a = fminf(float(rc::kMaxAlpha), f[kOpacity] * __expf(power));
      if (a < float(rc::kMinAlpha)) continue;
      const float nextT = T * (1.f - a);
      if (nextT < float(rc::kMinTransmittance)) {
        done = true;
        continue;
      }
      const float w = a * T;
      for (int c = 0; c < 3; ++c) C[c] += w * f[kColR + c];
      D += w * f[kDepth];
      T = nextT;
      last = int32_t(b0 - begin + j + 1);
    }
  }
  if (!inside) return;
  const int64_t pix = int64_t(y) * W + x;
  out.rgb[pix * 3 + 0] = C[0] + T * bg.x;
  out.rgb[pix * 3 + 1] = C[1] + T * bg.y;
  out.rgb[pix * 3 + 2] = C[2] + T * bg.z;
  out.alpha[pix] = 1.f - T;
  out.depth_accum[pix] = D;
  out.final_T[pix] = T;
  out.last[pix] = last;
}

__global__ void backward_kernel(TileLists<float> lists, float3 bg, BlendGradInputs<float> in, float* grads) {
  const int W = lists.width, H = lists.height;
  const int tiles_x = (W + kTile - 1) / kTile;
  const int tile = blockIdx.y * tiles_x + blockIdx.x;
  const int x = blockIdx.x * kTile + threadIdx.x, y = blockIdx.y * kTile + threadIdx.y;
  if (x >= W || y >= H) return;
  const int64_t pix = int64_t(y) * W + x;
  const int64_t begin = lists.offsets[tile];
  const float px = x + 0.5f, py = y + 0.5f;
  const float Tfin = in.final_T[pix];
  float T = Tfin;
  const float gc[3] = {in.grad_rgb[pix * 3], in.grad_rgb[pix * 3 + 1], in.grad_rgb[pix * 3 + 2]};
  const float gbg = in.grad_alpha[pix] - (bg.x * gc[0] + bg.y * gc[1] + bg.z * gc[2]);
  const float gz = in.grad_depth_accum[pix];
  float rec[3] = {0, 0, 0}, recz = 0, last_a = 0, last_c[3] = {0, 0, 0}, last_z = 0;
  for (int64_t k = begin + in.last[pix] - 1; k >= begin; --k) {
    const int32_t id = lists.entries[k];
    const float* f = lists.record_of(k);
    const float dx = f[kU] - px, dy = f[kV] - py;
    float power;
    if (!eval_power(f, dx, dy, power)) continue;
    const float G = __expf(power);
    const float raw = f[kOpacity] * G;
    const float a = fminf(float(rc::kMaxAlpha), raw);
    if (a < float(rc::kMinAlpha)) continue;
    const float one_minus = 1.f - a;
    T = T / one_minus;
    const float w = a * T;
    float dalpha = 0.f;
    float* gr = grads + int64_t(id) * kGrads;
    for (int c = 0; c < 3; ++c) {
      atomicAdd(&gr[gCol0 + c], w * gc[c]);
      rec[c] = last_a * last_c[c] + (1.f - last_a) * rec[c];
      dalpha += (f[kColR + c] - rec[c]) * gc[c];
      last_c[c] = f[kColR + c];
    }
    recz = last_a * last_z + (1.f - last_a) * recz;
    dalpha += (f[kDepth] - recz) * gz;
    dalpha = dalpha * T + Tfin / one_minus * gbg;
    last_z = f[kDepth];
    last_a = a;
    atomicAdd(&gr[gZ], w * gz);
    if (raw > float(rc::kMaxAlpha)) continue;
    const float gp = raw * dalpha;
    atomicAdd(&gr[gO], G * dalpha);
    atomicAdd(&gr[gU], gp * (-f[kConA] * dx - f[kConB] * dy));
    atomicAdd(&gr[gV], gp * (-f[kConC] * dy - f[kConB] * dx));
    atomicAdd(&gr[gA], -0.5f * dx * dx * gp);
    atomicAdd(&gr[gC], -0.5f * dy * dy * gp);
    atomicAdd(&gr[gB], -dx * dy * gp);
  }
}

__global__ void project_backward_kernel(int64_t n, CameraParams<float> cam, GaussianArrays<float> g,
                                        const int32_t* touched, const float* grads, GaussianGradArrays<float> out) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= n || touched[i] == 0) return;
  const float* pg = grads + i * kGrads;
  ProjectionState<float> st;
  float u, v, conic[3], z;
  gmath::project(cam, g.means + 3 * i, g.quats + 4 * i, g.scales + 3 * i, st, u, v, conic, z);
  const float gconic[3] = {pg[gA], pg[gB], pg[gC]};
  float gmean[3] = {0, 0, 0}, gquat[4], gscale[3];
  // pg[gO] is dL/d(o·ρ): the record holds the Mip filter's compensated opacity.
  gmath::project_backward(cam, g.quats + 4 * i, g.scales + 3 * i, st, conic, pg[gU], pg[gV], gconic, pg[gZ],
                          pg[gO] * g.opacities[i], gmean, gquat, gscale);
  out.opacities[i] += pg[gO] * st.rho;
  if (g.sh) {
    float d[3], b[16], gb[16] = {0};
    const float inv = gmath::view_dir(cam, g.means + 3 * i, d);
    gmath::sh_basis(g.sh_degree, d, b);
    const int used = (g.sh_degree + 1) * (g.sh_degree + 1);
    const float* c = g.colors_of(i);
    for (int ch = 0; ch < 3; ++ch) {
      float raw = 0.5f;
      for (int k = 0; k < used; ++k) raw += b[k] * c[3 * k + ch];
      if (raw < 0.f) continue;
      for (int k = 0; k < used; ++k) {
        out.colors[(i * g.color_rows + k) * 3 + ch] += b[k] * pg[gCol0 + ch];
        gb[k] += c[3 * k + ch] * pg[gCol0 + ch];
      }
    }
    float gd[3] = {0, 0, 0};
    gmath::sh_basis_backward(g.sh_degree, d, gb, gd);
    gmath::view_dir_backward(d, inv, gd, gmean);
  } else {
    for (int ch = 0; ch < 3; ++ch) out.colors[3 * i + ch] += pg[gCol0 + ch];
  }
  for (int j = 0; j < 3; ++j) {
    out.means[3 * i + j] += gmean[j];
    out.scales[3 * i + j] += gscale[j];
  }
  for (int j = 0; j < 4; ++j) out.quats[4 * i + j] += gquat[j];
}

int blocks_for(int64_t n, int threads) { return int((n + threads - 1) / threads); }

}  // namespace

ForwardOut forward_cuda(const Inputs& in, const Camera& camera, const Settings& s) {
  const auto cam = camera_params<float>(camera, s);
  const int64_t n = in.means.size(0);
  const int W = camera.width, H = camera.height;
  const int tiles_x = (W + kTile - 1) / kTile, tiles_y = (H + kTile - 1) / kTile;
  const auto fopt = in.means.options();
  const auto iopt = fopt.dtype(at::kInt);
  // The default stream: Debian's headers lack c10/cuda's generated macros, and libtorch work is ordered
  // with it unless a caller installs its own streams.
  const cudaStream_t stream = nullptr;
  ForwardOut out;
  CameraState& st = out.state;
  st.records = at::zeros({n, kRec}, fopt);
  st.order = at::empty({n}, iopt);  // per-Gaussian tile counts (0 = culled)
  project_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(n, cam, gaussian_arrays<float>(in, s),
                                                         st.records.data_ptr<float>(), st.order.data_ptr<int32_t>());
  const at::Tensor offsets = at::cumsum(st.order.to(at::kLong), 0);
  const int64_t E = n > 0 ? offsets[n - 1].item<int64_t>() : 0;
  at::Tensor keys = at::empty({E}, fopt.dtype(at::kLong));
  at::Tensor ids = at::empty({E}, iopt);
  if (E > 0)
    emit_keys_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(n, st.records.data_ptr<float>(),
                                                             st.order.data_ptr<int32_t>(), offsets.data_ptr<int64_t>(),
                                                             W, H, keys.data_ptr<int64_t>(), ids.data_ptr<int32_t>());
  auto sorted = at::sort(keys, /*stable=*/true, 0, false);
  st.entries = ids.index_select(0, std::get<1>(sorted)).contiguous();
  const at::Tensor tile_of = at::floor_divide(std::get<0>(sorted), int64_t(1) << 32);
  st.tile_offsets = at::searchsorted(tile_of, at::arange(int64_t(tiles_x) * tiles_y + 1, fopt.dtype(at::kLong)));
  out.rgb = at::empty({H, W, 3}, fopt);
  out.alpha = at::empty({H, W}, fopt);
  out.depth_accum = at::empty({H, W}, fopt);
  st.final_T = at::empty({H, W}, fopt);
  st.last = at::empty({H, W}, iopt);
  const float3 bg = make_float3(float(s.background[0]), float(s.background[1]), float(s.background[2]));
  forward_kernel<<<dim3(tiles_x, tiles_y), dim3(kTile, kTile), 0, stream>>>(tile_lists<float>(st, camera), bg,
                                                                            blend_images<float>(out, s));
  return out;
}

void backward_cuda(const Inputs& in, const Camera& camera, const Settings& s, const CameraState& st,
                   const at::Tensor& grad_rgb, const at::Tensor& grad_alpha, const at::Tensor& grad_depth_accum,
                   Grads& g) {
  const auto cam = camera_params<float>(camera, s);
  const int64_t n = in.means.size(0);
  const int W = camera.width, H = camera.height;
  const int tiles_x = (W + kTile - 1) / kTile, tiles_y = (H + kTile - 1) / kTile;
  const cudaStream_t stream = nullptr;
  at::Tensor grads = at::zeros({n, kGrads}, in.means.options());
  const float3 bg = make_float3(float(s.background[0]), float(s.background[1]), float(s.background[2]));
  backward_kernel<<<dim3(tiles_x, tiles_y), dim3(kTile, kTile), 0, stream>>>(
      tile_lists<float>(st, camera), bg, blend_grad_inputs<float>(st, s, grad_rgb, grad_alpha, grad_depth_accum),
      grads.data_ptr<float>());
  project_backward_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(n, cam, gaussian_arrays<float>(in, s),
                                                                  st.order.data_ptr<int32_t>(), grads.data_ptr<float>(),
                                                                  gaussian_grad_arrays<float>(g));
}

}  // namespace fresnel::raster
