// Reading and writing Gaussians in every supported file format, chosen by the file extension:
//   .ply    standard 3DGS PLY (pre-activation values, read by property name; also the original's 14-property
//           and TRELLIS's 17-property PLYs)
//   .splat  antimatter15 splat viewer format (32 bytes per splat, quantised colour/opacity/rotation)
//   .bin    the original Fresnel's 14 floats per Gaussian, converted from its −Z axis convention
// See docs/formats.md for byte layouts and docs/conventions.md for axes.
#pragma once
#include <string>

#include "core/gaussians.hpp"

namespace fresnel {

enum class GaussianFormat { Ply, Splat, LegacyBin };

struct GaussianLoadOptions {
  // false (default): NaN/Inf values, non-positive scales etc. are one clear fresnel::Error naming the file.
  // true: the data is returned as read so that tools such as `fresnel info` can report what is wrong.
  bool allow_invalid = false;
};

// Format for a path by extension (case-insensitive); throws fresnel::Error naming the path when unknown.
GaussianFormat gaussian_format_for_path(const std::string& path);
// True when the extension names a supported Gaussian format.
bool is_gaussian_file(const std::string& path);
// Comma-separated list of supported extensions, for messages.
std::string supported_gaussian_extensions();

// Loads unbatched float32 CPU Gaussians. Every problem (missing file, truncated body, bad header, NaN, …)
// is a fresnel::Error whose message starts with the path.
Gaussians load_gaussians(const std::string& path);
Gaussians load_gaussians(const std::string& path, const GaussianLoadOptions& options);

// Writes atomically (temporary file + rename): on any error the target is left untouched.
// Accepts unbatched Gaussians or a batch of one, on any device and floating dtype. Fields a format cannot
// hold (phases in .splat/.bin, SH beyond degree 0 in .splat/.bin) are dropped with a warning.
void save_gaussians(const std::string& path, const Gaussians& g);

}  // namespace fresnel
