#include "encode/dinov2.hpp"

#include <torch/torch.h>

#include <cmath>
#include <optional>

#include "core/error.hpp"
#include "encode/vit_inference.hpp"

namespace fresnel::encode {
namespace F = torch::nn::functional;

namespace {
// Without autograd on the CPU the blocks take the two-core inference path (vit_inference.hpp); with gradients
// (or on a GPU) the plain module code below runs.
bool use_inference_path(const torch::Tensor& x) {
  return !torch::GradMode::is_enabled() && x.device().is_cpu() && x.scalar_type() == torch::kFloat;
}
}  // namespace

int64_t Dinov2Config::mlp_hidden() const {
  const auto h = static_cast<int64_t>(static_cast<double>(hidden) * mlp_ratio);
  if (!swiglu) return h;
  return (static_cast<int64_t>(static_cast<double>(h) * 2.0 / 3.0) + 7) / 8 * 8;
}

Dinov2Config Dinov2Config::preset(const std::string& size) {
  Dinov2Config c;
  c.name = size;
  if (size == "small") {
    c.hidden = 384, c.layers = 12, c.heads = 6;
  } else if (size == "base") {
    c.hidden = 768, c.layers = 12, c.heads = 12;
  } else if (size == "large") {
    c.hidden = 1024, c.layers = 24, c.heads = 16;
  } else if (size == "giant") {
    c.hidden = 1536, c.layers = 40, c.heads = 24, c.swiglu = true;
  } else {
    throw UsageError("unknown DINOv2 size '" + size + "' (use small, base, large or giant)");
  }
  return c;
}

Dinov2PatchEmbeddingsImpl::Dinov2PatchEmbeddingsImpl(const Dinov2Config& c) {
  projection = register_module(
      "projection", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, c.hidden, c.patch).stride(c.patch).bias(true)));
}

Dinov2EmbeddingsImpl::Dinov2EmbeddingsImpl(const Dinov2Config& c) : config(c) {
  cls_token = register_parameter("cls_token", torch::randn({1, 1, c.hidden}) * 0.02);
  mask_token = register_parameter("mask_token", torch::zeros({1, c.hidden}));
  patch_embeddings = register_module("patch_embeddings", Dinov2PatchEmbeddings(c));
  position_embeddings =
      register_parameter("position_embeddings", torch::randn({1, c.num_positions(), c.hidden}) * 0.02);
  if (c.registers > 0)
    register_tokens = register_parameter("register_tokens", torch::randn({1, c.registers, c.hidden}) * 0.02);
}

torch::Tensor Dinov2EmbeddingsImpl::interpolated_positions(int64_t grid_h, int64_t grid_w) const {
  const int64_t m = config.grid();
  if (grid_h == m && grid_w == m) return position_embeddings;
  const int64_t d = config.hidden;
  auto cls = position_embeddings.slice(1, 0, 1);
  auto grid = position_embeddings.slice(1, 1).reshape({1, m, m, d}).permute({0, 3, 1, 2}).to(torch::kFloat);
  auto opts = F::InterpolateFuncOptions().mode(torch::kBicubic).align_corners(false);
  if (config.interpolate_offset > 0) {
    // facebookresearch: scale factor (n + offset)/M, output size ⌊M·scale⌋ = n; the scale itself drives sampling.
    opts.scale_factor(std::vector<double>{(grid_h + config.interpolate_offset) / static_cast<double>(m),
                                          (grid_w + config.interpolate_offset) / static_cast<double>(m)});
  } else {
    opts.size(std::vector<int64_t>{grid_h, grid_w});
  }
  grid = F::interpolate(grid, opts);
  if (grid.size(2) != grid_h || grid.size(3) != grid_w)
    throw Error("DINOv2: position embedding interpolation produced the wrong grid size");
  grid = grid.permute({0, 2, 3, 1}).reshape({1, grid_h * grid_w, d}).to(position_embeddings.dtype());
  return torch::cat({cls, grid}, 1);
}

