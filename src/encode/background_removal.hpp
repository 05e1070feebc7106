// Background removal and object-centred cropping before encoding (the original's remove_background()):
//   (a) an image whose alpha channel has any α < 255 → RGB·α on black, no crop (as the original);
//   (b) otherwise a U²-Net-family ONNX model (rembg's "u2net") run through OpenCV DNN when a model file is given;
//   (c) otherwise GrabCut seeded with the image border as background (built in, no weights).
// For (b) and (c) the mask's bounding box (α > 0.8·255) is enlarged by 20% to a square crop, shifted to stay in the
// image, the RGBA crop is resized to 518² with PIL's LANCZOS and composited on black.
// The result is the exact image the encoders see; preprocess saves it so training uses the same crop.
#pragma once
#include <torch/types.h>

#include <array>
#include <memory>
#include <optional>
#include <string>

namespace fresnel::encode {

struct PreparedImage {
  torch::Tensor rgb;   // (518,518,3) uint8: the encoders' input before normalisation
  std::string method;  // "alpha", "u2net", "grabcut", or "<method>, no foreground: whole image"
  bool cropped = false;
  std::array<int, 4> box{};  // crop (left, top, right, bottom) in source pixels when cropped
};

// The original's square crop around pixels with α > 0.8·255 (20% padding, shifted into the image, clamped);
// nullopt when no pixel qualifies.
std::optional<std::array<int, 4>> foreground_crop_box(const torch::Tensor& alpha_u8);

// Crops rgb (H,W,3) + alpha (H,W) uint8 to `box`, resizes to 518² (PIL LANCZOS on RGBA) and composites on black
// exactly as the original (float32 RGB·α, truncated to 8 bits).
torch::Tensor crop_and_composite(const torch::Tensor& rgb_u8, const torch::Tensor& alpha_u8,
                                 const std::array<int, 4>& box);

// Border-seeded GrabCut foreground mask (H,W) uint8 0/255 (largest connected component).
torch::Tensor grabcut_mask(const torch::Tensor& rgb_u8);

// U²-Net ONNX model with rembg's pre/post-processing: RGB → PIL LANCZOS 320² → ÷ max pixel → ImageNet mean/std →
// model → first output → min-max normalised → 8 bits → PIL LANCZOS back to the image size.
class U2NetMasker {
 public:
  explicit U2NetMasker(const std::string& onnx_path);
  ~U2NetMasker();
  torch::Tensor mask(const torch::Tensor& rgb_u8);
  // Exposed for tests: the model input (1,3,320,320) and the post-processing of a raw prediction (h,w) float.
  static torch::Tensor model_input(const torch::Tensor& rgb_u8);
  static torch::Tensor mask_from_prediction(const torch::Tensor& prediction, int64_t width, int64_t height);

 private:
  struct Net;
  std::unique_ptr<Net> net_;
  std::string path_;
};

class BackgroundRemover {
 public:
  // bg_model: path to a U²-Net ONNX file, or empty for the built-in GrabCut.
  explicit BackgroundRemover(const std::string& bg_model = "");
  ~BackgroundRemover();
  // image: (H,W,3) or (H,W,4) uint8.
  PreparedImage prepare(const torch::Tensor& image_u8);

 private:
  std::unique_ptr<U2NetMasker> u2net_;
};

// Without background removal: RGB (alpha dropped, as PIL's convert('RGB')) resized to 518² with PIL BILINEAR.
PreparedImage prepare_without_removal(const torch::Tensor& image_u8);

}  // namespace fresnel::encode
