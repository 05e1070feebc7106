// Niantic's `.spz` compressed Gaussian format (github.com/nianticlabs/spz), versions 2, 3 and 4.
//   v2/v3: one gzip stream holding a 16-byte header (magic "NGSP", version, count, SH degree, fractional bits,
//          flags, reserved) followed by the attribute blocks positions | alphas | colors | scales | rotations | SH.
//   v4:    a plain 32-byte header (same fields plus stream count and TOC offset), optional extension records,
//          a table of contents (compressed, uncompressed size as u64 per stream) and one zstd frame per
//          non-empty attribute block, in the same order.
// Quantisation (docs/formats.md): positions are 24-bit fixed point with 12 fractional bits (±2048 units,
// error ≤ 2^-13); scales are bytes of (ln s + 10)·16; alpha is a byte of the opacity; the DC colour is a byte
// of f_dc·0.15·255 + 127.5; rotations are "smallest three" 10-bit values (v3+) or xyz bytes (v2); SH bands
// are bytes of c·128 + 128 rounded to 8 − 5 bits (band 1) and 8 − 4 bits (bands 2, 3) buckets.
// Axes: SPZ stores RUB (x right, y up, z back); our files are RDF (OpenCV). Reading and writing negate y and
// z of positions, the quaternion's y and z, and the SH coefficients odd in y·z.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>

#include "core/gaussian_arrays.hpp"

namespace fresnel {

struct SpzWriteOptions {
  int version = 3;           // 2 or 3 (gzip) or 4 (zstd streams)
  int fractional_bits = 12;  // positions: 24-bit fixed point with this many fractional bits
  int sh1_bits = 5;          // SH band 1 precision (bucketing); bands 2+ use sh_rest_bits
  int sh_rest_bits = 4;
  bool antialiased = false;  // header flag 0x1: trained with Mip-Splatting's filters
};

// Documented worst-case round-trip errors (tests hold the code to them).
constexpr double kSpzPositionMaxError = 0.5 / 4096.0;  // with 12 fractional bits
constexpr double kSpzLogScaleMaxError = 0.5 / 16.0;    // |ln s' − ln s| inside ln s ∈ [−10, 5.9]
constexpr double kSpzAlphaMaxError = 0.5 / 255.0;
constexpr double kSpzDcMaxError = 0.5 / 255.0 / 0.15;  // on f_dc inside f_dc ∈ [−3.33, 3.33]
constexpr double kSpzRotationMaxErrorV3 = 0.003;       // ‖q' − ±q‖, smallest three
constexpr double kSpzRotationMaxErrorV2 = 0.1;  // ‖q' − ±q‖, xyz bytes: w = √(1 − |xyz|²) is ill-conditioned near 0

// Reads any supported version (detected from the first bytes); every problem is a fresnel::Error naming `where`.
GaussianArrays read_spz(std::istream& in, const std::string& where);
// Writes `options.version`; throws fresnel::Error when a position is outside the fixed-point range.
void write_spz(std::ostream& out, const GaussianArrays& g, const SpzWriteOptions& options);
inline void write_spz_default(std::ostream& out, const GaussianArrays& g) { write_spz(out, g, SpzWriteOptions{}); }

// The format's scalar codes, exposed for known-value tests.
namespace spz {
constexpr uint32_t kMagic = 0x5053474e;  // "NGSP"
constexpr double kColorScale = 0.15;
int32_t encode_position(double v, int fractional_bits);  // rounded fixed point (unclamped)
uint8_t encode_log_scale(double linear_scale);
double decode_log_scale(uint8_t b);  // → linear scale
uint8_t encode_dc(double f_dc);
double decode_dc(uint8_t b);  // → f_dc
uint8_t encode_sh(double c, int bits);
double decode_sh(uint8_t b);
// Quaternions here are x, y, z, w as SPZ orders them.
uint32_t encode_quaternion_smallest_three(const float xyzw[4]);
void decode_quaternion_smallest_three(uint32_t packed, float xyzw[4]);
void encode_quaternion_first_three(const float xyzw[4], uint8_t out[3]);
void decode_quaternion_first_three(const uint8_t in[3], float xyzw[4]);
}  // namespace spz

}  // namespace fresnel
