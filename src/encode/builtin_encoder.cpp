#include "encode/builtin_encoder.hpp"

#include "core/error.hpp"

namespace fresnel::encode {

namespace F = torch::nn::functional;
using torch::nn::Conv2d;
using torch::nn::Conv2dOptions;
using torch::nn::ReLU;

BuiltinEncoderImpl::BuiltinEncoderImpl(BuiltinEncoderOptions o) : options_(o) {
  const int64_t C = o.channels;
  if (C < 1 || o.grid < 1) throw Error("builtin encoder: channels and grid must be positive");
  // Two stride-2 convolutions from a 4·grid input give the grid; each output cell sees a 4×4-pixel patch and its
  // neighbourhood, like a ViT patch token.
  stem = register_module("stem", torch::nn::Sequential(Conv2d(Conv2dOptions(5, 32, 3).stride(2).padding(1)), ReLU(),
                                                       Conv2d(Conv2dOptions(32, C, 3).stride(2).padding(1)), ReLU(),
                                                       Conv2d(Conv2dOptions(C, C, 3).padding(1)), ReLU()));
  // Dilated context convolutions widen the receptive field to most of the object (shape cues for depth and for
  // what lies behind the visible surface).
  context =
      register_module("context", torch::nn::Sequential(Conv2d(Conv2dOptions(C, C, 3).padding(2).dilation(2)), ReLU(),
                                                       Conv2d(Conv2dOptions(C, C, 3).padding(4).dilation(4)), ReLU(),
                                                       Conv2d(Conv2dOptions(C, C, 3).padding(8).dilation(8)), ReLU(),
                                                       Conv2d(Conv2dOptions(C, C, 3).padding(1))));
  if (o.fine) {
    local = register_module("local", torch::nn::Sequential(Conv2d(Conv2dOptions(5, 16, 3).padding(1)), ReLU(),
                                                           Conv2d(Conv2dOptions(16, 16, 3).padding(1)), ReLU()));
    fuse = register_module("fuse", torch::nn::Sequential(Conv2d(Conv2dOptions(C + 16, C, 1)), ReLU()));
  }
  depth_head = register_module("depth_head", torch::nn::Sequential(Conv2d(Conv2dOptions(C, 32, 3).padding(1)), ReLU(),
                                                                   Conv2d(Conv2dOptions(32, 1, 3).padding(1))));
}

EncoderOutput BuiltinEncoderImpl::forward(const torch::Tensor& image) {
  if (image.dim() != 4 || image.size(1) != 3) throw Error("builtin encoder: expected an image batch (B,3,H,W)");
  const auto H = image.size(2), W = image.size(3);
  const int64_t coarse = options_.fine ? std::max<int64_t>(1, options_.grid / 4) : options_.grid;
  auto mean = torch::tensor({0.485f, 0.456f, 0.406f}, image.options()).view({1, 3, 1, 1});
  auto stdv = torch::tensor({0.229f, 0.224f, 0.225f}, image.options()).view({1, 3, 1, 1});
  // Normalised image plus two coordinate channels at n×n: position is a strong cue for depth and lets the
  // per-patch decoder know where it is.
  auto with_coords = [&](int64_t n) {
    auto x = F::interpolate(
        (image - mean) / stdv,
        F::InterpolateFuncOptions().size(std::vector<int64_t>{n, n}).mode(torch::kBilinear).align_corners(false));
    auto lin = torch::linspace(-1.0, 1.0, n, image.options());
    auto yy = lin.view({1, 1, n, 1}).expand({x.size(0), 1, n, n});
    auto xx = lin.view({1, 1, 1, n}).expand({x.size(0), 1, n, n});
    return torch::cat({x, xx, yy}, 1);
  };
  auto f = stem->forward(with_coords(4 * coarse));
  f = f + context->forward(f);
  auto d = depth_head->forward(f);
  d = options_.metric_depth ? F::softplus(d + 2.0) : torch::sigmoid(d);
  d = F::interpolate(
      d, F::InterpolateFuncOptions().size(std::vector<int64_t>{H, W}).mode(torch::kBilinear).align_corners(false));
  if (options_.fine) {
    const int64_t g = options_.grid;
    auto up = F::interpolate(
        f, F::InterpolateFuncOptions().size(std::vector<int64_t>{g, g}).mode(torch::kBilinear).align_corners(false));
    f = fuse->forward(torch::cat({up, local->forward(with_coords(g))}, 1));
  }
  return {f, d};
}

}  // namespace fresnel::encode
