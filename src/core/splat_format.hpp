// The antimatter15 WebGL splat viewer's `.splat` format: 32 bytes per splat, no header, little endian,
//   position 3×f32 | scale 3×f32 (linear) | RGBA 4×u8 (colour, opacity) | rotation 4×u8 (w,x,y,z: q·128+128)
// written in descending importance volume·opacity = exp(Σ ln s)·sigmoid(logit o), as its convert.py does.
// Quantisation (docs/formats.md): colour and opacity round to k/255 (error ≤ 0.5/255 after clamping to
// [0,1]); the rotation is normalised, rounded to (b−128)/128 and renormalised on read (‖q' − q‖ ≤ 0.021);
// positions and scales are exact. Only the view-independent colour (SH degree 0) is stored.
#pragma once
#include <iosfwd>
#include <string>

#include "core/gaussian_arrays.hpp"

namespace fresnel {

constexpr int kSplatRecordBytes = 32;
// Documented worst-case errors of a .splat round trip (tests hold the code to them).
constexpr double kSplatColorMaxError = 0.5 / 255.0;
constexpr double kSplatRotationMaxError = 0.021;

// Reads all records; a length that is not a multiple of 32 bytes is an error naming `where`.
GaussianArrays read_splat(std::istream& in, const std::string& where);
// Writes records sorted by importance (stable, so ties keep their order).
void write_splat(std::ostream& out, const GaussianArrays& g);

}  // namespace fresnel
