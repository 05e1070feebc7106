// `fresnel cvs bootstrap` (= generate_cvs_bootstrap_data.py, spec §9.4): a decoder checkpoint turns each input
// image into Gaussians (input camera frame), which are rendered from orbit poses around the object (azimuth
// 2πi/n, elevation ~U(−30°, 45°) seeded, view 0 at azimuth 0) with our rasterizer at fx = image size. Layout:
//   OUT/image_NNNN/input.png, input_features.npy (37,37,C; DINOv2 decoders only), input_depth.npy (1,S,S: the
//   depth the decoder used), view_NNN/{rgb.png, depth.npy (1,S,S), pose.json (relative pose, our frame)},
//   grid_visualization.png (--visualize).
// Images whose last view's pose.json exists are skipped, so an interrupted run resumes.
#pragma once
#include <cstdint>
#include <string>

namespace fresnel::synthesis {

struct BootstrapOptions {
  std::string input_dir, decoder_checkpoint, output_dir = "cvs_training_synthetic";
  int num_poses = 8;
  int image_size = 256;
  int64_t max_images = 0;
  bool visualize = false;
  uint64_t seed = 0;
  bool progress = true;
};

// Returns the number of images in the output. Throws fresnel::Error naming the file on bad input (checked
// before the first image is written).
int64_t generate_bootstrap_data(const BootstrapOptions& options);

}  // namespace fresnel::synthesis
