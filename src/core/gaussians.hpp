// A set of 3D Gaussians as a structure of arrays of *activated* values (see docs/conventions.md).
//   means     (…,N,3)   world position
//   quats     (…,N,4)   unit quaternion, w first
//   scales    (…,N,3)   linear standard deviations along the local axes (> 0)
//   opacities (…,N)     in [0,1]
//   colors    (…,N,3)   RGB in [0,1]            — SH degree 0 stored as plain colour, or
//             (…,N,K,3) SH coefficients, K = (d+1)², colour = 0.5 + Σ SH_k(dir)·c_k (3DGS convention)
//   phases    (…,N,3)   optional per-channel phase in radians (undefined tensor when absent)
// A leading batch dimension (B,N,…) is allowed everywhere.
#pragma once
#include <torch/types.h>

#include <string>

namespace fresnel {

struct Gaussians {
  torch::Tensor means, quats, scales, opacities, colors, phases;

  // Number of Gaussians (size of the N dimension).
  int64_t count() const;
  // True when there is a leading batch dimension.
  bool batched() const;
  int64_t batch_size() const;  // 1 when not batched
  // 0 for plain RGB; d for SH with (d+1)² coefficients.
  int sh_degree() const;
  bool has_sh() const;
  bool has_phases() const { return phases.defined(); }

  // Throws fresnel::Error naming `where` and the offending field: shape, dtype, NaN/Inf, scale <= 0,
  // opacity outside [0,1], quaternion with zero norm.
  void validate(const std::string& where = "gaussians") const;

  // Element-wise helpers that keep every field consistent.
  Gaussians to(const torch::TensorOptions& options) const;
  Gaussians detach() const;
  Gaussians index_select(const torch::Tensor& indices) const;  // along N (dim 1 when batched)
  Gaussians batch(int64_t b) const;                            // one scene of a batch
  static Gaussians cat(const std::vector<Gaussians>& parts);   // along N; unbatched only
  // Unbatched scenes of equal N (and the same fields) → one batch along a new dim 0.
  static Gaussians stack(const std::vector<Gaussians>& scenes);

  // Plain RGB colours, evaluating SH degree 0 only (view-independent). For SH data: 0.5 + C0·c_0.
  torch::Tensor base_rgb() const;

  // Axis-aligned bounding box of means: {min(3), max(3)}.
  std::pair<torch::Tensor, torch::Tensor> bounds() const;
};

// Number of SH coefficients for a degree.
inline int sh_coeffs_for_degree(int degree) { return (degree + 1) * (degree + 1); }
// Degree for a coefficient count, or -1 when the count is not a square of 1..4.
int sh_degree_for_coeffs(int64_t coeffs);

}  // namespace fresnel
