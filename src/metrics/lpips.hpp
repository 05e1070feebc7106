// LPIPS perceptual distance (Zhang et al. 2018, richzhang/PerceptualSimilarity v0.1) with the AlexNet or VGG16
// feature trunk, loaded from a safetensors file the user provides (no weights ship with Fresnel, none are
// downloaded). When no file is given, callers report LPIPS as unavailable; it is never estimated.
//
// Computation, for images in [0,1]: x → 2x − 1 → (x − shift)/scale with shift = (−0.030, −0.088, −0.188),
// scale = (0.458, 0.448, 0.450) → five ReLU feature maps of the trunk → each unit-normalised along channels
// (f / (‖f‖₂ + 1e-10)) → squared difference → 1×1 convolution to one channel (lin0..lin4, no bias, weights ≥ 0)
// → spatial mean → sum over the five layers.
//
// Tensor names in the safetensors file (float32/16/bf16; the torchvision and reference names, so a converted
// checkpoint needs no renaming):
//   alex: features.{0,3,6,8,10}.{weight,bias}  conv 11×11/4 (3→64), 5×5 (64→192), 3×3 (192→384, 384→256, 256→256)
//   vgg:  features.{0,2,5,7,10,12,14,17,19,21,24,26,28}.{weight,bias}  3×3 convs of VGG16 (64,64,128,128,256×3,512×6)
//   both: lin{0..4}.model.1.weight  shape (1, C_k, 1, 1), C = alex (64,192,384,256,256), vgg (64,128,256,512,512)
// The trunk is taken from the names present (features.2.weight exists only in VGG) unless the metadata key
// "net" says "alex" or "vgg". See docs/metrics.md.
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fresnel {

enum class LpipsNet { Alex, Vgg };
const char* lpips_net_name(LpipsNet net);

class Lpips {
 public:
  // Loads and validates every tensor (presence, shape, finite, lin weights ≥ 0). Throws fresnel::Error naming the
  // file and the tensor on any problem.
  static std::shared_ptr<Lpips> load(const std::string& safetensors_path);
  // The tensors a file must hold for a trunk, with their shapes (for docs, converters and tests).
  static std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(LpipsNet net);

  LpipsNet net() const { return net_; }
  const std::string& path() const { return path_; }
  // (B,3,H,W) images in [0,1] → (B,) distances. Differentiable w.r.t. both inputs; the weights are constants.
  torch::Tensor distance(const torch::Tensor& a, const torch::Tensor& b) const;
  // The five ReLU feature maps of the trunk (before normalisation) for inputs already scaled by the
  // scaling layer; exposed for tests.
  std::vector<torch::Tensor> features(const torch::Tensor& x_minus1_1) const;

 private:
  LpipsNet net_ = LpipsNet::Alex;
  std::string path_;
  std::vector<torch::Tensor> conv_w_, conv_b_, lin_w_;
};

}  // namespace fresnel