torch::Tensor Dinov2EmbeddingsImpl::forward(const torch::Tensor& pixels) {
  if (pixels.dim() != 4 || pixels.size(1) != 3)
    throw Error("DINOv2: expected pixels (B,3,H,W), got " + std::to_string(pixels.dim()) + "-d tensor");
  const int64_t b = pixels.size(0), h = pixels.size(2), w = pixels.size(3);
  if (h % config.patch != 0 || w % config.patch != 0)
    throw Error("DINOv2: image size " + std::to_string(h) + "×" + std::to_string(w) +
                " is not a multiple of the patch " + std::to_string(config.patch));
  auto x = patch_embeddings->projection->forward(pixels).flatten(2).transpose(1, 2);  // (B, N, D), row-major
  x = torch::cat({cls_token.expand({b, 1, config.hidden}), x}, 1);
  x = x + interpolated_positions(h / config.patch, w / config.patch);
  if (config.registers > 0)
    x = torch::cat({x.slice(1, 0, 1), register_tokens.expand({b, config.registers, config.hidden}), x.slice(1, 1)}, 1);
  return x;
}

Dinov2SelfAttentionImpl::Dinov2SelfAttentionImpl(const Dinov2Config& c) : heads(c.heads) {
  if (c.hidden % c.heads != 0) throw Error("DINOv2: hidden size is not a multiple of the head count");
  query = register_module("query", torch::nn::Linear(c.hidden, c.hidden));
  key = register_module("key", torch::nn::Linear(c.hidden, c.hidden));
  value = register_module("value", torch::nn::Linear(c.hidden, c.hidden));
}

torch::Tensor Dinov2SelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), n = x.size(1), d = x.size(2), hd = d / heads;
  auto split = [&](const torch::Tensor& t) { return t.view({b, n, heads, hd}).transpose(1, 2); };
  auto q = split(query->forward(x)), k = split(key->forward(x)), v = split(value->forward(x));
  auto attn = torch::matmul(q, k.transpose(-1, -2)).mul_(1.0 / std::sqrt(static_cast<double>(hd))).softmax(-1);
  return torch::matmul(attn, v).transpose(1, 2).reshape({b, n, d});
}

std::pair<torch::Tensor, torch::Tensor> Dinov2SelfAttentionImpl::fused_qkv() {
  std::vector<int64_t> stamp;
  bool trackable = true;  // inference tensors (made under c10::InferenceMode) have no version counter
  for (const auto* lin : {&query, &key, &value})
    for (const auto& t : {(*lin)->weight, (*lin)->bias}) {
      trackable = trackable && !t.is_inference();
      stamp.push_back(reinterpret_cast<int64_t>(t.data_ptr()));
      stamp.push_back(trackable ? static_cast<int64_t>(t._version()) : 0);
    }
  if (!trackable || stamp != fused_stamp_ || !fused_weight_.defined()) {
    // A normal tensor even when called under inference mode, so that it can be used outside it too.
    c10::InferenceMode normal_tensors(false);
    torch::NoGradGuard no_grad;
    fused_weight_ = torch::cat({query->weight, key->weight, value->weight});
    fused_bias_ = torch::cat({query->bias, key->bias, value->bias});
    fused_stamp_ = std::move(stamp);
  }
  return {fused_weight_, fused_bias_};
}

Dinov2AttentionOutputImpl::Dinov2AttentionOutputImpl(const Dinov2Config& c) {
  dense = register_module("dense", torch::nn::Linear(c.hidden, c.hidden));
}

Dinov2AttentionImpl::Dinov2AttentionImpl(const Dinov2Config& c) {
  attention = register_module("attention", Dinov2SelfAttention(c));
  output = register_module("output", Dinov2AttentionOutput(c));
}

torch::Tensor Dinov2AttentionImpl::forward(const torch::Tensor& x) {
  return output->dense->forward(attention->forward(x));
}

Dinov2LayerScaleImpl::Dinov2LayerScaleImpl(const Dinov2Config& c) {
  lambda1 = register_parameter("lambda1", torch::ones({c.hidden}));
}

