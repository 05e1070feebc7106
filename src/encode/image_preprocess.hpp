// Image preparation for the encoders, matching the reference pipeline (PIL + NumPy) bit for bit on 8-bit images:
//   RGB → PIL resize 518×518 BILINEAR (aspect not preserved) → /255 → ImageNet mean/std → (1,3,518,518).
// PIL's resize is a separable convolution whose kernel is widened by the scale factor on downscale (so BILINEAR
// is antialiased, unlike OpenCV's INTER_LINEAR), computed with 22-bit fixed-point coefficients and an 8-bit
// intermediate image after the horizontal pass. pil_resize reproduces that arithmetic exactly.
#pragma once
#include <torch/types.h>

namespace fresnel::encode {

constexpr int64_t kEncoderInputSize = 518;  // DINOv2 / Depth Anything input (37×37 patches of 14)
constexpr double kImagenetMean[3] = {0.485, 0.456, 0.406};
constexpr double kImagenetStd[3] = {0.229, 0.224, 0.225};

enum class PilFilter { Bilinear, Lanczos };

// Resizes (H,W,C) uint8 as PIL's Image.resize does for 8-bit modes (L, RGB; no alpha premultiplication), or
// (H,W[,C]) float32 as PIL's mode "F" (same kernels, double accumulation, no rounding).
torch::Tensor pil_resize(const torch::Tensor& image, int64_t out_w, int64_t out_h, PilFilter filter);
// PIL's resize of an RGBA uint8 image: premultiply alpha (RGBa), resize, un-premultiply — what Image.resize does
// for mode RGBA with any filter but NEAREST.
torch::Tensor pil_resize_rgba(const torch::Tensor& rgba, int64_t out_w, int64_t out_h, PilFilter filter);

// (H,W,3) uint8 → (1,3,518,518) float32 ImageNet-normalised, resizing with PIL BILINEAR unless already 518².
torch::Tensor encoder_input(const torch::Tensor& rgb_u8);

// Float image in [0,1] from image_io (8-bit source) → exact uint8 (round(x·255)).
torch::Tensor to_u8(const torch::Tensor& image01);

}  // namespace fresnel::encode
