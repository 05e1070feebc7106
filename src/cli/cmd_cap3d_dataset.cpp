// `fresnel cap3d-dataset`: Cap3D renders → multi-view dataset (docs/data.md, docs/dataset.md).
#include <iostream>

#include "acquire/cap3d_dataset.hpp"
#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "data/synth_dataset.hpp"

namespace fresnel::cli {

void register_cap3d_dataset(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "cap3d-dataset",
      "Convert Cap3D objects (per-object zips with RGBA, 16-bit depth and camera JSON per view) into a multi-view "
      "dataset in the layout `fresnel synth` writes: input view + K nearest views, cameras in our convention, metric "
      "depth and masks, images resized with intrinsics scaled. Resumable; blank and corrupt objects are skipped.");
  auto o = std::make_shared<acquire::Cap3dDatasetOptions>();
  auto split = std::make_shared<std::string>("0.8,0.1,0.1");
  cmd->add_option("--input_dir", o->input_dir, "Folder of Cap3D zips (per-object or outer), or one zip file")
      ->required();
  cmd->add_option("--out", o->out_dir, "Output dataset directory")->required();
  cmd->add_option("--objects", o->objects, "Number of objects")->capture_default_str();
  cmd->add_option("--views", o->views, "Views per object besides the input view")->capture_default_str();
  cmd->add_option("--size", o->image_size, "Image width and height in pixels")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed for objects and input views")->capture_default_str();
  cmd->add_option("--split", *split, "Train,val,test fractions, e.g. 0.8,0.1,0.1")->capture_default_str();
  set_guarded_callback(cmd, [o, split] {
    o->split = synth::parse_split(*split);
    const auto s = acquire::convert_cap3d_dataset(*o);
    for (const auto& p : s.problems) std::cerr << "warning: " << p << "\n";
    std::cout << "cap3d-dataset: " << s.written << " objects written, " << s.existing << " already present ("
              << s.split_counts[0] << " train, " << s.split_counts[1] << " val, " << s.split_counts[2] << " test) x "
              << (o->views + 1) << " views of " << o->image_size << "x" << o->image_size << "; skipped " << s.blank
              << " blank, " << s.too_few_views << " with too few views, " << s.corrupt << " corrupt, " << s.unsafe
              << " unsafe names -> " << o->out_dir << "\n";
    if (s.written + s.existing < o->objects)
      std::cerr << "warning: only " << (s.written + s.existing) << " of " << o->objects
                << " requested objects could be converted from " << o->input_dir << "\n";
  });
}

}  // namespace fresnel::cli