Dinov2MlpImpl::Dinov2MlpImpl(const Dinov2Config& c) : swiglu(c.swiglu) {
  const int64_t h = c.mlp_hidden();
  if (swiglu) {
    weights_in = register_module("weights_in", torch::nn::Linear(c.hidden, 2 * h));
    weights_out = register_module("weights_out", torch::nn::Linear(h, c.hidden));
  } else {
    fc1 = register_module("fc1", torch::nn::Linear(c.hidden, h));
    fc2 = register_module("fc2", torch::nn::Linear(h, c.hidden));
  }
}

torch::Tensor Dinov2MlpImpl::forward(const torch::Tensor& x) {
  if (swiglu) {
    auto parts = weights_in->forward(x).chunk(2, -1);
    return weights_out->forward(torch::silu(parts[0]) * parts[1]);
  }
  return fc2->forward(torch::gelu(fc1->forward(x)));  // exact (erf) GELU, as nn.GELU()
}

Dinov2LayerImpl::Dinov2LayerImpl(const Dinov2Config& c) {
  auto ln = [&] { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden}).eps(c.layer_norm_eps)); };
  norm1 = register_module("norm1", ln());
  attention = register_module("attention", Dinov2Attention(c));
  layer_scale1 = register_module("layer_scale1", Dinov2LayerScale(c));
  norm2 = register_module("norm2", ln());
  mlp = register_module("mlp", Dinov2Mlp(c));
  layer_scale2 = register_module("layer_scale2", Dinov2LayerScale(c));
}

torch::Tensor Dinov2LayerImpl::forward(const torch::Tensor& x_in) {
  auto x = x_in + attention->forward(norm1->forward(x_in)) * layer_scale1->lambda1;
  return x + mlp->forward(norm2->forward(x)) * layer_scale2->lambda1;
}

Dinov2EncoderImpl::Dinov2EncoderImpl(const Dinov2Config& c) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.layers; ++i) layer->push_back(Dinov2Layer(c));
}

