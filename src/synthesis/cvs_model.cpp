#include "synthesis/cvs_model.hpp"

#include <torch/torch.h>

#include <cmath>

#include "core/error.hpp"
#include "core/field_table.hpp"

namespace fresnel::synthesis {

namespace F = torch::nn::functional;
using torch::indexing::Slice;

std::vector<int64_t> CVSConfig::channels() const {
  std::vector<int64_t> c;
  for (auto m : channel_mult) c.push_back(base_channels * m);
  return c;
}

void CVSConfig::validate() const {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw UsageError("CVS config: " + msg);
  };
  need(!channel_mult.empty(), "channel_mult must not be empty");
  need(base_channels > 0 && base_channels % 32 == 0, "base_channels must be a positive multiple of 32 (GroupNorm32)");
  for (auto m : channel_mult) need(m > 0, "channel_mult entries must be positive");
  const int64_t stages = static_cast<int64_t>(channel_mult.size());
  need(image_size > 0 && image_size % (int64_t(1) << stages) == 0,
       "image_size must be divisible by 2^len(channel_mult) = " + std::to_string(int64_t(1) << stages));
  need(num_res_blocks >= 1, "num_res_blocks must be >= 1");
  need(cross_attention_dim > 0 && cross_attention_dim % 8 == 0, "cross_attention_dim must be a positive multiple of 8");
  need(pose_embed_dim > 0, "pose_embed_dim must be positive");
  need(image_embed_dim > 0, "image_embed_dim must be positive");
  need(time_embed_dim >= 4 && time_embed_dim % 2 == 0, "time_embed_dim must be even and >= 4");
  need(num_timesteps >= 2, "num_timesteps must be >= 2");
  need(ema_decay >= 0 && ema_decay < 1, "ema_decay must be in [0, 1)");
  need(image_tokens >= 1 && pose_tokens >= 1, "image_tokens and pose_tokens must be >= 1");
}

nlohmann::json CVSConfig::to_json() const { return fields_to_json(*this); }

CVSConfig CVSConfig::from_json(const nlohmann::json& j) {
  CVSConfig c;
  fields_from_json(j, c, "CVS config");
  return c;
}

CVSConfig CVSConfig::fast() {
  CVSConfig c;
  c.image_size = 128;
  c.base_channels = 64;
  return c;
}

torch::Tensor sinusoidal_embedding(const torch::Tensor& t, int64_t dim) {
  const int64_t half = dim / 2;
  const double step = std::log(10000.0) / double(half - 1);
  auto freqs = torch::exp(torch::arange(half, t.options().dtype(torch::kFloat)) * -step);
  auto e = t.to(torch::kFloat).unsqueeze(1) * freqs.unsqueeze(0);
  return torch::cat({torch::sin(e), torch::cos(e)}, -1);
}

GroupNorm32Impl::GroupNorm32Impl(int64_t channels)
    : torch::nn::GroupNormImpl(torch::nn::GroupNormOptions(32, channels)) {}

torch::Tensor GroupNorm32Impl::forward(const torch::Tensor& x) {
  return torch::nn::GroupNormImpl::forward(x.to(torch::kFloat)).to(x.scalar_type());
}

namespace {
torch::nn::Conv2d conv3(int64_t in, int64_t out, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).stride(stride));
}
torch::nn::Linear linear(int64_t in, int64_t out, bool bias = true) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}
// (B,C,H,W) ↔ (B,HW,C)
torch::Tensor to_tokens(const torch::Tensor& x) { return x.flatten(2).transpose(1, 2); }
torch::Tensor from_tokens(const torch::Tensor& t, const torch::IntArrayRef& shape) {
  return t.transpose(1, 2).reshape(shape);
}
// (B,N,h·d) → (B,h,N,d)
torch::Tensor split_heads(const torch::Tensor& x, int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}
torch::Tensor merge_heads(const torch::Tensor& x) {
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}
}  // namespace

ResBlockImpl::ResBlockImpl(int64_t in, int64_t out, int64_t time_dim) {
  norm1 = register_module("norm1", GroupNorm32(in));
  conv1 = register_module("conv1", conv3(in, out));
  time_proj = register_module("time_proj", linear(time_dim, out));
  norm2 = register_module("norm2", GroupNorm32(out));
  conv2 = register_module("conv2", conv3(out, out));
  if (in != out) skip = register_module("skip", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)));
}

torch::Tensor ResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& t_emb) {
  auto h = conv1(F::silu(norm1(x)));
  h = h + time_proj(F::silu(t_emb)).unsqueeze(-1).unsqueeze(-1);
  h = conv2(F::silu(norm2(h)));  // dropout 0 in the original
  return h + (skip ? skip(x) : x);
}

