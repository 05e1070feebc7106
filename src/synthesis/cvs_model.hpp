// Consistency View Synthesis (spec §9.1, §16.4, §19): a U-Net that predicts a target view x0 from a noisy x_t,
// conditioned by cross-attention on image tokens (DINOv2 patch features or the built-in encoder's) and on 16
// tokens of the relative pose. Layer shapes follow the original, so the parameter count for a configuration is
// the original's (54,274,564 at 256², base 128). Images are (B,3,S,S) in [−1,1].
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "encode/builtin_encoder.hpp"

namespace fresnel::synthesis {

struct CVSConfig {
  int64_t image_size = 256;
  int64_t base_channels = 128;
  std::vector<int64_t> channel_mult = {1, 2, 3, 4};
  int64_t num_res_blocks = 2;
  std::vector<int64_t> attention_resolutions = {16, 8};
  int64_t pose_embed_dim = 256;
  int64_t image_embed_dim = 384;  // width of the conditioning features (DINOv2-S: 384; built-in encoder: its C)
  int64_t cross_attention_dim = 384;
  int64_t time_embed_dim = 256;
  int64_t num_timesteps = 1000;
  double ema_decay = 0.9999;
  int64_t image_tokens = 256;  // ImageFeatureAdapter's learnable queries
  int64_t pose_tokens = 16;
  // true: a built-in encoder (encode/builtin_encoder.hpp) computes the features from the input view and is
  // trained with the network, so no pretrained weights are needed; false: precomputed DINOv2 features.
  bool builtin_encoder = false;

  template <class Self, class Visit>
  static void fields(Self& c, Visit&& visit) {
    visit("image_size", c.image_size);
    visit("base_channels", c.base_channels);
    visit("channel_mult", c.channel_mult);
    visit("num_res_blocks", c.num_res_blocks);
    visit("attention_resolutions", c.attention_resolutions);
    visit("pose_embed_dim", c.pose_embed_dim);
    visit("image_embed_dim", c.image_embed_dim);
    visit("cross_attention_dim", c.cross_attention_dim);
    visit("time_embed_dim", c.time_embed_dim);
    visit("num_timesteps", c.num_timesteps);
    visit("ema_decay", c.ema_decay);
    visit("image_tokens", c.image_tokens);
    visit("pose_tokens", c.pose_tokens);
    visit("builtin_encoder", c.builtin_encoder);
  }
  std::vector<int64_t> channels() const;  // base·mult
  // Throws fresnel::UsageError naming the field (GroupNorm32 needs channels divisible by 32, the image size
  // must halve cleanly through the stages, heads must divide the widths).
  void validate() const;
  nlohmann::json to_json() const;
  static CVSConfig from_json(const nlohmann::json& j);  // throws fresnel::Error naming the field
  // --fast_mode: 128², base 64.
  static CVSConfig fast();
};

// Sinusoidal timestep embedding: freq_k = exp(−k·ln(1e4)/(dim/2 − 1)), cat(sin(t·f), cos(t·f)). t (B,) → (B,dim).
torch::Tensor sinusoidal_embedding(const torch::Tensor& t, int64_t dim);

// GroupNorm(32) computed in float32 whatever the input dtype (half-precision statistics overflow).
class GroupNorm32Impl : public torch::nn::GroupNormImpl {
 public:
  explicit GroupNorm32Impl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(GroupNorm32);

class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(int64_t in, int64_t out, int64_t time_dim);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t_emb);
  GroupNorm32 norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, skip{nullptr};  // skip: 1×1 when in ≠ out, else null
  torch::nn::Linear time_proj{nullptr};
};
TORCH_MODULE(ResBlock);

// Spatial tokens (B,C,H,W) attend to a context (B,N,ctx): 8 heads of 64, no q/k/v bias.
class CrossAttentionImpl : public torch::nn::Module {
 public:
  CrossAttentionImpl(int64_t query_dim, int64_t context_dim, int64_t heads = 8, int64_t dim_head = 64);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);
  torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr}, to_out{nullptr};
  int64_t heads, dim_head;
};
TORCH_MODULE(CrossAttention);

// Self-attention over the H×W grid whose logits get 0.1·cos(2π‖p_i − p_j‖/(|λ|·H + 1e-6)) added; λ learnable.
// O((HW)²) memory.
class FresnelWaveAttentionImpl : public torch::nn::Module {
 public:
  explicit FresnelWaveAttentionImpl(int64_t dim, int64_t heads = 8);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear to_qkv{nullptr}, to_out{nullptr};
  torch::Tensor wavelength;
  int64_t heads;
};
TORCH_MODULE(FresnelWaveAttention);

// x += FresnelWave(GN(x)); x += Cross(GN(x), context).
class AttentionBlockImpl : public torch::nn::Module {
 public:
  AttentionBlockImpl(int64_t channels, int64_t context_dim);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);
  GroupNorm32 norm1{nullptr}, norm2{nullptr};
  FresnelWaveAttention self_attn{nullptr};
  CrossAttention cross_attn{nullptr};
};
TORCH_MODULE(AttentionBlock);

