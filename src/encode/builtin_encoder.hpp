// The built-in image encoder: a small CNN trained end to end with the decoder, so training and inference work
// with no pretrained weights. It maps an image (B,3,H,W) in [0,1] to a (B,C,37,37) feature grid — the shape of
// DINOv2's patch tokens, so the decoders are shared — and a depth head predicts a depth map from the same
// features (supervised by the dataset's depth while training), so inference needs only an image.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/types.h>

namespace fresnel::encode {

struct BuiltinEncoderOptions {
  int64_t channels = 64;  // feature width C
  int64_t grid = 37;      // output grid (DINOv2's 37×37)
  // Fine grids (pixel-aligned decoding, e.g. grid = image size): the context network runs on a grid/4 grid and
  // is upsampled and fused with a shallow full-grid branch that sees the pixels themselves, so a fine grid costs
  // little more than a coarse one.
  bool fine = false;
  // Depth head output: true → metric depth along camera z (softplus, > 0); false → normalised depth in [0,1]
  // with 1 = near (sigmoid), the original's Depth Anything convention.
  bool metric_depth = true;
  // Fine grids only: refine the depth at the full grid from the fused features (a residual on the upsampled
  // coarse depth). The coarse head alone predicts depth on a grid/4 grid, so object edges are smeared over 4
  // pixels and the Gaussians there float between surface and background in novel views.
  bool fine_depth = false;
};

struct EncoderOutput {
  torch::Tensor features;  // (B,C,grid,grid)
  torch::Tensor depth;     // (B,1,H,W) at the input resolution
};

class BuiltinEncoderImpl : public torch::nn::Module {
 public:
  explicit BuiltinEncoderImpl(BuiltinEncoderOptions options = {});
  EncoderOutput forward(const torch::Tensor& image);
  const BuiltinEncoderOptions& options() const { return options_; }

  torch::nn::Sequential stem{nullptr}, context{nullptr}, depth_head{nullptr};
  torch::nn::Sequential local{nullptr}, fuse{nullptr};  // fine grids only
  torch::nn::Sequential depth_refine{nullptr};        // fine grids with fine_depth only

 private:
  BuiltinEncoderOptions options_;
};
TORCH_MODULE(BuiltinEncoder);

}  // namespace fresnel::encode
