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

}  // namespace fresnel::cli
