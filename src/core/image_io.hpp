// Image files (png, jpg, webp, …) ↔ float tensors in [0,1], (H,W,C) with C = 1, 3 or 4, RGB(A) order.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

namespace fresnel {

enum class ResizeFilter { Bilinear, Area, Lanczos, Nearest };

// Loads an image as (H,W,3) RGB float32, or (H,W,4) RGBA when keep_alpha and the file has alpha.
// Throws fresnel::Error naming the file when missing or undecodable.
torch::Tensor load_image(const std::string& path, bool keep_alpha = false);
// Saves (H,W,C) or (C,H,W) float in [0,1] (clamped) as 8-bit; format from the extension; atomic.
void save_image(const std::string& path, const torch::Tensor& image);
// Resizes (H,W,C) float32 to (height,width,C).
torch::Tensor resize_image(const torch::Tensor& image, int width, int height, ResizeFilter filter);
// The input image extensions (those the original globbed), lower case with the dot: the one list that file
// searches, checks and messages use.
const std::vector<std::string>& image_extensions();
// ".png, .jpg, .jpeg, .webp", for messages and help strings.
std::string supported_image_extensions();
// True when the extension (any case) is one of image_extensions().
bool is_image_file(const std::string& path);

}  // namespace fresnel