// Feature grid (B,h,w,C) with h·w = 37² → (B,image_tokens,ctx): learnable position embedding, Linear→SiLU→
// Linear→LayerNorm, then multi-head attention from learnable queries.
class ImageFeatureAdapterImpl : public torch::nn::Module {
 public:
  ImageFeatureAdapterImpl(int64_t in_dim, int64_t out_dim, int64_t num_tokens, int64_t grid_tokens = 37 * 37);
  torch::Tensor forward(const torch::Tensor& features);
  torch::nn::Sequential proj{nullptr};
  torch::Tensor pos_embed, compress_queries;
  // nn.MultiheadAttention(out_dim, 8, batch_first) in its own parameter names.
  torch::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};
  int64_t heads = 8;
};
TORCH_MODULE(ImageFeatureAdapter);

// 15-D pose [R[:, :2] (6), t (3), Plücker(origin 0, direction t) = (t/‖t‖, 0)] → MLP → (B,16,ctx) tokens.
torch::Tensor plucker_pose_features(const torch::Tensor& R_rel, const torch::Tensor& t_rel);  // (B,15)
class PluckerPoseEncoderImpl : public torch::nn::Module {
 public:
  PluckerPoseEncoderImpl(int64_t embed_dim, int64_t context_dim, int64_t num_tokens = 16);
  torch::Tensor forward(const torch::Tensor& R_rel, const torch::Tensor& t_rel);
  torch::nn::Sequential encoder{nullptr};
  torch::nn::Linear proj{nullptr};
  torch::Tensor pose_queries;
};
TORCH_MODULE(PluckerPoseEncoder);

class ConsistencyUNetImpl : public torch::nn::Module {
 public:
  explicit ConsistencyUNetImpl(const CVSConfig& config);
  // x_t (B,3,S,S), t (B,) float, image tokens (B,N,ctx), pose tokens (B,M,ctx) → x0 (B,3,S,S).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& image_cond,
                        const torch::Tensor& pose_cond);

  torch::nn::Conv2d in_conv{nullptr};
  torch::nn::Sequential out_conv{nullptr}, time_embed{nullptr};
  std::vector<std::vector<ResBlock>> encoder, decoder;
  std::vector<AttentionBlock> encoder_attns, decoder_attns;  // null where a stage has none
  std::vector<torch::nn::Conv2d> downsamplers, upsamplers;
  ResBlock mid_block1{nullptr}, mid_block2{nullptr};
  AttentionBlock mid_attn{nullptr};
  torch::nn::Linear pose_proj{nullptr};
  std::vector<ResBlock> final_decoder;

 private:
  int64_t time_dim_;
};
TORCH_MODULE(ConsistencyUNet);

// The whole synthesizer: adapter + pose encoder + U-Net (+ the built-in encoder when configured) and the cosine
// noise schedule (improved DDPM, s = 0.008; β clamped to [1e-4, 0.9999]).
class ConsistencyViewSynthesizerImpl : public torch::nn::Module {
 public:
  explicit ConsistencyViewSynthesizerImpl(CVSConfig config);
  const CVSConfig& config() const { return config_; }

  // Conditioning features (B,C,37,37): the built-in encoder's from the input view (B,3,S,S) in [−1,1], or the
  // given precomputed features.
  torch::Tensor features(const torch::Tensor& input_image, const torch::Tensor& precomputed);
  // Image tokens and pose tokens concatenated: (B, image_tokens + pose_tokens, ctx); pose tokens separately.
  struct Conditioning {
    torch::Tensor image, pose;
  };
  Conditioning condition(const torch::Tensor& input_image, const torch::Tensor& precomputed, const torch::Tensor& R_rel,
                         const torch::Tensor& t_rel);
  torch::Tensor denoise(const torch::Tensor& x_t, const torch::Tensor& t, const Conditioning& c);
  // x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·noise; t (B,) int64.
  torch::Tensor add_noise(const torch::Tensor& x0, const torch::Tensor& t, const torch::Tensor& noise) const;
  // 1 step: z ~ N(0,I) at t = T−1 → x0. n steps: t_i = linspace(T−1, 0, n+1).long(); z = f(z, t_i); between
  // steps z += 0.5·√(1−ᾱ_{t_{i+1}})·ε. All noise from `generator` (seeded runs are reproducible).
  torch::Tensor generate(const torch::Tensor& input_image, const torch::Tensor& precomputed, const torch::Tensor& R_rel,
                         const torch::Tensor& t_rel, int64_t num_steps, at::Generator generator);

  encode::BuiltinEncoder encoder{nullptr};
  ImageFeatureAdapter image_adapter{nullptr};
  PluckerPoseEncoder pose_encoder{nullptr};
  ConsistencyUNet unet{nullptr};
  torch::Tensor betas, alphas_cumprod, sqrt_alphas_cumprod, sqrt_one_minus_alphas_cumprod;  // buffers (T,)

 private:
  CVSConfig config_;
};
TORCH_MODULE(ConsistencyViewSynthesizer);

// ᾱ of the improved-DDPM cosine schedule through the clamped betas, (T,) float32.
torch::Tensor cosine_alphas_cumprod(int64_t num_timesteps);
int64_t count_parameters(const torch::nn::Module& module);
// Parameter counts per part ("image_adapter", "pose_encoder", "unet", "encoder", "total").
std::map<std::string, int64_t> parameter_breakdown(ConsistencyViewSynthesizerImpl& model);

// ema ← decay·ema + (1 − decay)·param for every parameter of `model` (the EMA copy has the same structure).
void ema_update(torch::nn::Module& ema, const torch::nn::Module& model, double decay);
// Copies named tensors (e.g. a TrainingLoop's EMA) into a module's parameters; throws fresnel::Error when one
// is missing or of another shape.
void load_named_parameters(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors);

}  // namespace fresnel::synthesis
