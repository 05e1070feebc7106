// `fresnel convert IN OUT`: Gaussians from any supported format to any other, chosen by extension.
// The output is written atomically, so a failed conversion never leaves a partial file.
#include <iostream>
#include <memory>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/file_checks.hpp"
#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "core/log.hpp"

namespace fresnel::cli {

void register_convert(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "convert", "Convert Gaussians between " + supported_gaussian_extensions() + " (format from the extension)");
  auto in = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto save = std::make_shared<GaussianSaveOptions>();
  cmd->add_option("IN", *in, "Input Gaussians: " + gaussian_formats_help())->required()->check(gaussian_file_check());
  cmd->add_option("OUT", *out, "Output file; its extension (" + supported_gaussian_extensions() + ") picks the format")
      ->required()
      ->check(gaussian_file_check());
  add_gaussian_save_options(cmd, *save);
  set_guarded_callback(cmd, [in, out, save] {
    const Gaussians g = load_gaussians(*in);
    save_gaussians(*out, g, *save);
    log_info("wrote " + std::to_string(g.count()) + " Gaussians to " + *out);
  });
}

}  // namespace fresnel::cli
