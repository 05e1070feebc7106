#include "metrics/psnr.hpp"

#include <torch/torch.h>

#include <cmath>

#include "core/error.hpp"

namespace fresnel {

static double psnr_from_mse(double mse) {
  if (!(mse > 1e-10)) return std::isnan(mse) ? mse : kPsnrCapDb;
  return std::min(kPsnrCapDb, -10.0 * std::log10(mse));
}

torch::Tensor psnr_per_image(const torch::Tensor& prediction, const torch::Tensor& target) {
  if (prediction.sizes() != target.sizes()) throw Error("psnr: prediction and target shapes differ");
  if (prediction.dim() < 1 || prediction.size(0) == 0) throw Error("psnr: expected a non-empty batch");
  const auto diff =
      (prediction.detach().to(torch::kCPU, torch::kFloat64) - target.detach().to(torch::kCPU, torch::kFloat64));
  const auto mse = diff.pow(2).reshape({diff.size(0), -1}).mean(1);
  auto out = torch::empty_like(mse);
  for (int64_t b = 0; b < mse.size(0); ++b) out[b] = psnr_from_mse(mse[b].item<double>());
  return out;
}

double psnr(const torch::Tensor& prediction, const torch::Tensor& target) {
  return psnr_per_image(prediction.unsqueeze(0), target.unsqueeze(0))[0].item<double>();
}

}  // namespace fresnel