CrossAttentionImpl::CrossAttentionImpl(int64_t query_dim, int64_t context_dim, int64_t heads_, int64_t dim_head_)
    : heads(heads_), dim_head(dim_head_) {
  const int64_t inner = heads * dim_head;
  to_q = register_module("to_q", linear(query_dim, inner, false));
  to_k = register_module("to_k", linear(context_dim, inner, false));
  to_v = register_module("to_v", linear(context_dim, inner, false));
  to_out = register_module("to_out", linear(inner, query_dim));
}

torch::Tensor CrossAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  auto q = split_heads(to_q(to_tokens(x)), heads);
  auto k = split_heads(to_k(context), heads), v = split_heads(to_v(context), heads);
  auto attn = torch::softmax(torch::matmul(q, k.transpose(-1, -2)) * std::pow(double(dim_head), -0.5), -1);
  return from_tokens(to_out(merge_heads(torch::matmul(attn, v))), x.sizes());
}

FresnelWaveAttentionImpl::FresnelWaveAttentionImpl(int64_t dim, int64_t heads_) : heads(heads_) {
  to_qkv = register_module("to_qkv", linear(dim, 3 * dim, false));
  to_out = register_module("to_out", linear(dim, dim));
  wavelength = register_parameter("wavelength", torch::tensor(0.1f));
}

torch::Tensor FresnelWaveAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t C = x.size(1), H = x.size(2), W = x.size(3);
  auto qkv = to_qkv(to_tokens(x)).chunk(3, -1);
  auto q = split_heads(qkv[0], heads), k = split_heads(qkv[1], heads), v = split_heads(qkv[2], heads);
  auto dots = torch::matmul(q, k.transpose(-1, -2)) * std::pow(double(C / heads), -0.5);
  // Interference of the token grid's integer positions (row, col).
  auto opts = x.options().dtype(torch::kFloat);
  auto rows = torch::arange(H, opts).view({H, 1}).expand({H, W}).reshape({-1});
  auto cols = torch::arange(W, opts).view({1, W}).expand({H, W}).reshape({-1});
  auto dr = rows.unsqueeze(0) - rows.unsqueeze(1), dc = cols.unsqueeze(0) - cols.unsqueeze(1);
  auto dist = torch::sqrt(dr * dr + dc * dc + 1e-8);
  auto phase = 2.0 * M_PI * dist / (wavelength.abs() * double(H) + 1e-6);
  dots = dots + 0.1 * torch::cos(phase).to(dots.scalar_type());
  auto out = torch::matmul(torch::softmax(dots, -1), v);
  return from_tokens(to_out(merge_heads(out)), x.sizes());
}

AttentionBlockImpl::AttentionBlockImpl(int64_t channels, int64_t context_dim) {
  norm1 = register_module("norm1", GroupNorm32(channels));
  self_attn = register_module("self_attn", FresnelWaveAttention(channels));
  norm2 = register_module("norm2", GroupNorm32(channels));
  cross_attn = register_module("cross_attn", CrossAttention(channels, context_dim));
}

torch::Tensor AttentionBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  auto h = x + self_attn(norm1(x));
  return h + cross_attn(norm2(h), context);
}

ImageFeatureAdapterImpl::ImageFeatureAdapterImpl(int64_t in_dim, int64_t out_dim, int64_t num_tokens,
                                                 int64_t grid_tokens) {
  proj = register_module("proj",
                         torch::nn::Sequential(linear(in_dim, out_dim), torch::nn::SiLU(), linear(out_dim, out_dim),
                                               torch::nn::LayerNorm(torch::nn::LayerNormOptions({out_dim}))));
  // Added to the features before the projection, so it is in_dim wide (the original makes it out_dim wide,
  // which only works when in_dim = out_dim = 384; the count is the same there).
  pos_embed = register_parameter("pos_embed", torch::randn({grid_tokens, in_dim}) * 0.02);
  compress_queries = register_parameter("compress_queries", torch::randn({num_tokens, out_dim}) * 0.02);
  // nn.MultiheadAttention's initialisation: xavier-uniform in_proj, zero biases.
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * out_dim, out_dim}));
  torch::nn::init::xavier_uniform_(in_proj_weight);
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * out_dim}));
  out_proj = register_module("out_proj", linear(out_dim, out_dim));
  {
    torch::NoGradGuard ng;
    out_proj->bias.zero_();
  }
}

