// Per-image preprocessing outputs in the original's raw layouts (no header, little-endian float32):
//   {stem}_dinov2.bin  (37,37,C) row-major HWC DINOv2 patch tokens; C inferred from the size
//                      (any C ≥ 1 with size = 37·37·C·4; 384/768/1024 for DINOv2 small/base/large)
//   {stem}_depth.bin   (S,S) row-major depth in [0,1]; S = sqrt(size/4), an error when not a square
// In memory the features are (C,37,37) and the depth (S,S), float32 on the CPU.
#pragma once
#include <torch/types.h>

#include <string>

namespace fresnel {

constexpr int64_t kDinoGrid = 37;  // 518 / 14 patches per side

// "small" → "{stem}_dinov2.bin", "base" → "{stem}_dinov2_base.bin", "large" → "{stem}_dinov2_large.bin".
// Throws fresnel::UsageError for another size name.
std::string dinov2_file_name(const std::string& stem, const std::string& model_size);
std::string depth_file_name(const std::string& stem);  // "{stem}_depth.bin"
// Feature width of a DINOv2 size name (384/768/1024); UsageError for another name.
int64_t dinov2_channels(const std::string& model_size);

// Loads (C,37,37). expected_channels > 0 makes a different C an error. Errors name the path: missing file,
// empty or wrong-sized file, NaN/Inf values.
torch::Tensor load_dinov2_features(const std::string& path, int64_t expected_channels = 0);
// Saves a (C,37,37) tensor as HWC float32, atomically.
void save_dinov2_features(const std::string& path, const torch::Tensor& features_chw);

// Loads (S,S); errors name the path (size not 4·S², NaN/Inf).
torch::Tensor load_depth_bin(const std::string& path);
// Saves an (S,S) tensor (or (1,S,S)) as float32, atomically.
void save_depth_bin(const std::string& path, const torch::Tensor& depth);

}  // namespace fresnel
