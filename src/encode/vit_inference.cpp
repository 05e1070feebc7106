#include "encode/vit_inference.hpp"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <dlfcn.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "core/error.hpp"
#include "encode/dinov2.hpp"

namespace fresnel::encode {
namespace {

// Looked up at run time: the BLAS behind libtorch is chosen by the system (Debian: OpenBLAS pthread via
// alternatives; MKL or reference BLAS elsewhere), and only OpenBLAS has a thread pool of its own to quiet.
struct OpenBlasThreads {
  using Set = void (*)(int);
  using Get = int (*)();
  Set set = nullptr;
  Get get = nullptr;
  OpenBlasThreads() {
    set = reinterpret_cast<Set>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    get = reinterpret_cast<Get>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    if (!set || !get) set = nullptr, get = nullptr;
  }
};

const OpenBlasThreads& openblas() {
  static const OpenBlasThreads o;
  return o;
}

}  // namespace

SingleThreadedBlas::SingleThreadedBlas() {
  if (!openblas().set) return;
  previous_ = openblas().get();
  if (previous_ != 1) openblas().set(1);
}

SingleThreadedBlas::~SingleThreadedBlas() {
  if (openblas().set && previous_ > 1) openblas().set(previous_);
}

void parallel_tasks(int64_t n, const std::function<void(int64_t)>& fn) {
  const int64_t workers = std::min<int64_t>(at::get_num_threads(), n);
  if (workers <= 1 || at::in_parallel_region()) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<int64_t> next{0};
  // Grad mode and inference mode are thread-local: the workers take the caller's.
  const at::ThreadLocalState caller;
  at::parallel_for(0, workers, 1, [&](int64_t, int64_t) {
    at::ThreadLocalStateGuard same_state(caller);
    for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  });
}

void dinov2_block_inference(Dinov2LayerImpl& layer, int64_t heads, torch::Tensor& x, VitWorkspace& ws) {
  if (x.dim() != 3 || !x.is_contiguous() || x.scalar_type() != torch::kFloat || !x.device().is_cpu())
    throw Error("DINOv2 inference path: expected contiguous float (B,N,D) tokens on the CPU");
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2), hd = d / heads, rows = b * n;
  auto& sa = *layer.attention->attention;
  auto& mlp = *layer.mlp;
  const auto& ln1 = layer.norm1->options;
  const auto& ln2 = layer.norm2->options;
  // Fused projection: rows of W are q, k, v outputs, so one GEMM writes [q | k | v] per token.
  const auto fused = sa.fused_qkv();
  const auto w_qkv = fused.first.t();
  const auto& b_qkv = fused.second;
  const auto& dense = *layer.attention->output->dense;
  const auto& gamma1 = layer.layer_scale1->lambda1;
  const auto& gamma2 = layer.layer_scale2->lambda1;
  if (!ws.qkv.defined() || ws.qkv.size(0) != rows || ws.qkv.size(1) != 3 * d) {
    ws.qkv = torch::empty({rows, 3 * d}, x.options());
    ws.context = torch::empty({rows, d}, x.options());
  }
  auto x2 = x.view({rows, d});
  const int64_t row_blocks = (rows + kVitRowBlock - 1) / kVitRowBlock;

  parallel_tasks(row_blocks, [&](int64_t i) {
    const int64_t r0 = i * kVitRowBlock, r1 = std::min(rows, r0 + kVitRowBlock);
    auto h =
        at::layer_norm(x2.slice(0, r0, r1), ln1.normalized_shape(), layer.norm1->weight, layer.norm1->bias, ln1.eps());
    auto out = ws.qkv.slice(0, r0, r1);
    at::addmm_out(out, b_qkv, h, w_qkv);
  });

  // Softmax(q kᵀ / √hd) v per tile of query rows; the result lands in its head's columns of `context`, which is
  // the (B·N, D) layout the output projection reads (heads concatenated per token).
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const int64_t q_blocks = (n + kVitQueryBlock - 1) / kVitQueryBlock;
  parallel_tasks(b * heads * q_blocks, [&](int64_t t) {
    const int64_t img = t / (heads * q_blocks), head = (t / q_blocks) % heads, qb = t % q_blocks;
    const int64_t q0 = qb * kVitQueryBlock, q1 = std::min(n, q0 + kVitQueryBlock);
    auto tokens = ws.qkv.slice(0, img * n, (img + 1) * n);
    auto q = tokens.slice(0, q0, q1).slice(1, head * hd, (head + 1) * hd);
    auto k = tokens.slice(1, d + head * hd, d + (head + 1) * hd);
    auto v = tokens.slice(1, 2 * d + head * hd, 2 * d + (head + 1) * hd);
    auto scores = torch::empty({q1 - q0, n}, x.options());
    at::addmm_out(scores, scores, q, k.t(), /*beta=*/0, /*alpha=*/scale);
    at::_softmax_out(scores, scores, 1, false);
    auto out = ws.context.slice(0, img * n + q0, img * n + q1).slice(1, head * hd, (head + 1) * hd);
    at::mm_out(out, scores, v);
  });

  parallel_tasks(row_blocks, [&](int64_t i) {
    const int64_t r0 = i * kVitRowBlock, r1 = std::min(rows, r0 + kVitRowBlock);
    auto xr = x2.slice(0, r0, r1);
    xr.addcmul_(at::addmm(dense.bias, ws.context.slice(0, r0, r1), dense.weight.t()), gamma1);
    auto h = at::layer_norm(xr, ln2.normalized_shape(), layer.norm2->weight, layer.norm2->bias, ln2.eps());
    torch::Tensor f;
    if (mlp.swiglu) {
      auto z = at::addmm(mlp.weights_in->bias, h, mlp.weights_in->weight.t());
      const int64_t hid = z.size(1) / 2;
      auto gate = z.slice(1, 0, hid);
      f = at::addmm(mlp.weights_out->bias, at::silu(gate).mul_(z.slice(1, hid)), mlp.weights_out->weight.t());
    } else {
      auto z = at::addmm(mlp.fc1->bias, h, mlp.fc1->weight.t());
      at::gelu_(z);  // exact (erf) GELU, as nn.GELU()
      f = at::addmm(mlp.fc2->bias, z, mlp.fc2->weight.t());
    }
    xr.addcmul_(f, gamma2);
  });
}

}  // namespace fresnel::encode
