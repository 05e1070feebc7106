// The original's decoder_inference.py as a function: precomputed DINOv2 features ({stem}_dinov2.bin, 37×37×C
// float32 HWC) and a depth map ({stem}_depth.bin, S×S float32) → Gaussians with an experiment-2 checkpoint.
#pragma once
#include <string>

#include "core/gaussians.hpp"

namespace fresnel::infer {

// depth_size: the depth is first resized to this side with PIL's NEAREST rule, as the original did (518).
// Throws fresnel::Error naming the file for a missing/truncated file or a feature width the checkpoint
// was not trained with.
Gaussians decode_feature_files(const std::string& features_path, const std::string& depth_path,
                               const std::string& checkpoint, int64_t depth_size = 518);

}  // namespace fresnel::infer
