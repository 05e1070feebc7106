// Reading and writing Gaussians in every supported file format, chosen by the file extension.
// gaussian_formats() is the one table of formats: extension checks, `--format` values, help strings and the
// load/save dispatch are all derived from it, so a new format is one row there plus its reader/writer file.
// See docs/formats.md for byte layouts and docs/conventions.md for axes.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include "core/gaussian_arrays.hpp"
#include "core/gaussians.hpp"

namespace fresnel {

// Choices a writer may honour (formats without such a choice ignore them).
struct GaussianSaveOptions {
  int spz_version = 3;  // .spz: 2, 3 (gzip; what most viewers read) or 4 (zstd streams)
};

// One Gaussian file format.
struct GaussianFormat {
  std::string name;                                                    // what `--format` options take: "ply"
  std::string extension;                                               // lower case with the dot: ".ply"
  std::string description;                                             // a few words for help strings
  GaussianArrays (*read)(std::istream& in, const std::string& where);  // nullptr: the format cannot be read
  void (*write)(std::ostream& out, const GaussianArrays& g,
                const GaussianSaveOptions& options);  // nullptr: the format cannot be written
  bool keeps_sh = false;      // false: SH beyond degree 0 is reduced to the view-independent colour on writing
  bool keeps_phases = false;  // false: phases are dropped on writing
};

// Every supported format, in the order help strings list them.
const std::vector<GaussianFormat>& gaussian_formats();

// Format for a path by extension (case-insensitive); throws fresnel::Error naming the path when unknown.
const GaussianFormat& gaussian_format_for_path(const std::string& path);
// Format by name ("ply"); throws fresnel::UsageError listing the names when unknown.
const GaussianFormat& gaussian_format_named(const std::string& name);
// True when the extension names a supported Gaussian format.
bool is_gaussian_file(const std::string& path);
// ".ply, .splat, .bin", for messages.
std::string supported_gaussian_extensions();
// {"ply", "splat", "bin"}: the values of `--format` options.
std::vector<std::string> gaussian_format_names();
// ".ply (…), .splat (…), .bin (…)": every format with its description, for help strings.
std::string gaussian_formats_help();

struct GaussianLoadOptions {
  // false (default): NaN/Inf values, non-positive scales etc. are one clear fresnel::Error naming the file.
  // true: the data is returned as read so that tools such as `fresnel info` can report what is wrong.
  bool allow_invalid = false;
};

// Loads unbatched float32 CPU Gaussians. Every problem (missing file, truncated body, bad header, NaN, …)
// is a fresnel::Error whose message starts with the path.
Gaussians load_gaussians(const std::string& path);
Gaussians load_gaussians(const std::string& path, const GaussianLoadOptions& options);

// Writes atomically (temporary file + rename): on any error the target is left untouched.
// Accepts unbatched Gaussians or a batch of one, on any device and floating dtype. Fields a format cannot
// hold (GaussianFormat::keeps_sh / keeps_phases) are dropped with a warning.
void save_gaussians(const std::string& path, const Gaussians& g, const GaussianSaveOptions& options = {});

}  // namespace fresnel
