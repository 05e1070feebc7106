// `fresnel sample-cap3d`: single training images from Cap3D renders (docs/data.md).
#include <iostream>

#include "acquire/cap3d_sample.hpp"
#include "cli/cli_common.hpp"
#include "cli/commands.hpp"

namespace fresnel::cli {

void register_sample_cap3d(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "sample-cap3d",
      "Write one view of each of N Cap3D objects as {prefix}_{uid}.png (RGBA composited on black), chosen "
      "deterministically from the seed; blank renders and corrupt zips are skipped and counted. Reads per-object "
      "zips and outer compressed_imgs_perobj_XX.zip files in place. A re-run keeps the files already written.");
  auto o = std::make_shared<acquire::SampleCap3dOptions>();
  cmd->add_option("--input_dir", o->input_dir, "Folder of Cap3D zips (per-object or outer), or one zip file")
      ->required();
  cmd->add_option("--output_dir", o->output_dir, "Output folder")->capture_default_str();
  cmd->add_option("--num_samples", o->num_samples, "Number of images to write")->capture_default_str();
  cmd->add_option("--prefix", o->prefix, "File name prefix, e.g. abo, shapenet, objaverse")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed for the choice of objects and views")->capture_default_str();
  set_guarded_callback(cmd, [o] {
    const auto s = acquire::sample_cap3d(*o);
    for (const auto& p : s.problems) std::cerr << "warning: " << p << "\n";
    std::cout << "sample-cap3d: " << s.written << " written, " << s.existing << " already present; skipped " << s.blank
              << " blank, " << s.corrupt << " corrupt, " << s.unsafe << " unsafe names; " << s.available
              << " objects found -> " << o->output_dir << "\n";
    if (s.written + s.existing < o->num_samples)
      std::cerr << "warning: only " << (s.written + s.existing) << " of " << o->num_samples
                << " requested images could be made from " << o->input_dir << "\n";
  });
}

}  // namespace fresnel::cli