Dinov2Impl::Dinov2Impl(const Dinov2Config& c) : config(c) {
  embeddings = register_module("embeddings", Dinov2Embeddings(c));
  encoder = register_module("encoder", Dinov2Encoder(c));
  layernorm =
      register_module("layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden}).eps(c.layer_norm_eps)));
}

torch::Tensor Dinov2Impl::forward(const torch::Tensor& pixels) { return layernorm->forward(prenorm_tokens(pixels)); }

torch::Tensor Dinov2Impl::prenorm_tokens(const torch::Tensor& pixels) {
  auto x = embeddings->forward(pixels);
  if (use_inference_path(x)) {
    SingleThreadedBlas blas;
    x = x.contiguous();
    VitWorkspace ws;
    for (const auto& l : *encoder->layer) dinov2_block_inference(*l->as<Dinov2LayerImpl>(), config.heads, x, ws);
  } else {
    for (const auto& l : *encoder->layer) x = l->as<Dinov2LayerImpl>()->forward(x);
  }
  return x;
}

torch::Tensor trellis_condition_features(Dinov2Impl& model, const torch::Tensor& rgb) {
  if (rgb.dim() != 3 || rgb.size(0) != 518 || rgb.size(1) != 518 || rgb.size(2) != 3)
    throw Error("TRELLIS conditioning: expected a (518,518,3) RGB image, got " + c10::str(rgb.sizes()));
  const auto opts = torch::TensorOptions().dtype(torch::kFloat);
  const auto mean = torch::tensor({0.485, 0.456, 0.406}, opts).view({3, 1, 1});
  const auto std = torch::tensor({0.229, 0.224, 0.225}, opts).view({3, 1, 1});
  auto device = model.embeddings->cls_token.device();
  auto pixels = ((rgb.to(torch::kFloat).permute({2, 0, 1}) - mean) / std).unsqueeze(0).contiguous().to(device);
  torch::NoGradGuard no_grad;
  auto tokens = model.prenorm_tokens(pixels);
  return torch::layer_norm(tokens, {tokens.size(-1)}, {}, {}, 1e-5).cpu().contiguous();
}

std::string trellis_condition_description(const Dinov2Config& c) {
  const int64_t grid = 518 / c.patch;
  return "DINOv2-" + c.name + ", " + std::to_string(c.registers) + " registers -> (1, " +
         std::to_string(1 + c.registers + grid * grid) + ", " + std::to_string(c.hidden) + ")";
}

torch::Tensor Dinov2Impl::patch_features(const torch::Tensor& pixels) {
  const int64_t gh = pixels.size(2) / config.patch, gw = pixels.size(3) / config.patch;
  return forward(pixels).slice(1, 1 + config.registers).reshape({pixels.size(0), gh, gw, config.hidden});
}

std::vector<torch::Tensor> Dinov2Impl::intermediate_patch_tokens(const torch::Tensor& pixels,
                                                                 const std::vector<int64_t>& blocks) {
  for (int64_t b : blocks)
    if (b < 0 || b >= config.layers)
      throw Error("DINOv2: intermediate block index " + std::to_string(b) + " out of range");
  std::vector<torch::Tensor> out(blocks.size());
  int64_t last = 0;
  for (int64_t b : blocks) last = std::max(last, b);
  auto x = embeddings->forward(pixels);
  const bool fast = use_inference_path(x);
  std::optional<SingleThreadedBlas> blas;
  VitWorkspace ws;
  if (fast) blas.emplace(), x = x.contiguous();
  for (int64_t i = 0; i <= last; ++i) {
    if (fast) {
      dinov2_block_inference(*encoder->layer[i]->as<Dinov2LayerImpl>(), config.heads, x, ws);
    } else {
      x = encoder->layer[i]->as<Dinov2LayerImpl>()->forward(x);
    }
    for (size_t k = 0; k < blocks.size(); ++k)
      if (blocks[k] == i) out[k] = layernorm->forward(x).slice(1, 1 + config.registers);
  }
  return out;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> dinov2_parameter_shapes(const Dinov2Config& c,
                                                                                  const std::string& p) {
  const int64_t d = c.hidden, h = c.mlp_hidden();
  std::vector<std::pair<std::string, std::vector<int64_t>>> t = {
      {p + "embeddings.cls_token", {1, 1, d}},
      {p + "embeddings.mask_token", {1, d}},
      {p + "embeddings.position_embeddings", {1, c.num_positions(), d}},
      {p + "embeddings.patch_embeddings.projection.weight", {d, 3, c.patch, c.patch}},
      {p + "embeddings.patch_embeddings.projection.bias", {d}},
  };
  if (c.registers > 0) t.push_back({p + "embeddings.register_tokens", {1, c.registers, d}});
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string l = p + "encoder.layer." + std::to_string(i) + ".";
    for (const char* n : {"norm1", "norm2"}) {
      t.push_back({l + n + ".weight", {d}});
      t.push_back({l + n + ".bias", {d}});
    }
    for (const char* n : {"query", "key", "value"}) {
      t.push_back({l + "attention.attention." + n + ".weight", {d, d}});
      t.push_back({l + "attention.attention." + n + ".bias", {d}});
    }
    t.push_back({l + "attention.output.dense.weight", {d, d}});
    t.push_back({l + "attention.output.dense.bias", {d}});
    t.push_back({l + "layer_scale1.lambda1", {d}});
    t.push_back({l + "layer_scale2.lambda1", {d}});
    if (c.swiglu) {
      t.push_back({l + "mlp.weights_in.weight", {2 * h, d}});
      t.push_back({l + "mlp.weights_in.bias", {2 * h}});
      t.push_back({l + "mlp.weights_out.weight", {d, h}});
      t.push_back({l + "mlp.weights_out.bias", {d}});
    } else {
      t.push_back({l + "mlp.fc1.weight", {h, d}});
      t.push_back({l + "mlp.fc1.bias", {h}});
      t.push_back({l + "mlp.fc2.weight", {d, h}});
      t.push_back({l + "mlp.fc2.bias", {d}});
    }
  }
  t.push_back({p + "layernorm.weight", {d}});
  t.push_back({p + "layernorm.bias", {d}});
  return t;
}

}  // namespace fresnel::encode