torch::Tensor ImageFeatureAdapterImpl::forward(const torch::Tensor& features) {
  const int64_t B = features.size(0), C = features.size(-1);
  auto x = features.reshape({B, -1, C});
  if (x.size(1) > pos_embed.size(0))
    throw Error("ImageFeatureAdapter: " + std::to_string(x.size(1)) + " feature tokens, at most " +
                std::to_string(pos_embed.size(0)));
  x = proj->forward(x + pos_embed.index({Slice(0, x.size(1))}));
  auto q = compress_queries.unsqueeze(0).expand({B, -1, -1});
  const int64_t D = q.size(-1);
  auto w = in_proj_weight.chunk(3, 0);
  auto b = in_proj_bias.chunk(3, 0);
  auto Q = split_heads(F::linear(q, w[0], b[0]), heads);
  auto K = split_heads(F::linear(x, w[1], b[1]), heads), V = split_heads(F::linear(x, w[2], b[2]), heads);
  auto attn = torch::softmax(torch::matmul(Q, K.transpose(-1, -2)) * std::pow(double(D / heads), -0.5), -1);
  return out_proj(merge_heads(torch::matmul(attn, V)));
}

torch::Tensor plucker_pose_features(const torch::Tensor& R_rel, const torch::Tensor& t_rel) {
  const int64_t B = R_rel.size(0);
  auto r6 = R_rel.index({Slice(), Slice(), Slice(0, 2)}).reshape({B, 6});
  auto d = F::normalize(t_rel, F::NormalizeFuncOptions().dim(-1));
  // Moment o × d with the origin at 0: always zero (as in the original).
  auto m = torch::zeros_like(d);
  return torch::cat({r6, t_rel, d, m}, -1);
}

PluckerPoseEncoderImpl::PluckerPoseEncoderImpl(int64_t embed_dim, int64_t context_dim, int64_t num_tokens) {
  encoder =
      register_module("encoder", torch::nn::Sequential(linear(15, 128), torch::nn::SiLU(), linear(128, 256),
                                                       torch::nn::SiLU(), linear(256, embed_dim),
                                                       torch::nn::LayerNorm(torch::nn::LayerNormOptions({embed_dim}))));
  proj = register_module("proj", linear(embed_dim, context_dim));
  pose_queries = register_parameter("pose_queries", torch::randn({num_tokens, context_dim}) * 0.02);
}

torch::Tensor PluckerPoseEncoderImpl::forward(const torch::Tensor& R_rel, const torch::Tensor& t_rel) {
  auto e = proj(encoder->forward(plucker_pose_features(R_rel, t_rel)));
  return pose_queries.unsqueeze(0) + e.unsqueeze(1);
}

ConsistencyUNetImpl::ConsistencyUNetImpl(const CVSConfig& c) : time_dim_(c.time_embed_dim) {
  c.validate();
  const auto chs = c.channels();
  const int64_t base = c.base_channels, T = c.time_embed_dim, ctx = c.cross_attention_dim;
  const int64_t S = static_cast<int64_t>(chs.size());
  auto has_attn = [&](int64_t res) {
    for (auto r : c.attention_resolutions)
      if (r == res) return true;
    return false;
  };
  in_conv = register_module("in_conv", conv3(3, base));
  out_conv = register_module("out_conv", torch::nn::Sequential(GroupNorm32(base), torch::nn::SiLU(), conv3(base, 3)));
  time_embed =
      register_module("time_embed", torch::nn::Sequential(linear(T, 4 * T), torch::nn::SiLU(), linear(4 * T, T)));
  std::vector<int64_t> ins = {base};
  ins.insert(ins.end(), chs.begin(), chs.end());
  int64_t res = c.image_size;
  for (int64_t i = 0; i < S; ++i) {
    std::vector<ResBlock> blocks;
    for (int64_t j = 0; j < c.num_res_blocks; ++j)
      blocks.push_back(register_module("encoder_" + std::to_string(i) + "_" + std::to_string(j),
                                       ResBlock(j == 0 ? ins[i] : ins[i + 1], ins[i + 1], T)));
    encoder.push_back(blocks);
    encoder_attns.push_back(has_attn(res)
                                ? register_module("encoder_attns_" + std::to_string(i), AttentionBlock(ins[i + 1], ctx))
                                : AttentionBlock(nullptr));
    res /= 2;
  }
  for (int64_t i = 0; i + 1 < S; ++i)
    downsamplers.push_back(register_module("downsamplers_" + std::to_string(i), conv3(chs[i], chs[i], 2)));
  const int64_t mid = chs.back();
  mid_block1 = register_module("mid_block1", ResBlock(mid, mid, T));
  mid_attn = register_module("mid_attn", AttentionBlock(mid, ctx));
  mid_block2 = register_module("mid_block2", ResBlock(mid, mid, T));
  pose_proj = register_module("pose_proj", linear(ctx, mid));
  std::vector<int64_t> rev(chs.rbegin(), chs.rend());
  res = c.image_size >> S;
  for (int64_t i = 0; i + 1 < S; ++i) {
    const int64_t ci = rev[i], co = rev[i + 1];
    std::vector<ResBlock> blocks;
    for (int64_t j = 0; j <= c.num_res_blocks; ++j)
      blocks.push_back(register_module("decoder_" + std::to_string(i) + "_" + std::to_string(j),
                                       ResBlock(j == 0 ? 2 * ci : co, co, T)));
    decoder.push_back(blocks);
    res *= 2;
    decoder_attns.push_back(has_attn(res)
                                ? register_module("decoder_attns_" + std::to_string(i), AttentionBlock(co, ctx))
                                : AttentionBlock(nullptr));
    upsamplers.push_back(register_module("upsamplers_" + std::to_string(i), conv3(co, co)));
  }
  for (int64_t j = 0; j <= c.num_res_blocks; ++j)
    final_decoder.push_back(
        register_module("final_decoder_" + std::to_string(j), ResBlock(j == 0 ? rev.back() + base : base, base, T)));
}

