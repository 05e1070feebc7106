#include "encode/depth_anything.hpp"

#include <torch/torch.h>

#include "core/error.hpp"
#include "encode/vit_inference.hpp"

namespace fresnel::encode {
namespace F = torch::nn::functional;
using torch::nn::Conv2d;
using torch::nn::Conv2dOptions;

DepthAnythingConfig DepthAnythingConfig::preset(const std::string& size) {
  DepthAnythingConfig c;
  c.name = size;
  if (size == "small") {
    c.backbone = Dinov2Config::preset("small"), c.features = 64, c.out_channels = {48, 96, 192, 384};
    c.layer_indices = {2, 5, 8, 11};
  } else if (size == "base") {
    c.backbone = Dinov2Config::preset("base"), c.features = 128, c.out_channels = {96, 192, 384, 768};
    c.layer_indices = {2, 5, 8, 11};
  } else if (size == "large") {
    c.backbone = Dinov2Config::preset("large"), c.features = 256, c.out_channels = {256, 512, 1024, 1024};
    c.layer_indices = {4, 11, 17, 23};
  } else {
    throw UsageError("unknown Depth Anything V2 size '" + size + "' (use small, base or large)");
  }
  return c;
}

DaResidualUnitImpl::DaResidualUnitImpl(int64_t c) {
  convolution1 = register_module("convolution1", Conv2d(Conv2dOptions(c, c, 3).padding(1)));
  convolution2 = register_module("convolution2", Conv2d(Conv2dOptions(c, c, 3).padding(1)));
}

torch::Tensor DaResidualUnitImpl::forward(const torch::Tensor& x) {
  return x + convolution2->forward(torch::relu(convolution1->forward(torch::relu(x))));
}

DaFusionLayerImpl::DaFusionLayerImpl(int64_t c) {
  projection = register_module("projection", Conv2d(Conv2dOptions(c, c, 1)));
  residual_layer1 = register_module("residual_layer1", DaResidualUnit(c));
  residual_layer2 = register_module("residual_layer2", DaResidualUnit(c));
}

torch::Tensor DaFusionLayerImpl::forward(torch::Tensor x, const torch::Tensor& residual_in,
                                         const std::vector<int64_t>& size) {
  if (residual_in.defined()) {
    torch::Tensor residual = residual_in;
    if (residual.sizes() != x.sizes())
      residual = F::interpolate(residual, F::InterpolateFuncOptions()
                                              .size(std::vector<int64_t>{x.size(2), x.size(3)})
                                              .mode(torch::kBilinear)
                                              .align_corners(false));
    x = x + residual_layer1->forward(residual);
  }
  x = residual_layer2->forward(x);
  auto opts = F::InterpolateFuncOptions().mode(torch::kBilinear).align_corners(true);
  if (size.empty()) {
    opts.scale_factor(std::vector<double>{2.0, 2.0});
  } else {
    opts.size(size);
  }
  return projection->forward(F::interpolate(x, opts));
}

DaReassembleLayerImpl::DaReassembleLayerImpl(int64_t in, int64_t out, int i) : index(i) {
  projection = register_module("projection", Conv2d(Conv2dOptions(in, out, 1)));
  // Factors 4, 2, 1, ½ (transposed convs up, identity, strided conv down).
  if (i == 0 || i == 1) {
    const int64_t f = i == 0 ? 4 : 2;
    up =
        register_module("resize", torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(out, out, f).stride(f)));
  } else if (i == 3) {
    down = register_module("resize", Conv2d(Conv2dOptions(out, out, 3).stride(2).padding(1)));
  }
}

torch::Tensor DaReassembleLayerImpl::forward(const torch::Tensor& x) {
  auto y = projection->forward(x);
  if (up) return up->forward(y);
  if (down) return down->forward(y);
  return y;
}

DepthAnythingImpl::DepthAnythingImpl(const DepthAnythingConfig& c) : config(c) {
  if (c.layer_indices.size() != 4) throw Error("Depth Anything: exactly four backbone blocks feed the DPT head");
  for (int64_t i : c.layer_indices)
    if (i < 0 || i >= c.backbone.layers)
      throw Error("Depth Anything: head block index " + std::to_string(i) + " outside the backbone's " +
                  std::to_string(c.backbone.layers) + " blocks");
  backbone = register_module("backbone", Dinov2(c.backbone));
  // Nested modules named like transformers: neck.reassemble_stage.layers.N, neck.convs.N, neck.fusion_stage.layers.N.
  auto neck = register_module("neck", std::make_shared<torch::nn::Module>());
  auto stage = neck->register_module("reassemble_stage", std::make_shared<torch::nn::Module>());
  reassemble = stage->register_module("layers", torch::nn::ModuleList());
  convs = neck->register_module("convs", torch::nn::ModuleList());
  auto fusion_stage = neck->register_module("fusion_stage", std::make_shared<torch::nn::Module>());
  fusion = fusion_stage->register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < 4; ++i) {
    reassemble->push_back(DaReassembleLayer(c.backbone.hidden, c.out_channels[i], i));
    convs->push_back(Conv2d(Conv2dOptions(c.out_channels[i], c.features, 3).padding(1).bias(false)));
    fusion->push_back(DaFusionLayer(c.features));
  }
  auto head = register_module("head", std::make_shared<torch::nn::Module>());
  conv1 = head->register_module("conv1", Conv2d(Conv2dOptions(c.features, c.features / 2, 3).padding(1)));
  conv2 = head->register_module("conv2", Conv2d(Conv2dOptions(c.features / 2, c.head_hidden, 3).padding(1)));
  conv3 = head->register_module("conv3", Conv2d(Conv2dOptions(c.head_hidden, 1, 1)));
}

