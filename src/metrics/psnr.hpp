// Peak signal-to-noise ratio on images in [0,1]: PSNR = 10·log10(1 / MSE), computed per image, then averaged
// over images by the caller (never PSNR of the pooled MSE). Identical images (MSE ≤ 1e-10) report the cap,
// kPsnrCapDb = 100 dB, so a perfect match is a finite number that averages sensibly.
#pragma once
#include <torch/types.h>

namespace fresnel {

constexpr double kPsnrCapDb = 100.0;

// One image pair of any (equal) shape; values in [0,1]. Throws fresnel::Error on a shape mismatch.
double psnr(const torch::Tensor& prediction, const torch::Tensor& target);
// (B,) float64 PSNR of each image of a batch (first dimension = image).
torch::Tensor psnr_per_image(const torch::Tensor& prediction, const torch::Tensor& target);

}  // namespace fresnel
