#include "encode/background_removal.hpp"

#include <torch/torch.h>

#include <cmath>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.hpp"
#include "encode/image_preprocess.hpp"

namespace fresnel::encode {
namespace {

cv::Mat as_mat(const torch::Tensor& t) {  // shares memory; t must be contiguous uint8 (H,W[,C])
  const int c = t.dim() == 3 ? static_cast<int>(t.size(2)) : 1;
  return cv::Mat(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC(c), t.data_ptr<uint8_t>());
}

torch::Tensor from_mat(const cv::Mat& m) { return torch::from_blob(m.data, {m.rows, m.cols}, torch::kUInt8).clone(); }

void check_rgb(const torch::Tensor& t, const char* who) {
  if (t.scalar_type() != torch::kUInt8 || t.dim() != 3 || t.size(2) != 3)
    throw Error(std::string(who) + ": expected an (H,W,3) uint8 image");
}

}  // namespace

std::optional<std::array<int, 4>> foreground_crop_box(const torch::Tensor& alpha_u8) {
  auto fg = alpha_u8.to(torch::kFloat) > 0.8 * 255;
  auto idx = fg.nonzero();  // (K,2) rows (y, x)
  if (idx.size(0) == 0) return std::nullopt;
  const int64_t y_min = idx.select(1, 0).min().item<int64_t>(), y_max = idx.select(1, 0).max().item<int64_t>();
  const int64_t x_min = idx.select(1, 1).min().item<int64_t>(), x_max = idx.select(1, 1).max().item<int64_t>();
  const int h = static_cast<int>(alpha_u8.size(0)), w = static_cast<int>(alpha_u8.size(1));
  // Same arithmetic as the original (Python int() truncates toward zero; size // 2 floors a non-negative int).
  const double cx = (x_min + x_max) / 2.0, cy = (y_min + y_max) / 2.0;
  const int size = static_cast<int>(static_cast<double>(std::max(x_max - x_min, y_max - y_min)) * 1.2);
  int left = static_cast<int>(std::trunc(cx - size / 2)), top = static_cast<int>(std::trunc(cy - size / 2));
  int right = static_cast<int>(std::trunc(cx + size / 2)), bottom = static_cast<int>(std::trunc(cy + size / 2));
  if (left < 0) right -= left, left = 0;
  if (top < 0) bottom -= top, top = 0;
  if (right > w) left -= right - w, right = w;
  if (bottom > h) top -= bottom - h, bottom = h;
  left = std::max(0, left), top = std::max(0, top), right = std::min(w, right), bottom = std::min(h, bottom);
  // A one-pixel foreground gives a zero-size box; keep at least one pixel so the resize is defined.
  if (right <= left) right = std::min(w, left + 1), left = right - 1;
  if (bottom <= top) bottom = std::min(h, top + 1), top = bottom - 1;
  return std::array<int, 4>{left, top, right, bottom};
}

torch::Tensor crop_and_composite(const torch::Tensor& rgb_u8, const torch::Tensor& alpha_u8,
                                 const std::array<int, 4>& b) {
  check_rgb(rgb_u8, "crop_and_composite");
  auto rgba = torch::cat({rgb_u8, alpha_u8.unsqueeze(-1)}, -1);
  auto crop = rgba.slice(0, b[1], b[3]).slice(1, b[0], b[2]).contiguous();
  auto resized = pil_resize_rgba(crop, kEncoderInputSize, kEncoderInputSize, PilFilter::Lanczos);
  auto f = resized.to(torch::kFloat) / 255.0f;
  auto rgb = f.slice(2, 0, 3) * f.slice(2, 3, 4);
  return (rgb * 255.0f).to(torch::kUInt8).contiguous();  // float → uint8 truncates, like NumPy's astype
}

torch::Tensor grabcut_mask(const torch::Tensor& rgb_in) {
  check_rgb(rgb_in, "grabcut_mask");
  auto rgb = rgb_in.contiguous();
  const int h = static_cast<int>(rgb.size(0)), w = static_cast<int>(rgb.size(1));
  cv::Mat bgr;
  cv::cvtColor(as_mat(rgb), bgr, cv::COLOR_RGB2BGR);
  // GrabCut is O(pixels × iterations); a ≤256-pixel working copy keeps it well under a second.
  const double s = std::min(1.0, 256.0 / std::max(h, w));
  cv::Mat small;
  if (s < 1.0) {
    cv::resize(bgr, small, cv::Size(std::max(1, int(std::lround(w * s))), std::max(1, int(std::lround(h * s)))), 0, 0,
               cv::INTER_AREA);
  } else {
    small = bgr;
  }
  cv::Mat mask(small.rows, small.cols, CV_8U, cv::Scalar(cv::GC_PR_FGD));
  const int band = std::max(2, static_cast<int>(std::lround(0.03 * std::max(small.rows, small.cols))));
  if (small.rows <= 2 * band + 1 || small.cols <= 2 * band + 1) return torch::zeros({h, w}, torch::kUInt8);
  mask.rowRange(0, band).setTo(cv::GC_BGD);
  mask.rowRange(small.rows - band, small.rows).setTo(cv::GC_BGD);
  mask.colRange(0, band).setTo(cv::GC_BGD);
  mask.colRange(small.cols - band, small.cols).setTo(cv::GC_BGD);
  cv::Mat bgd, fgd;
  try {
    cv::grabCut(small, mask, cv::Rect(), bgd, fgd, 5, cv::GC_INIT_WITH_MASK);
  } catch (const cv::Exception&) {
    return torch::zeros({h, w}, torch::kUInt8);  // degenerate colour statistics (e.g. a flat image): no foreground
  }
  cv::Mat fg = (mask == cv::GC_FGD) | (mask == cv::GC_PR_FGD);
  // Keep the largest connected component: GrabCut leaves specks where the background has texture.
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(fg, labels, stats, centroids, 8);
  int best = 0, best_area = 0;
  for (int i = 1; i < n; ++i)
    if (stats.at<int>(i, cv::CC_STAT_AREA) > best_area) best = i, best_area = stats.at<int>(i, cv::CC_STAT_AREA);
  cv::Mat keep = best > 0 ? cv::Mat(labels == best) : cv::Mat::zeros(fg.size(), CV_8U);
  cv::Mat full;
  if (s < 1.0) {
    cv::resize(keep, full, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
    cv::threshold(full, full, 127, 255, cv::THRESH_BINARY);
  } else {
    full = keep;
  }
  return from_mat(full);
}

struct U2NetMasker::Net {
  cv::dnn::Net net;
};

U2NetMasker::U2NetMasker(const std::string& onnx_path) : net_(std::make_unique<Net>()), path_(onnx_path) {
  try {
    net_->net = cv::dnn::readNetFromONNX(onnx_path);
  } catch (const cv::Exception& e) {
    throw Error(onnx_path + ": cannot load the background model as ONNX (" + std::string(e.what()) + ")");
  }
  if (net_->net.empty()) throw Error(onnx_path + ": cannot load the background model as ONNX");
}

U2NetMasker::~U2NetMasker() = default;

torch::Tensor U2NetMasker::model_input(const torch::Tensor& rgb_u8) {
  check_rgb(rgb_u8, "U2Net");
  auto im = pil_resize(rgb_u8.contiguous(), 320, 320, PilFilter::Lanczos).to(torch::kDouble);
  im = im / std::max(im.max().item<double>(), 1e-6);  // rembg divides by the brightest value, not 255
  auto mean = torch::tensor({kImagenetMean[0], kImagenetMean[1], kImagenetMean[2]}, torch::kDouble);
  auto std = torch::tensor({kImagenetStd[0], kImagenetStd[1], kImagenetStd[2]}, torch::kDouble);
  return ((im - mean) / std).permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat).contiguous();
}

torch::Tensor U2NetMasker::mask_from_prediction(const torch::Tensor& prediction, int64_t width, int64_t height) {
  auto p = prediction.to(torch::kFloat);
  const float ma = p.max().item<float>(), mi = p.min().item<float>();
  p = (p - mi) / (ma - mi);  // rembg: no guard, a constant map gives NaN → 0 after the cast below
  p = torch::nan_to_num(p, 0.0);
  auto m8 = (p * 255.0f).clamp(0, 255).to(torch::kUInt8).contiguous();
  return pil_resize(m8, width, height, PilFilter::Lanczos);
}

torch::Tensor U2NetMasker::mask(const torch::Tensor& rgb_u8) {
  auto input = model_input(rgb_u8);
  const int sizes[4] = {1, 3, 320, 320};
  cv::Mat blob(4, sizes, CV_32F, input.data_ptr<float>());
  cv::Mat out;
  try {
    net_->net.setInput(blob);
    // U²-Net's fused map d0 is the first of its seven outputs (rembg takes outputs[0]).
    std::vector<cv::Mat> outs;
    net_->net.forward(outs, net_->net.getUnconnectedOutLayersNames());
    if (outs.empty()) throw Error(path_ + ": the background model produced no output");
    out = outs[0];
  } catch (const cv::Exception& e) {
    throw Error(path_ + ": background model failed (" + std::string(e.what()) + ")");
  }
  if (out.total() != 320u * 320u && out.total() % (320u * 320u) != 0)
    throw Error(path_ + ": background model output has " + std::to_string(out.total()) +
                " values; a U²-Net map of 320×320 was expected");
  auto pred = torch::from_blob(out.ptr<float>(), {320, 320}, torch::kFloat).clone();
  return mask_from_prediction(pred, rgb_u8.size(1), rgb_u8.size(0));
}

BackgroundRemover::BackgroundRemover(const std::string& bg_model) {
  if (!bg_model.empty()) u2net_ = std::make_unique<U2NetMasker>(bg_model);
}
BackgroundRemover::~BackgroundRemover() = default;

PreparedImage prepare_without_removal(const torch::Tensor& image_u8) {
  PreparedImage p;
  auto rgb = image_u8.slice(2, 0, 3).contiguous();
  p.rgb = pil_resize(rgb, kEncoderInputSize, kEncoderInputSize, PilFilter::Bilinear);
  p.method = "none";
  return p;
}

PreparedImage BackgroundRemover::prepare(const torch::Tensor& image_u8) {
  if (image_u8.scalar_type() != torch::kUInt8 || image_u8.dim() != 3 ||
      (image_u8.size(2) != 3 && image_u8.size(2) != 4))
    throw Error("background removal: expected an (H,W,3|4) uint8 image");
  auto rgb = image_u8.slice(2, 0, 3).contiguous();
  if (image_u8.size(2) == 4) {
    auto alpha = image_u8.select(2, 3);
    if ((alpha < 255).any().item<bool>()) {
      // Original: premultiply in float32, truncate to 8 bits, no crop; then the usual BILINEAR 518 resize.
      auto f = image_u8.to(torch::kFloat) / 255.0f;
      auto pre = ((f.slice(2, 0, 3) * f.slice(2, 3, 4)) * 255.0f).to(torch::kUInt8).contiguous();
      PreparedImage p;
      p.rgb = pil_resize(pre, kEncoderInputSize, kEncoderInputSize, PilFilter::Bilinear);
      p.method = "alpha";
      return p;
    }
  }
  const std::string method = u2net_ ? "u2net" : "grabcut";
  auto mask = u2net_ ? u2net_->mask(rgb) : grabcut_mask(rgb);
  auto box = foreground_crop_box(mask);
  if (!box) {
    PreparedImage p = prepare_without_removal(rgb);
    p.method = method + ", no foreground: whole image";
    return p;
  }
  PreparedImage p;
  p.rgb = crop_and_composite(rgb, mask, *box);
  p.method = method;
  p.cropped = true;
  p.box = *box;
  return p;
}

}  // namespace fresnel::encode
