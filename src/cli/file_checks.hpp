// CLI11 checks for file arguments, built from the core format tables (gaussian_formats(), image_extensions()),
// so that every command accepts and names the same formats. A failed check is a usage error (exit 2) naming
// the file and the supported extensions.
#pragma once
#include <CLI/CLI.hpp>

#include "core/gaussian_io.hpp"

namespace fresnel::cli {

// The path's extension names a Gaussian file format (.ply, .splat, .bin, …).
CLI::Validator gaussian_file_check();
// A `--format` value: one of the Gaussian format names (ply, splat, bin, …).
CLI::Validator gaussian_format_check();
// The path's extension is an input image extension (.png, .jpg, …).
CLI::Validator image_file_check();
// The options of commands that write Gaussian files (`--spz_version`), stored into `options`.
void add_gaussian_save_options(CLI::App* cmd, GaussianSaveOptions& options);

}  // namespace fresnel::cli
