// Building blocks shared by the Gaussian decoders (spec §4.1), in our conventions: predictions live in the
// input camera's frame (OpenCV axes: x right, y down, z forward, camera at the origin).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <vector>

namespace fresnel::decode {

// How a depth map fed to a decoder is interpreted.
enum class DepthMode {
  // Values in [0,1] with 1 = near (Depth Anything's min-max normalised inverse depth, the original's
  // `{stem}_depth.bin`). Mapped to camera z by normalized_depth_to_z.
  Normalized,
  // Metric depth along camera z (synthetic data, the built-in depth head). Used as z directly.
  Metric,
};

// THE mapping from normalised depth d ∈ [0,1] (1 = near) to camera z, used by training, inference and the viewer:
//   z = depth_offset + 2·(1 − d)
// With the original's initial offset magnitude (2) this gives z ∈ [2, 4]: the same range as the original
// (its z = −2 − 2d in a −Z camera) but with nearer pixels nearer (the original's OBS §15.3 put them farther).
torch::Tensor normalized_depth_to_z(const torch::Tensor& d, const torch::Tensor& depth_offset);
constexpr double kDefaultDepthOffset = 2.0;

// Camera intrinsics as fractions of the image size: (fx/W, fy/H, cx/W, cy/H). Decoders take these (B,4) so
// they work at any resolution. The default is the original's training camera, kDefaultNormalizedIntrinsics.
torch::Tensor default_normalized_intrinsics(int64_t batch, const torch::TensorOptions& options);

// Unprojects normalised image coordinates (u,v ∈ [0,1], pixel u = u·W) at camera depth z through normalised
// intrinsics K (B,4). u, v, z: (B, …) broadcastable; returns (…,3) points (x, y, z) in the camera frame.
torch::Tensor unproject_normalized(const torch::Tensor& u, const torch::Tensor& v, const torch::Tensor& z,
                                   const torch::Tensor& intrinsics);

// [Linear → ReLU (→ Dropout)] × len(hidden) → Linear (spec §4.1).
torch::nn::Sequential make_mlp(int64_t in, const std::vector<int64_t>& hidden, int64_t out, double dropout);

// 6D rotation (two columns a1, a2, Gram–Schmidt) → unit quaternion (w,x,y,z) by Shepperd's method with
// branch-free selects. r6: (…,6). Degenerate inputs (zero or parallel columns) fall back to deterministic axes.
torch::Tensor rotation_6d_to_quaternion(const torch::Tensor& r6);
// 3×3 rotation matrices (…,3,3) → unit quaternions (…,4) (w,x,y,z), w ≥ 0.
torch::Tensor matrix_to_quaternion(const torch::Tensor& m);
// Hamilton product a ⊗ b of (…,4) wxyz quaternions.
torch::Tensor quaternion_multiply(const torch::Tensor& a, const torch::Tensor& b);

// PoseEncoder(embed 64, 8 frequencies): sin/cos(θ·2^k) for elevation and azimuth → Linear(32,64) → ReLU →
// Linear(64,64).
struct PoseEncoderImpl : torch::nn::Module {
  explicit PoseEncoderImpl(int64_t embed_dim = 64, int64_t num_frequencies = 8);
  torch::Tensor forward(const torch::Tensor& elevation, const torch::Tensor& azimuth);  // (B,) rad → (B,embed)
  int64_t num_frequencies;
  torch::nn::Sequential mlp{nullptr};
};
TORCH_MODULE(PoseEncoder);

// DepthEncoder(out 64): three 3×3 conv + ReLU (1→32→64→out), adaptive average pool to the feature grid.
struct DepthEncoderImpl : torch::nn::Module {
  explicit DepthEncoderImpl(int64_t out_dim = 64);
  torch::Tensor forward(const torch::Tensor& depth, int64_t grid_h, int64_t grid_w);
  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(DepthEncoder);

// The original's FresnelEdgeDetector: cat(depth, Sobel_x, Sobel_y) → Conv(3→16) → ReLU → Conv(16→16) → ReLU →
// Conv(16→1) → sigmoid. Sobel kernels are fixed buffers.
struct EdgeDetectorImpl : torch::nn::Module {
  explicit EdgeDetectorImpl(int64_t hidden = 16);
  torch::Tensor forward(const torch::Tensor& depth);  // (B,1,h,w) → (B,1,h,w) in (0,1)
  torch::nn::Sequential net{nullptr};
  torch::Tensor sobel_x, sobel_y;
};
TORCH_MODULE(EdgeDetector);

// Snaps normalised depth to the centre of its uniform Fresnel zone: n zones on [0,1].
torch::Tensor snap_to_fresnel_zones(const torch::Tensor& d, int64_t num_zones);

// Per-image min–max normalisation of a (B,1,h,w) map to [0,1] ignoring non-positive (invalid) values of metric
// depth; returns {normalised with 1 = near, min, max} (min/max shaped (B,1,1,1)). Used where a decoder needs
// normalised depth (edges, zones) while its positions use metric z.
struct NormalizedDepth {
  torch::Tensor d, zmin, zmax;
};
NormalizedDepth normalize_metric_depth(const torch::Tensor& z);

// Scale activation of the original: clamp(softplus(clamp(raw, −10, 20) + 1)·0.15, 1e-6, 2).
torch::Tensor activate_scale(const torch::Tensor& raw);

int64_t count_parameters(const torch::nn::Module& module);

}  // namespace fresnel::decode