torch::Tensor DepthAnythingImpl::forward(const torch::Tensor& pixels) {
  const int64_t b = pixels.size(0), p = config.backbone.patch;
  const int64_t gh = pixels.size(2) / p, gw = pixels.size(3) / p;
  // The head's convolutions run on libtorch's OpenMP threads (oneDNN); keep OpenBLAS's own pool out of their way.
  SingleThreadedBlas blas;
  auto tokens = backbone->intermediate_patch_tokens(pixels, config.layer_indices);
  std::vector<torch::Tensor> feats(4);
  for (int i = 0; i < 4; ++i) {
    // Tokens are already channels-last (B,H,W,C); oneDNN convolves that layout ~1.5× faster than NCHW here,
    // and every later conv/upsample keeps it.
    auto x = tokens[i]
                 .reshape({b, gh, gw, config.backbone.hidden})
                 .permute({0, 3, 1, 2})
                 .contiguous(torch::MemoryFormat::ChannelsLast);
    x = reassemble[i]->as<DaReassembleLayerImpl>()->forward(x);
    feats[i] = convs[i]->as<torch::nn::Conv2dImpl>()->forward(x);
  }
  // Fuse from the deepest level up; each step resizes to the next level's size, the last one doubles.
  torch::Tensor fused;
  for (int k = 0; k < 4; ++k) {
    const int level = 3 - k;
    std::vector<int64_t> size;
    if (level > 0) size = {feats[level - 1].size(2), feats[level - 1].size(3)};
    auto* layer = fusion[k]->as<DaFusionLayerImpl>();
    fused = fused.defined() ? layer->forward(fused, feats[level], size) : layer->forward(feats[level], {}, size);
  }
  auto y = conv1->forward(fused);
  y = F::interpolate(y, F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{gh * p, gw * p})
                            .mode(torch::kBilinear)
                            .align_corners(true));
  y = torch::relu(conv3->forward(torch::relu(conv2->forward(y))));
  return y.squeeze(1).contiguous();
}

std::vector<std::pair<std::string, std::vector<int64_t>>> depth_anything_parameter_shapes(
    const DepthAnythingConfig& c) {
  auto t = dinov2_parameter_shapes(c.backbone, "backbone.");
  const int64_t d = c.backbone.hidden, f = c.features;
  for (int i = 0; i < 4; ++i) {
    const int64_t o = c.out_channels[i];
    const std::string r = "neck.reassemble_stage.layers." + std::to_string(i) + ".";
    t.push_back({r + "projection.weight", {o, d, 1, 1}});
    t.push_back({r + "projection.bias", {o}});
    if (i == 0 || i == 1) {
      const int64_t k = i == 0 ? 4 : 2;
      t.push_back({r + "resize.weight", {o, o, k, k}});
      t.push_back({r + "resize.bias", {o}});
    } else if (i == 3) {
      t.push_back({r + "resize.weight", {o, o, 3, 3}});
      t.push_back({r + "resize.bias", {o}});
    }
  }
  for (int i = 0; i < 4; ++i)
    t.push_back({"neck.convs." + std::to_string(i) + ".weight", {f, c.out_channels[i], 3, 3}});
  for (int i = 0; i < 4; ++i) {
    const std::string l = "neck.fusion_stage.layers." + std::to_string(i) + ".";
    t.push_back({l + "projection.weight", {f, f, 1, 1}});
    t.push_back({l + "projection.bias", {f}});
    for (const char* r : {"residual_layer1", "residual_layer2"})
      for (const char* cv : {"convolution1", "convolution2"}) {
        t.push_back({l + r + "." + cv + ".weight", {f, f, 3, 3}});
        t.push_back({l + r + "." + cv + ".bias", {f}});
      }
  }
  t.push_back({"head.conv1.weight", {f / 2, f, 3, 3}});
  t.push_back({"head.conv1.bias", {f / 2}});
  t.push_back({"head.conv2.weight", {c.head_hidden, f / 2, 3, 3}});
  t.push_back({"head.conv2.bias", {c.head_hidden}});
  t.push_back({"head.conv3.weight", {1, c.head_hidden, 1, 1}});
  t.push_back({"head.conv3.bias", {1}});
  return t;
}

}  // namespace fresnel::encode
