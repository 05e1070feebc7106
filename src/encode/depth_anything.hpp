// Depth Anything V2 (S/B/L): a DINOv2 backbone whose LayerNormed patch tokens from four blocks feed a DPT head
// (reassemble: 1×1 projection + resize ×4/×2/×1/×½; 3×3 convs to `features` channels; four fusion blocks with
// pre-activation residual conv units and ×2 bilinear (align_corners) upsampling; head conv → bilinear to the input
// size → conv → ReLU → 1×1 conv → ReLU). Output: relative inverse depth (B,H,W), larger = nearer.
// Parameter names are those of `depth-anything/Depth-Anything-V2-*-hf`; weights.hpp maps the original repo's names.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>

#include <array>
#include <string>
#include <vector>

#include "encode/dinov2.hpp"

namespace fresnel::encode {

struct DepthAnythingConfig {
  std::string name = "small";
  Dinov2Config backbone = Dinov2Config::preset("small");
  int64_t features = 64;  // fusion width
  std::array<int64_t, 4> out_channels{48, 96, 192, 384};
  std::vector<int64_t> layer_indices{2, 5, 8, 11};  // 0-based backbone blocks feeding the head
  int64_t head_hidden = 32;
  // small: features 64, out [48,96,192,384], blocks [2,5,8,11]; base: 128, [96,192,384,768], [2,5,8,11];
  // large: 256, [256,512,1024,1024], [4,11,17,23].
  static DepthAnythingConfig preset(const std::string& size);
};

// Pre-activation residual unit: x + conv2(relu(conv1(relu(x)))).
struct DaResidualUnitImpl : torch::nn::Module {
  explicit DaResidualUnitImpl(int64_t c);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d convolution1{nullptr}, convolution2{nullptr};
};
TORCH_MODULE(DaResidualUnit);

struct DaFusionLayerImpl : torch::nn::Module {
  explicit DaFusionLayerImpl(int64_t c);
  // (fused + RCU1(residual)) → RCU2 → bilinear (align_corners) to `size` or ×2 → 1×1 projection.
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& residual, const std::vector<int64_t>& size);
  torch::nn::Conv2d projection{nullptr};
  DaResidualUnit residual_layer1{nullptr}, residual_layer2{nullptr};
};
TORCH_MODULE(DaFusionLayer);

struct DaReassembleLayerImpl : torch::nn::Module {
  DaReassembleLayerImpl(int64_t in, int64_t out, int index);
  torch::Tensor forward(const torch::Tensor& x);
  int index;
  torch::nn::Conv2d projection{nullptr}, down{nullptr};
  torch::nn::ConvTranspose2d up{nullptr};
};
TORCH_MODULE(DaReassembleLayer);

struct DepthAnythingImpl : torch::nn::Module {
  explicit DepthAnythingImpl(const DepthAnythingConfig& c);
  // ImageNet-normalised pixels (B,3,H,W), H and W multiples of 14 → relative inverse depth (B,H,W), ≥ 0.
  torch::Tensor forward(const torch::Tensor& pixels);
  DepthAnythingConfig config;
  Dinov2 backbone{nullptr};
  torch::nn::ModuleList reassemble, convs,
      fusion;  // neck.reassemble_stage.layers, neck.convs, neck.fusion_stage.layers
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};  // head.*
};
TORCH_MODULE(DepthAnything);

std::vector<std::pair<std::string, std::vector<int64_t>>> depth_anything_parameter_shapes(const DepthAnythingConfig& c);

}  // namespace fresnel::encode
