// The original Fresnel's Gaussian `.bin`: no header, 14 little-endian float32 per Gaussian
//   [px,py,pz, sx,sy,sz, qw,qx,qy,qz, r,g,b, opacity]   (activated values; N = file size / 56)
// in the original's −Z camera convention (x right, y up, z toward the viewer). Reading converts to ours
// (OpenCV: x right, y down, z forward) with p' = (x, −y, −z) and q' = (w, x, −y, −z) — conjugation by the
// 180° rotation about x; writing applies the same (self-inverse) map. Sign flips only: bit-exact both ways.
#pragma once
#include <iosfwd>
#include <string>

#include "core/gaussian_arrays.hpp"

namespace fresnel {

constexpr int kLegacyBinFloats = 14;
constexpr int kLegacyBinRecordBytes = kLegacyBinFloats * 4;

// Throws fresnel::Error naming `where` when the length is not a multiple of 56 bytes.
GaussianArrays read_legacy_bin(std::istream& in, const std::string& where);
// Colours: plain RGB as stored; SH data is reduced to its clamped degree-0 colour (the format holds RGB).
void write_legacy_bin(std::ostream& out, const GaussianArrays& g);

// The axis map between the original's −Z world and ours, applied in place to one Gaussian (self-inverse).
void flip_legacy_axes(float* position3, float* quat_wxyz);

}  // namespace fresnel
