// `fresnel convert IN OUT`: Gaussians from any supported format to any other, chosen by extension.
// The output is written atomically, so a failed conversion never leaves a partial file.
#include <iostream>
#include <memory>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "core/log.hpp"

namespace fresnel::cli {

void register_convert(CLI::App& app) {
  auto* cmd = app.add_subcommand("convert", "Convert Gaussians between .ply, .splat and .bin (format from the extension)");
  auto in = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("IN", *in, "Input Gaussians: .ply (3DGS, original 14-property or TRELLIS), .splat, or .bin "
                             "(the original's 14 floats per Gaussian)")
      ->required();
  cmd->add_option("OUT", *out, "Output file; its extension (.ply, .splat, .bin) picks the format")->required();
  cmd->callback([in, out] {
    const int rc = run_guarded([&] {
      for (const auto* p : {in.get(), out.get()})
        if (!is_gaussian_file(*p))
          throw UsageError("'" + *p + "' has no supported Gaussian extension (" + supported_gaussian_extensions() + ")");
      const Gaussians g = load_gaussians(*in);
      save_gaussians(*out, g);
      log_info("wrote " + std::to_string(g.count()) + " Gaussians to " + *out);
    });
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace fresnel::cli
