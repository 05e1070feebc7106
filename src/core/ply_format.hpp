// The standard 3D Gaussian Splatting PLY (Kerbl et al. 2023) on plain arrays. Torch-free; see docs/formats.md.
// Vertex properties are looked up by *name*, so the standard layout
//   x y z nx ny nz f_dc_0..2 f_rest_0..M-1 opacity scale_0..2 rot_0..3
// the original Fresnel's 14-property layout (no normals, no f_rest) and TRELLIS's 17-property layout all read
// the same way. Stored values are pre-activation: scale = ln s, opacity = logit o, rot = (w,x,y,z) not
// necessarily unit, f_dc = SH DC coefficient (for plain RGB: (c − 0.5)/C0), f_rest channel-major.
#pragma once
#include <iosfwd>
#include <string>

#include "core/gaussian_arrays.hpp"

namespace fresnel {

// Reads a binary-little-endian or ASCII 3DGS PLY. Degree-0 files (no f_rest_*) give plain RGB colours
// (0.5 + C0·f_dc, not clamped); files with f_rest_* give SH coefficients. Optional "phase_0..2" (a Fresnel
// extension) are read into phases. Unknown extra properties and elements are skipped with one warning.
// Errors name `where`: missing properties, truncated body, wrong vertex count, bad header.
GaussianArrays read_gaussian_ply(std::istream& in, const std::string& where);

// Writes the standard layout, binary little endian, all properties float; normals are 0. phase_0..2 are
// appended after rot_3 when the Gaussians have phases. Opacity is clamped to [1e-7, 1 − 1e-7] before the
// logit so the file never holds infinities.
void write_gaussian_ply(std::ostream& out, const GaussianArrays& g);

}  // namespace fresnel
