// DINOv2 vision transformer (ViT-S/B/L/g, patch 14) as a libtorch module whose parameter names are exactly those of
// the Hugging Face checkpoints `facebook/dinov2-{small,base,large,giant}` (embeddings.cls_token,
// encoder.layer.N.attention.attention.query.weight, …); weights.hpp maps the original facebookresearch names.
// Architecture (pre-norm blocks, LayerScale, GELU MLP or SwiGLU for ViT-g, final LayerNorm, eps 1e-6) follows
// transformers' modeling_dinov2.py and facebookresearch/dinov2 vision_transformer.py.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <string>
#include <vector>

namespace fresnel::encode {

struct Dinov2Config {
  std::string name = "small";
  int64_t hidden = 384;
  int64_t layers = 12;
  int64_t heads = 6;
  double mlp_ratio = 4.0;
  bool swiglu = false;  // ViT-g uses a SwiGLU feed-forward
  int64_t patch = 14;
  int64_t image_size = 518;  // size the position embedding was trained for (37×37 grid + CLS)
  int64_t registers = 0;     // "with registers" variants
  double layer_norm_eps = 1e-6;
  // Position-embedding interpolation when the token grid differs from the trained one: 0 → resize to the exact
  // grid (transformers); 0.1 → scale factor (grid + 0.1)/M (facebookresearch). Bicubic, align_corners=false.
  double interpolate_offset = 0.0;

  int64_t grid() const { return image_size / patch; }
  int64_t num_positions() const { return grid() * grid() + 1; }
  int64_t mlp_hidden() const;  // 4·D, or SwiGLU's (⌊4D·2/3⌋ + 7) / 8 · 8
  // small | base | large | giant, as published (hidden 384/768/1024/1536, layers 12/12/24/40, heads 6/12/16/24).
  static Dinov2Config preset(const std::string& size);
};

struct Dinov2PatchEmbeddingsImpl : torch::nn::Module {
  explicit Dinov2PatchEmbeddingsImpl(const Dinov2Config& c);
  torch::nn::Conv2d projection{nullptr};
};
TORCH_MODULE(Dinov2PatchEmbeddings);

struct Dinov2EmbeddingsImpl : torch::nn::Module {
  explicit Dinov2EmbeddingsImpl(const Dinov2Config& c);
  // (B,3,H,W) → (B, 1 + registers + (H/14)(W/14), D): CLS, registers, patches (row-major).
  torch::Tensor forward(const torch::Tensor& pixels);
  torch::Tensor interpolated_positions(int64_t grid_h, int64_t grid_w) const;
  Dinov2Config config;
  torch::Tensor cls_token, mask_token, position_embeddings, register_tokens;
  Dinov2PatchEmbeddings patch_embeddings{nullptr};
};
TORCH_MODULE(Dinov2Embeddings);

struct Dinov2SelfAttentionImpl : torch::nn::Module {
  explicit Dinov2SelfAttentionImpl(const Dinov2Config& c);
  torch::Tensor forward(const torch::Tensor& x);
  // [query; key; value] weight (3D, D) and bias (3D) for the inference path's single projection GEMM; rebuilt
  // whenever one of the six parameters is replaced or modified (loading weights), reused otherwise (rebuilt every
  // call for parameters created under c10::InferenceMode, which have no version counter).
  std::pair<torch::Tensor, torch::Tensor> fused_qkv();
  int64_t heads;
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};

 private:
  torch::Tensor fused_weight_, fused_bias_;
  std::vector<int64_t> fused_stamp_;  // data pointer and version counter of each source parameter
};
TORCH_MODULE(Dinov2SelfAttention);

struct Dinov2AttentionOutputImpl : torch::nn::Module {
  explicit Dinov2AttentionOutputImpl(const Dinov2Config& c);
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(Dinov2AttentionOutput);

struct Dinov2AttentionImpl : torch::nn::Module {
  explicit Dinov2AttentionImpl(const Dinov2Config& c);
  torch::Tensor forward(const torch::Tensor& x);
  Dinov2SelfAttention attention{nullptr};
  Dinov2AttentionOutput output{nullptr};
};
TORCH_MODULE(Dinov2Attention);

struct Dinov2LayerScaleImpl : torch::nn::Module {
  explicit Dinov2LayerScaleImpl(const Dinov2Config& c);
  torch::Tensor lambda1;
};
TORCH_MODULE(Dinov2LayerScale);

// fc1 → GELU → fc2, or for SwiGLU weights_in → silu(x1)·x2 → weights_out.
struct Dinov2MlpImpl : torch::nn::Module {
  explicit Dinov2MlpImpl(const Dinov2Config& c);
  torch::Tensor forward(const torch::Tensor& x);
  bool swiglu;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, weights_in{nullptr}, weights_out{nullptr};
};
TORCH_MODULE(Dinov2Mlp);

// x + γ1·Attn(LN1(x)); then x + γ2·MLP(LN2(x)).
struct Dinov2LayerImpl : torch::nn::Module {
  explicit Dinov2LayerImpl(const Dinov2Config& c);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Dinov2Attention attention{nullptr};
  Dinov2LayerScale layer_scale1{nullptr}, layer_scale2{nullptr};
  Dinov2Mlp mlp{nullptr};
};
TORCH_MODULE(Dinov2Layer);

struct Dinov2EncoderImpl : torch::nn::Module {
  explicit Dinov2EncoderImpl(const Dinov2Config& c);
  torch::nn::ModuleList layer;
};
TORCH_MODULE(Dinov2Encoder);

struct Dinov2Impl : torch::nn::Module {
  explicit Dinov2Impl(const Dinov2Config& c);
  // Final-LayerNormed tokens (B, 1 + registers + N, D) — transformers' last_hidden_state.
  torch::Tensor forward(const torch::Tensor& pixels);
  // The same tokens before the final LayerNorm — facebookresearch's forward_features(...)["x_prenorm"].
  torch::Tensor prenorm_tokens(const torch::Tensor& pixels);
  // Patch features (B, H/14, W/14, D): last_hidden_state without CLS and registers, token t ↔ (t / gw, t % gw).
  torch::Tensor patch_features(const torch::Tensor& pixels);
  // LayerNormed patch tokens (B, N, D) after each listed block (0-based), as Depth Anything consumes them.
  std::vector<torch::Tensor> intermediate_patch_tokens(const torch::Tensor& pixels, const std::vector<int64_t>& blocks);
  Dinov2Config config;
  Dinov2Embeddings embeddings{nullptr};
  Dinov2Encoder encoder{nullptr};
  torch::nn::LayerNorm layernorm{nullptr};
};
TORCH_MODULE(Dinov2);

// TRELLIS's image conditioning (TrellisImageTo3DPipeline.encode_image), i.e. its features.pt: an RGB image
// (518,518,3) in [0,1] → ImageNet mean/std → every x_prenorm token (CLS, registers, 37×37 patches row-major) →
// LayerNorm without affine (eps 1e-5) → (1, 1 + registers + 1369, D); (1, 1374, 1024) for ViT-L/14 with 4 registers.
torch::Tensor trellis_condition_features(Dinov2Impl& model, const torch::Tensor& rgb);
// "DINOv2-large, 4 registers → (1, 1374, 1024)" for logs and metadata.
std::string trellis_condition_description(const Dinov2Config& c);

// Parameter names and shapes the architecture has (what a checkpoint must contain), from the config alone.
std::vector<std::pair<std::string, std::vector<int64_t>>> dinov2_parameter_shapes(const Dinov2Config& c,
                                                                                  const std::string& prefix = "");

}  // namespace fresnel::encode
