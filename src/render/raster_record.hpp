// Layout of the packed per-Gaussian raster record and of the per-Gaussian gradient fields, shared by the CPU
// (raster_cpu.cpp) and CUDA (raster_cuda.cu) kernels so both read and write the same fields.
#pragma once
#include "render/gaussian_math.hpp"

namespace fresnel::raster {

// Fields of a packed raster record (one per visible Gaussian): projected centre, conic, opacity, depth, colour,
// screen extent, cut-off k², then (phase blending only) cos and sin of the three per-channel phases.
enum Rec : int {
  kU = 0,
  kV,
  kConA,
  kConB,
  kConC,
  kOpacity,
  kDepth,
  kColR,
  kColG,
  kColB,
  kExtX,
  kExtY,
  kK2,
  kCos0,
  kCos1,
  kCos2,
  kSin0,
  kSin1,
  kSin2
};
// Record widths (padded): without phases, and with them.
constexpr int kRecordWidth = 16;
constexpr int kRecordWidthWithPhases = 24;
inline int record_width(bool phases) { return phases ? kRecordWidthWithPhases : kRecordWidth; }

// Gradient fields per Gaussian (the CPU keeps them per tile entry, field-major); the phase fields exist only
// where phase blending does (the CPU kernels).
enum GradField : int { gU = 0, gV, gA, gB, gC, gO, gZ, gCol0, gCol1, gCol2, gPhi0, gPhi1, gPhi2, kNumGrads };
constexpr int kNumGradsWithoutPhases = gPhi0;

// Projects one Gaussian and fills its record's fields kU…kK2 and colour (CPU and CUDA projection both call this, so
// they pack identical records). Colours are plain RGB (3 values) or SH coefficients (K×3, the first
// (degree+1)² used), evaluated along the view direction as max(0, 0.5 + Σ SH_k·c_k). Returns false when the
// Gaussian is culled or its opacity never reaches α = 1/255 (the record is then left incomplete).
template <typename S>
FRESNEL_HD bool pack_record(const gmath::CameraParams<S>& cam, const S* mean, const S* quat, const S* scale, S opacity,
                            const S* colors, bool sh, int degree, S* f) {
  gmath::ProjectionState<S> st;
  S u, v, conic[3], z, k2, ex, ey;
  if (!gmath::project(cam, mean, quat, scale, st, u, v, conic, z)) return false;
  opacity *= st.rho;  // the Mip filter's opacity compensation (1 with dilation)
  if (!gmath::support_extent(opacity, st.a, st.c, k2, ex, ey)) return false;
  f[kU] = u;
  f[kV] = v;
  f[kConA] = conic[0];
  f[kConB] = conic[1];
  f[kConC] = conic[2];
  f[kOpacity] = opacity;
  f[kDepth] = z;
  f[kExtX] = ex;
  f[kExtY] = ey;
  f[kK2] = k2;
  if (sh) {
    S d[3], b[16];
    gmath::view_dir(cam, mean, d);
    gmath::sh_basis(degree, d, b);
    const int used = (degree + 1) * (degree + 1);
    for (int ch = 0; ch < 3; ++ch) {
      S acc = S(0.5);
      for (int k = 0; k < used; ++k) acc += b[k] * colors[3 * k + ch];
      f[kColR + ch] = acc < S(0) ? S(0) : acc;  // std::max(acc, 0)
    }
  } else {
    for (int ch = 0; ch < 3; ++ch) f[kColR + ch] = colors[ch];
  }
  return true;
}

}  // namespace fresnel::raster
