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
  if (o.fine_depth && !o.fine) throw Error("builtin encoder: fine_depth needs a fine grid (pixel-aligned decoding)");
  depth_head = register_module("depth_head", torch::nn::Sequential(Conv2d(Conv2dOptions(C, 32, 3).padding(1)), ReLU(),
                                                                   Conv2d(Conv2dOptions(32, 1, 3).padding(1))));
  // Registered last so the other modules draw the same initial weights with and without it.
  if (o.fine_depth) {
    depth_refine = register_module(
        "depth_refine", torch::nn::Sequential(Conv2d(Conv2dOptions(C, 32, 3).padding(1)), ReLU(),
                                              Conv2d(Conv2dOptions(32, 32, 3).padding(1)), ReLU(),
                                              Conv2d(Conv2dOptions(32, 1, 3).padding(1))));
    // Zero residual at the start: an untrained model predicts the coarse depth.
    torch::NoGradGuard no_grad;
    auto last = depth_refine[4]->as<torch::nn::Conv2d>();
    last->weight.zero_();
    last->bias.zero_();
  }
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
  auto bilinear = [](const torch::Tensor& x, int64_t h, int64_t w) {
    if (x.size(2) == h && x.size(3) == w) return x;
    return F::interpolate(
        x, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
  };
  auto d = depth_head->forward(f);
  d = options_.metric_depth ? F::softplus(d + 2.0) : torch::sigmoid(d);
  if (options_.fine) {
    const int64_t g = options_.grid;
    f = fuse->forward(torch::cat({bilinear(f, g, g), local->forward(with_coords(g))}, 1));
    if (options_.fine_depth) {
      // The refinement r corrects the upsampled coarse depth: by the factor e^r (metric), or by r in logit space
      // (normalised depth), so both stay in range and r = 0 is the coarse depth exactly.
      auto r = depth_refine->forward(f);
      d = bilinear(d, g, g);
      d = options_.metric_depth ? d * torch::exp(r.clamp(-4.0, 4.0))
                                : torch::sigmoid(torch::logit(d.clamp(1e-6, 1.0 - 1e-6)) + r);
    }
  }
  return {f, bilinear(d, H, W)};
}

}  // namespace fresnel::encode
