#include "core/image_io.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/file_extension.hpp"

namespace fresnel {

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> extensions = {".png", ".jpg", ".jpeg", ".webp"};
  return extensions;
}

std::string supported_image_extensions() { return join_list(image_extensions()); }

bool is_image_file(const std::string& path) {
  const auto& all = image_extensions();
  return std::find(all.begin(), all.end(), lower_extension(path)) != all.end();
}

torch::Tensor load_image(const std::string& path, bool keep_alpha) {
  if (!std::filesystem::exists(path)) throw file_error(path, "image file not found");
  cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED | cv::IMREAD_ANYDEPTH);
  if (m.empty()) throw file_error(path, "cannot decode image (corrupt or unsupported format)");
  double scale = 1.0 / 255.0;
  if (m.depth() == CV_16U) scale = 1.0 / 65535.0;
  cv::Mat rgb;
  const int ch = m.channels();
  if (ch == 1) {
    cv::cvtColor(m, rgb, cv::COLOR_GRAY2RGB);
  } else if (ch == 3) {
    cv::cvtColor(m, rgb, cv::COLOR_BGR2RGB);
  } else if (ch == 4) {
    cv::cvtColor(m, rgb, keep_alpha ? cv::COLOR_BGRA2RGBA : cv::COLOR_BGRA2RGB);
  } else {
    throw file_error(path, "unsupported channel count " + std::to_string(ch));
  }
  cv::Mat f;
  rgb.convertTo(f, CV_32F, scale);
  auto t = torch::from_blob(f.data, {f.rows, f.cols, f.channels()}, torch::kFloat32).clone();
  return t;
}

static cv::Mat to_mat8(const torch::Tensor& image_in) {
  torch::Tensor image = image_in.detach().to(torch::kCPU, torch::kFloat32);
  if (image.dim() == 2) image = image.unsqueeze(-1);
  if (image.dim() != 3) throw Error("save_image: expected (H,W,C) or (C,H,W) tensor");
  // Accept (C,H,W) when the first dimension looks like channels and the last does not.
  if (image.size(0) <= 4 && image.size(2) > 4) image = image.permute({1, 2, 0});
  image = image.clamp(0, 1).mul(255.0).round().to(torch::kUInt8).contiguous();
  const int h = image.size(0), w = image.size(1), c = image.size(2);
  cv::Mat m(h, w, CV_8UC(c), image.data_ptr<uint8_t>());
  cv::Mat out;
  if (c == 3) {
    cv::cvtColor(m, out, cv::COLOR_RGB2BGR);
  } else if (c == 4) {
    cv::cvtColor(m, out, cv::COLOR_RGBA2BGRA);
  } else {
    out = m.clone();
  }
  return out;
}

void save_image(const std::string& path, const torch::Tensor& image) {
  cv::Mat m = to_mat8(image);
  const std::string ext = lower_extension(path);
  atomic_write_path(path, [&](const std::string& tmp) {
    // OpenCV chooses the encoder from the extension, so encode to memory and write the bytes ourselves.
    std::vector<uchar> buf;
    if (!cv::imencode(ext.empty() ? ".png" : ext, m, buf)) throw file_error(path, "cannot encode image");
    atomic_write(tmp, [&](std::ostream& out) { out.write(reinterpret_cast<const char*>(buf.data()), buf.size()); });
  });
}

torch::Tensor resize_image(const torch::Tensor& image_in, int width, int height, ResizeFilter filter) {
  torch::Tensor image = image_in.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  const bool squeeze = image.dim() == 2;
  if (squeeze) image = image.unsqueeze(-1);
  const int h = image.size(0), w = image.size(1), c = image.size(2);
  if (c > 4) throw Error("resize_image: at most 4 channels supported");
  cv::Mat src(h, w, CV_32FC(c), image.data_ptr<float>());
  cv::Mat dst;
  int interp = cv::INTER_LINEAR;
  switch (filter) {
    case ResizeFilter::Bilinear:
      interp = cv::INTER_LINEAR;
      break;
    case ResizeFilter::Area:
      interp = cv::INTER_AREA;
      break;
    case ResizeFilter::Lanczos:
      interp = cv::INTER_LANCZOS4;
      break;
    case ResizeFilter::Nearest:
      interp = cv::INTER_NEAREST;
      break;
  }
  cv::resize(src, dst, cv::Size(width, height), 0, 0, interp);
  auto out = torch::from_blob(dst.data, {height, width, c}, torch::kFloat32).clone();
  return squeeze ? out.squeeze(-1) : out;
}

}  // namespace fresnel