torch::Tensor ConsistencyUNetImpl::forward(const torch::Tensor& x, const torch::Tensor& t,
                                           const torch::Tensor& image_cond, const torch::Tensor& pose_cond) {
  auto t_emb = time_embed->forward(sinusoidal_embedding(t, time_dim_));
  auto context = torch::cat({image_cond, pose_cond}, 1);
  auto h = in_conv(x);
  std::vector<torch::Tensor> skips = {h};  // the first (in_conv) skip is never used, as in the original
  for (size_t i = 0; i < encoder.size(); ++i) {
    for (auto& b : encoder[i]) h = b(h, t_emb);
    if (encoder_attns[i]) h = encoder_attns[i](h, context);
    skips.push_back(h);
    if (i < downsamplers.size()) h = downsamplers[i](h);
  }
  h = mid_block1(h, t_emb);
  h = mid_attn(h, context);
  h = h + pose_proj(pose_cond.mean(1)).unsqueeze(-1).unsqueeze(-1);
  h = mid_block2(h, t_emb);
  auto up = F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest);
  for (size_t i = 0; i < decoder.size(); ++i) {
    h = torch::cat({h, skips.back()}, 1);
    skips.pop_back();
    for (auto& b : decoder[i]) h = b(h, t_emb);
    if (decoder_attns[i]) h = decoder_attns[i](h, context);
    h = upsamplers[i](F::interpolate(h, up));
  }
  h = torch::cat({h, skips.back()}, 1);
  for (auto& b : final_decoder) h = b(h, t_emb);
  return out_conv->forward(h);
}

torch::Tensor cosine_alphas_cumprod(int64_t T) {
  const double s = 0.008;
  auto t = torch::linspace(0, double(T), T + 1, torch::kDouble);
  auto f = torch::cos((t / double(T) + s) / (1 + s) * M_PI / 2).pow(2);
  f = f / f[0];
  auto betas = torch::clamp(1 - f.index({Slice(1)}) / f.index({Slice(0, T)}), 1e-4, 0.9999).to(torch::kFloat);
  return torch::cumprod(1 - betas, 0);
}

ConsistencyViewSynthesizerImpl::ConsistencyViewSynthesizerImpl(CVSConfig c) : config_(std::move(c)) {
  config_.validate();
  if (config_.builtin_encoder) {
    encode::BuiltinEncoderOptions o;
    o.channels = config_.image_embed_dim;
    encoder = register_module("encoder", encode::BuiltinEncoder(o));
  }
  image_adapter = register_module(
      "image_adapter", ImageFeatureAdapter(config_.image_embed_dim, config_.cross_attention_dim, config_.image_tokens));
  pose_encoder = register_module(
      "pose_encoder", PluckerPoseEncoder(config_.pose_embed_dim, config_.cross_attention_dim, config_.pose_tokens));
  unet = register_module("unet", ConsistencyUNet(config_));
  auto ac = cosine_alphas_cumprod(config_.num_timesteps);
  auto prev = torch::cat({torch::ones({1}), ac.index({Slice(0, -1)})});
  betas = register_buffer("betas", 1 - ac / prev);
  alphas_cumprod = register_buffer("alphas_cumprod", ac);
  sqrt_alphas_cumprod = register_buffer("sqrt_alphas_cumprod", ac.sqrt());
  sqrt_one_minus_alphas_cumprod = register_buffer("sqrt_one_minus_alphas_cumprod", (1 - ac).sqrt());
}

