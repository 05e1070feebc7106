// `fresnel preprocess`: for every image in a folder, DINOv2 patch features and a Depth Anything depth map in the
// original's file layout (core/feature_files.hpp), plus — with background removal — the exact 518² image the
// encoders saw ({stem}_input.png), which training uses as its target so features, depth and target share one crop.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fresnel::encode {

struct PreprocessOptions {
  std::string data_dir;
  std::string output_dir;  // empty → data_dir/features
  int64_t depth_size = 256;
  std::string dinov2_size = "small";
  std::string dinov2_weights;  // safetensors (transformers or facebookresearch names)
  std::string depth_weights;   // safetensors (transformers or Depth-Anything-V2 names)
  bool remove_background = false;
  std::string bg_model;  // U²-Net ONNX; empty → GrabCut
  int shard_index = 0, shard_count = 1;
  bool progress = true;
  torch::Device device = torch::kCPU;  // where DINOv2 and Depth Anything run
};

struct PreprocessStats {
  int64_t total = 0;  // images in this shard
  int64_t processed = 0;
  int64_t skipped = 0;  // outputs already present
  int64_t failed = 0;
  std::vector<std::string> failures;  // "path: reason"
};

// Sorted image files (core image_extensions(), any case) directly in `dir`; throws when the folder is missing.
std::vector<std::string> list_images(const std::string& dir);
// "i/n" with 0 ≤ i < n → {i, n}; UsageError otherwise.
std::pair<int, int> parse_shard(const std::string& text);
// Name of the cropped model-input image written beside the features.
std::string input_image_file_name(const std::string& stem);

// Runs the batch; a failing image is logged and counted and the batch goes on. Throws for setup errors
// (missing weights, bad options, unreadable data_dir).
PreprocessStats run_preprocess(const PreprocessOptions& options);

}  // namespace fresnel::encode
