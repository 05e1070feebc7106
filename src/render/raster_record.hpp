// Layout of the packed per-Gaussian raster record and of the per-Gaussian gradient fields, shared by the CPU
// (raster_cpu.cpp) and CUDA (raster_cuda.cu) kernels so both read and write the same fields.
#pragma once

namespace fresnel::raster {

// Fields of a packed raster record (one per visible Gaussian): projected centre, conic, opacity, depth, colour,
// screen extent, cut-off k², then (phase blending only) cos and sin of the three per-channel phases.
enum Rec : int {
  kU = 0, kV, kConA, kConB, kConC, kOpacity, kDepth, kColR, kColG, kColB, kExtX, kExtY, kK2,
  kCos0, kCos1, kCos2, kSin0, kSin1, kSin2
};
// Record widths (padded): without phases, and with them.
constexpr int kRecordWidth = 16;
constexpr int kRecordWidthWithPhases = 24;
inline int record_width(bool phases) { return phases ? kRecordWidthWithPhases : kRecordWidth; }

// Gradient fields per Gaussian (the CPU keeps them per tile entry, field-major); the phase fields exist only
// where phase blending does (the CPU kernels).
enum GradField : int { gU = 0, gV, gA, gB, gC, gO, gZ, gCol0, gCol1, gCol2, gPhi0, gPhi1, gPhi2, kNumGrads };
constexpr int kNumGradsWithoutPhases = gPhi0;

}  // namespace fresnel::raster
