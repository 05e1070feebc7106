#include "cli/file_checks.hpp"

#include "core/gaussian_io.hpp"
#include "core/image_io.hpp"

namespace fresnel::cli {

namespace {

// Accepts the paths `accepts` recognises; otherwise the error names the path and what was expected.
CLI::Validator path_check(bool (*accepts)(const std::string&), const std::string& expected, const std::string& name) {
  return CLI::Validator(
      [accepts, expected](std::string& path) -> std::string {
        return accepts(path) ? "" : "'" + path + "' is not " + expected;
      },
      name);
}

}  // namespace

CLI::Validator gaussian_file_check() {
  return path_check(is_gaussian_file, "a Gaussian file (" + supported_gaussian_extensions() + ")", "GAUSSIANS");
}

CLI::Validator gaussian_format_check() { return CLI::IsMember(gaussian_format_names()); }

CLI::Validator image_file_check() {
  return path_check(is_image_file, "an image (" + supported_image_extensions() + ")", "IMAGE");
}

void add_gaussian_save_options(CLI::App* cmd, GaussianSaveOptions& options) {
  cmd->add_option("--spz_version", options.spz_version,
                  ".spz output: 3 (gzip, read by most viewers), 4 (zstd streams, newer readers) or 2 (oldest readers)")
      ->check(CLI::IsMember({2, 3, 4}))
      ->capture_default_str();
}

}  // namespace fresnel::cli