torch::Tensor ConsistencyViewSynthesizerImpl::features(const torch::Tensor& input_image,
                                                       const torch::Tensor& precomputed) {
  if (encoder) return encoder->forward((input_image + 1) * 0.5).features;
  if (!precomputed.defined())
    throw Error("CVS model: conditioning features are needed (the model was trained on precomputed DINOv2 features)");
  if (precomputed.size(1) != config_.image_embed_dim)
    throw Error("CVS model: features have " + std::to_string(precomputed.size(1)) + " channels, the model expects " +
                std::to_string(config_.image_embed_dim));
  return precomputed;
}

ConsistencyViewSynthesizerImpl::Conditioning ConsistencyViewSynthesizerImpl::condition(const torch::Tensor& input_image,
                                                                                       const torch::Tensor& precomputed,
                                                                                       const torch::Tensor& R_rel,
                                                                                       const torch::Tensor& t_rel) {
  auto f = features(input_image, precomputed);  // (B,C,h,w)
  return {image_adapter(f.permute({0, 2, 3, 1})), pose_encoder(R_rel, t_rel)};
}

torch::Tensor ConsistencyViewSynthesizerImpl::denoise(const torch::Tensor& x_t, const torch::Tensor& t,
                                                      const Conditioning& c) {
  return unet(x_t, t.to(torch::kFloat), c.image, c.pose);
}

torch::Tensor ConsistencyViewSynthesizerImpl::add_noise(const torch::Tensor& x0, const torch::Tensor& t,
                                                        const torch::Tensor& noise) const {
  auto a = sqrt_alphas_cumprod.index({t}).view({-1, 1, 1, 1});
  auto s = sqrt_one_minus_alphas_cumprod.index({t}).view({-1, 1, 1, 1});
  return a * x0 + s * noise;
}

torch::Tensor ConsistencyViewSynthesizerImpl::generate(const torch::Tensor& input_image,
                                                       const torch::Tensor& precomputed, const torch::Tensor& R_rel,
                                                       const torch::Tensor& t_rel, int64_t num_steps,
                                                       at::Generator generator) {
  if (num_steps < 1) throw UsageError("num_steps must be >= 1");
  torch::NoGradGuard ng;
  const int64_t B = R_rel.size(0), S = config_.image_size, T = config_.num_timesteps;
  auto c = condition(input_image, precomputed, R_rel, t_rel);
  auto opts = R_rel.options().dtype(torch::kFloat);
  auto z = at::randn({B, 3, S, S}, generator, opts.device(torch::kCPU)).to(R_rel.device());
  if (num_steps == 1) return denoise(z, torch::full({B}, double(T - 1), opts), c);
  auto ts = torch::linspace(double(T - 1), 0.0, num_steps + 1, torch::kDouble).to(torch::kLong);
  for (int64_t i = 0; i < num_steps; ++i) {
    z = denoise(z, torch::full({B}, double(ts[i].item<int64_t>()), opts), c);
    if (i + 1 < num_steps) {
      const double scale = sqrt_one_minus_alphas_cumprod[ts[i + 1].item<int64_t>()].item<double>();
      z = z + scale * at::randn(z.sizes(), generator, opts.device(torch::kCPU)).to(z.device()) * 0.5;
    }
  }
  return z;
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

std::map<std::string, int64_t> parameter_breakdown(ConsistencyViewSynthesizerImpl& m) {
  std::map<std::string, int64_t> r;
  r["image_adapter"] = count_parameters(*m.image_adapter);
  r["pose_encoder"] = count_parameters(*m.pose_encoder);
  r["unet"] = count_parameters(*m.unet);
  if (m.encoder) r["encoder"] = count_parameters(*m.encoder);
  r["total"] = count_parameters(m);
  return r;
}

void ema_update(torch::nn::Module& ema, const torch::nn::Module& model, double decay) {
  torch::NoGradGuard ng;
  auto src = model.named_parameters();
  for (auto& p : ema.named_parameters()) p.value().mul_(decay).add_(src[p.key()].detach(), 1.0 - decay);
}

void load_named_parameters(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors) {
  torch::NoGradGuard ng;
  for (auto& p : module.named_parameters()) {
    auto it = tensors.find(p.key());
    if (it == tensors.end()) throw Error("weights lack parameter '" + p.key() + "'");
    if (!it->second.sizes().equals(p.value().sizes())) throw Error("weights of '" + p.key() + "' have the wrong shape");
    p.value().copy_(it->second);
  }
}

}  // namespace fresnel::synthesis
