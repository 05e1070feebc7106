// CPU inference path of the DINOv2 blocks (no autograd): the same arithmetic as Dinov2LayerImpl::forward, arranged
// so that two cores are actually used (docs/encoders.md, "Speed"):
//  - one thread pool: libtorch's OpenMP threads each run whole row blocks / attention tiles, and BLAS runs
//    single-threaded inside them (OpenBLAS's own pthread pool otherwise competes with the OpenMP pool for the
//    same cores, and each pool spin-waits while the other works);
//  - fused q|k|v projection into one buffer, attention tiled per (image, head, query block) so the score tile
//    stays in cache and no 45 MB score tensor is page-faulted in for every layer;
//  - tasks handed out one at a time, so a core slowed by another process simply takes fewer of them.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <functional>

namespace fresnel::encode {

struct Dinov2LayerImpl;

// While alive, OpenBLAS (when it is the BLAS in use) runs single-threaded; restores the previous count.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int previous_ = 0;
};

// Runs fn(i) for every i in [0, n) on libtorch's intra-op threads (serially inside a parallel region).
void parallel_tasks(int64_t n, const std::function<void(int64_t)>& fn);

// Buffers reused by every block of one forward pass.
struct VitWorkspace {
  torch::Tensor qkv;      // (B·N, 3D)
  torch::Tensor context;  // (B·N, D)
};

// One pre-norm block applied in place to x (B, N, D), contiguous float on the CPU: x + γ1·Attn(LN1(x)), then
// x + γ2·MLP(LN2(x)). Call with gradients off and inside a SingleThreadedBlas scope.
void dinov2_block_inference(Dinov2LayerImpl& layer, int64_t heads, torch::Tensor& x, VitWorkspace& ws);

// Rows per projection/MLP task and query rows per attention tile (tests use them to cover ragged tiles).
constexpr int64_t kVitRowBlock = 64;
constexpr int64_t kVitQueryBlock = 128;

}  // namespace fresnel::encode
