// cv::Mat (CV_32F, 1 or 3 channels, RGB) → (H,W) / (H,W,C) float tensor, for the project's image and npy writers.
#pragma once
#include <torch/torch.h>

#include <opencv2/core.hpp>

namespace fresnel::acquire {

inline torch::Tensor mat_to_tensor(const cv::Mat& m) {
  cv::Mat c = m.isContinuous() ? m : m.clone();
  auto t = torch::from_blob(c.data, {c.rows, c.cols, c.channels()}, torch::kFloat32).clone();
  return c.channels() == 1 ? t.squeeze(-1) : t;
}

}  // namespace fresnel::acquire
