// Gaussians as plain float arrays: the torch-free layer every file format reads into and writes from,
// so parsers can be fuzzed and tested without libtorch. gaussian_io converts to and from `Gaussians`.
// Values are *activated* (linear scales, opacity in [0,1], unit quaternions w first), as in Gaussians.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace fresnel {

struct GaussianArrays {
  int64_t count = 0;
  // 0: colors holds plain RGB, count×3. K ≥ 1: colors holds SH coefficients, count×K×3 (coefficient-major
  // per Gaussian: c[k][channel]), colour = 0.5 + Σ SH_k·c_k.
  int sh_coeffs = 0;
  std::vector<float> means;      // count×3
  std::vector<float> quats;      // count×4, w x y z
  std::vector<float> scales;     // count×3
  std::vector<float> opacities;  // count
  std::vector<float> colors;     // count×3 or count×K×3
  std::vector<float> phases;     // count×3 or empty

  // Allocates every field for n Gaussians with `sh_coeffs` SH coefficients (0 = RGB).
  void resize(int64_t n, int sh_coeffs_, bool with_phases);
  int64_t color_stride() const { return sh_coeffs == 0 ? 3 : 3 * int64_t(sh_coeffs); }
  // Throws fresnel::Error if the vector sizes disagree with count/sh_coeffs.
  void check_sizes(const std::string& where) const;
};

// double → float that saturates to ±inf instead of the undefined behaviour of an out-of-range cast.
inline float saturate_to_float(double d) {
  if (d > double(FLT_MAX)) return INFINITY;
  if (d < -double(FLT_MAX)) return -INFINITY;
  return static_cast<float>(d);  // NaN stays NaN
}

// Scales q (4 floats) to unit length, computed in double. A quaternion already of unit length within 1e-6
// is left untouched, so that lossless formats round-trip bit-exactly; a zero quaternion stays zero (it is
// reported by Gaussians::validate).
void normalize_quaternion(float* q);

// Throws fresnel::Error "<where>: Gaussian i: <field> is NaN|infinite" for the first non-finite value.
void check_finite(const GaussianArrays& g, const std::string& where);
// Number of non-finite values over every field.
int64_t count_non_finite(const GaussianArrays& g);

}  // namespace fresnel
