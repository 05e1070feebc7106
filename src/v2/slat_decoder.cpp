#include "v2/slat_decoder.hpp"

#include <torch/torch.h>

#include <cmath>

#include "core/error.hpp"

namespace fresnel::v2 {

namespace F = torch::nn::functional;

void SlatDecoderOptions::validate() const {
  if (decoder_type != "transformer" && decoder_type != "mlp")
    throw Error("decoder_type must be transformer or mlp, got '" + decoder_type + "'");
  auto positive = [](const char* name, int64_t v) {
    if (v < 1) throw Error(std::string(name) + " must be >= 1, got " + std::to_string(v));
  };
  positive("feature_dim", feature_dim);
  positive("hidden_dim", hidden_dim);
  positive("num_layers", num_layers);
  positive("num_heads", num_heads);
  positive("num_gaussians_per_voxel", num_gaussians);
  positive("max_resolution", max_resolution);
  positive("chunk_size", chunk_size);
  if (hidden_dim < 3) throw Error("hidden_dim must be >= 3 (three positional embeddings)");
  if (transformer() && hidden_dim % num_heads != 0)
    throw Error("hidden_dim (" + std::to_string(hidden_dim) + ") must be a multiple of num_heads (" +
                std::to_string(num_heads) + ")");
  if (!(dropout >= 0 && dropout < 1)) throw Error("dropout must be in [0, 1)");
  if (pixel_colour_residual && !pixel_aligned) throw Error("pixel_colour_residual needs pixel_aligned");
  if (pixel_visibility && !pixel_aligned) throw Error("pixel_visibility needs pixel_aligned");
}

// --- pieces ----------------------------------------------------------------------------------------------------

PositionalEncoding3DImpl::PositionalEncoding3DImpl(int64_t d, int64_t max_resolution)
    : max_resolution_(max_resolution) {
  pos_embed_x = register_module("pos_embed_x", torch::nn::Embedding(max_resolution, d / 3));
  pos_embed_y = register_module("pos_embed_y", torch::nn::Embedding(max_resolution, d / 3));
  pos_embed_z = register_module("pos_embed_z", torch::nn::Embedding(max_resolution, d - 2 * (d / 3)));
}

void PositionalEncoding3DImpl::init_sinusoidal() {
  torch::NoGradGuard no_grad;
  const double R = static_cast<double>(max_resolution_);
  for (auto* table : {&pos_embed_x, &pos_embed_y, &pos_embed_z}) {
    auto& w = (*table)->weight;
    const int64_t width = w.size(1), K = width / 2;
    w.zero_();
    auto index = torch::arange(max_resolution_, torch::kFloat64).unsqueeze(1);
    auto k = torch::arange(K, torch::kFloat64).unsqueeze(0);
    auto omega = (M_PI / R) * torch::pow(R / 2, k / static_cast<double>(std::max<int64_t>(1, K - 1)));
    auto angle = index * omega;  // (R, K)
    w.narrow(1, 0, 2 * K).copy_(torch::stack({torch::sin(angle), torch::cos(angle)}, 2).reshape({-1, 2 * K}));
  }
}

torch::Tensor PositionalEncoding3DImpl::forward(const torch::Tensor& coords) {
  auto c = coords.narrow(-1, 1, 3).clamp(0, max_resolution_ - 1).to(torch::kLong);
  return torch::cat({pos_embed_x(c.select(-1, 0)), pos_embed_y(c.select(-1, 1)), pos_embed_z(c.select(-1, 2))}, -1);
}

CrossAttentionImpl::CrossAttentionImpl(int64_t dim, int64_t heads, double dropout, int64_t chunk)
    : chunk_size(chunk), heads_(heads) {
  q = register_module("q", torch::nn::Linear(dim, dim));
  kv = register_module("kv", torch::nn::Linear(dim, 2 * dim));
  attn_drop = register_module("attn_drop", torch::nn::Dropout(dropout));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
  proj_drop = register_module("proj_drop", torch::nn::Dropout(dropout));
}

torch::Tensor CrossAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context,
                                          const torch::Tensor& mask) {
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), M = context.size(1), hd = D / heads_;
  auto kvs = kv(context).reshape({B, M, 2, heads_, hd}).permute({2, 0, 3, 1, 4});
  auto k = kvs[0], v = kvs[1];  // (B,H,M,hd)
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // Keys and values are shared; queries go in chunks so the (B,H,n,M) scores stay small.
  std::vector<torch::Tensor> outs;
  for (int64_t i = 0; i < N; i += chunk_size) {
    const int64_t n = std::min(chunk_size, N - i);
    auto qc = q(x.narrow(1, i, n)).reshape({B, n, heads_, hd}).permute({0, 2, 1, 3});
    auto attn = torch::matmul(qc * scale, k.transpose(-2, -1));  // scaling q: no (n×M) temporary
    if (mask.defined()) attn = attn.masked_fill(mask.narrow(1, i, n).logical_not().view({B, 1, n, 1}), -1e4);
    // softmax subtracts the row maximum itself (the original's explicit subtraction was one more saved copy).
    attn = attn_drop(attn.softmax(-1));
    // A degenerate row attends uniformly; checked first so no copy is kept for backward when there is none.
    if (attn.isnan().any().item<bool>()) attn = torch::nan_to_num(attn, 1.0 / static_cast<double>(M));
    outs.push_back(torch::matmul(attn, v).transpose(1, 2).reshape({B, n, D}));
  }
  return proj_drop(proj(outs.size() == 1 ? outs[0] : torch::cat(outs, 1)));
}

SlatBlockImpl::SlatBlockImpl(int64_t dim, int64_t heads, double dropout, int64_t chunk) {
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  cross_attn = register_module("cross_attn", CrossAttention(dim, heads, dropout, chunk));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  norm3 = register_module("norm3", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  mlp = register_module(
      "mlp", torch::nn::Sequential(torch::nn::Linear(dim, 4 * dim), torch::nn::GELU(), torch::nn::Dropout(dropout),
                                   torch::nn::Linear(4 * dim, dim), torch::nn::Dropout(dropout)));
}

torch::Tensor SlatBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& mask) {
  auto y = x + cross_attn(norm1(x), norm2(context), mask);
  return y + mlp->forward(norm3(y));
}

OccupancyHeadImpl::OccupancyHeadImpl(int64_t d) {
  mlp = register_module(
      "mlp", torch::nn::Sequential(torch::nn::Linear(d, d / 2), torch::nn::ReLU(), torch::nn::Linear(d / 2, 1)));
  auto last = mlp->ptr<torch::nn::LinearImpl>(2);
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(last->weight, 0.0, 0.01);
  torch::nn::init::zeros_(last->bias);
}

torch::Tensor OccupancyHeadImpl::forward(const torch::Tensor& x) { return mlp->forward(x).squeeze(-1); }

GaussianHeadImpl::GaussianHeadImpl(int64_t in, int64_t hidden, int64_t G) : num_gaussians_(G) {
  head = register_module(
      "head", torch::nn::Sequential(torch::nn::Linear(in, hidden), torch::nn::GELU(), torch::nn::Linear(hidden, hidden),
                                    torch::nn::GELU(), torch::nn::Linear(hidden, G * kSlatGaussianParams)));
  position_offset_scale = register_parameter("position_offset_scale", torch::tensor(0.5f));
  scale_factor = register_parameter("scale_factor", torch::tensor(0.01f));
  auto last = head->ptr<torch::nn::LinearImpl>(4);
  torch::NoGradGuard no_grad;
  torch::nn::init::normal_(last->weight, 0.0, 0.01);
  torch::nn::init::zeros_(last->bias);
}

torch::Tensor GaussianHeadImpl::forward(const torch::Tensor& x_in, const torch::Tensor& coords,
                                        const torch::Tensor& colour_prior, const torch::Tensor& prior_weight) {
  const int64_t B = x_in.size(0), N = x_in.size(1), G = num_gaussians_;
  auto x = torch::nan_to_num(x_in, 0.0, 1.0, -1.0);
  auto raw = head->forward(x).clamp(-10.0, 10.0).reshape({B, N, G, kSlatGaussianParams});
  // Voxel corner v/64·2 − 1 (the original's "centre"; the dataset's occupancy targets use the same point).
  auto centre = (coords.narrow(-1, 1, 3).to(x.scalar_type()).clamp(0, 63) / 64.0 * 2 - 1).unsqueeze(2);
  auto pos = (centre + torch::tanh(raw.narrow(-1, 0, 3)) * position_offset_scale).clamp(-1.0, 1.0);
  auto scale = (F::softplus(raw.narrow(-1, 3, 3)) * scale_factor.abs()).clamp(1e-4, 1.0);
  auto quat = raw.narrow(-1, 6, 4);
  quat = quat / quat.norm(2, -1, true).clamp_min(1e-6);
  auto color_logit = raw.narrow(-1, 10, 3);
  if (colour_prior.defined()) {  // clamped so that black and white stay reachable residuals
    auto prior = torch::logit(colour_prior.to(x.scalar_type()).clamp(0.02, 0.98));
    if (prior_weight.defined()) prior = prior * prior_weight.to(x.scalar_type()).unsqueeze(-1);
    color_logit = color_logit + prior.unsqueeze(2);
  }
  auto color = torch::sigmoid(color_logit);
  auto opacity = torch::sigmoid(raw.narrow(-1, 13, 1));
  auto g = torch::cat({pos, scale, quat, color, opacity}, -1).reshape({B, N * G, kSlatGaussianParams});
  return torch::nan_to_num(g, 0.0);
}

// --- decoder ---------------------------------------------------------------------------------------------------

namespace {
// The original's _init_weights test for its small-gain group: a substring test on the qualified name.
bool has_attention_gain(const std::string& name) {
  return name.find('q') != std::string::npos || name.find("kv") != std::string::npos ||
         name.find("proj") != std::string::npos;
}
}  // namespace

void SlatDecoderImpl::reinit_attention(double gain) {
  torch::NoGradGuard no_grad;
  for (const auto& item : named_modules("", false))
    if (auto* lin = item.value()->as<torch::nn::Linear>())
      if (has_attention_gain(item.key())) torch::nn::init::xavier_uniform_(lin->weight, gain);
}

SlatDecoderImpl::SlatDecoderImpl(SlatDecoderOptions o) : options_(std::move(o)) {
  options_.validate();
  const int64_t D = options_.hidden_dim;
  feature_proj = register_module("feature_proj", torch::nn::Linear(options_.feature_dim, D));
  if (options_.pixel_aligned)
    pixel_embed = register_module(
        "pixel_embed", torch::nn::Linear(options_.feature_dim + 3 + (options_.pixel_visibility ? 2 : 0), D));
  pos_encoding = register_module("pos_encoding", PositionalEncoding3D(D, options_.max_resolution));
  if (options_.transformer()) {
    voxel_embed = register_parameter("voxel_embed", torch::randn({1, 1, D}) * 0.02);
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < options_.num_layers; ++i)
      blocks->push_back(SlatBlock(D, options_.num_heads, options_.dropout, options_.chunk_size));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D})));
    if (options_.predict_occupancy) occupancy_head = register_module("occupancy_head", OccupancyHead(D));
  } else {
    mlp = register_module("mlp", torch::nn::Sequential());
    for (int64_t i = 0; i < options_.num_layers; ++i) {
      mlp->push_back(torch::nn::Linear(D, D));
      mlp->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({D})));
      mlp->push_back(torch::nn::GELU());
    }
  }
  gaussian_head = register_module("gaussian_head", GaussianHead(D, D, options_.num_gaussians));
  if (!options_.transformer()) return;  // MLPSLatDecoder keeps PyTorch's default init, as the original
  // The original's _init_weights, last (it overrides the heads' own init): Linear layers whose qualified name
  // contains 'q', 'kv' or 'proj' (a substring test: feature_proj too) get Xavier gain 0.1, the others 0.5.
  torch::NoGradGuard no_grad;
  for (const auto& item : named_modules("", false)) {
    const std::string& name = item.key();
    if (auto* lin = item.value()->as<torch::nn::Linear>()) {
      torch::nn::init::xavier_uniform_(lin->weight, has_attention_gain(name) ? 0.1 : 0.5);
      torch::nn::init::zeros_(lin->bias);
    } else if (auto* ln = item.value()->as<torch::nn::LayerNorm>()) {
      torch::nn::init::ones_(ln->weight);
      torch::nn::init::zeros_(ln->bias);
    } else if (auto* emb = item.value()->as<torch::nn::Embedding>()) {
      torch::nn::init::normal_(emb->weight, 0.0, 0.02);
    }
  }
}

torch::Tensor sample_image_tokens(const torch::Tensor& features, const torch::Tensor& uv) {
  const int64_t B = features.size(0), M = features.size(1), C = features.size(2);
  auto side = [](int64_t m) {
    const auto p = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(std::max<int64_t>(m, 0)))));
    return p * p == m && p > 0 ? p : int64_t{0};
  };
  int64_t P = side(M), skip = 0;
  if (P == 0 && side(M - 5) > 0) P = side(M - 5), skip = 5;
  if (P == 0)
    throw Error("pixel-aligned v2 decoder: " + std::to_string(M) +
                " feature tokens are not a square grid (P², or P² + 5 with TRELLIS's CLS and register tokens)");
  if (uv.dim() != 3 || uv.size(0) != B || uv.size(2) != 2)
    throw Error("pixel-aligned v2 decoder: the pixel query's uv must be (B,N,2), got " + c10::str(uv.sizes()));
  auto grid = features.narrow(1, skip, P * P).transpose(1, 2).reshape({B, C, P, P});
  auto sampled = F::grid_sample(grid, uv.to(features.scalar_type()).unsqueeze(2),
                                F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
  return sampled.squeeze(3).transpose(1, 2);  // (B,C,N,1) → (B,N,C)
}

SlatOutput SlatDecoderImpl::forward(const torch::Tensor& features_in, const torch::Tensor& coords_in,
                                    const torch::Tensor& coord_mask, const PixelQuery& query) {
  if (features_in.dim() != 3 || features_in.size(2) != options_.feature_dim)
    throw Error("v2 decoder features: expected (B,M," + std::to_string(options_.feature_dim) + "), got " +
                c10::str(features_in.sizes()));
  if (coords_in.dim() != 3 || coords_in.size(2) != 4 || coords_in.size(0) != features_in.size(0))
    throw Error("v2 decoder coords: expected (B,N,4), got " + c10::str(coords_in.sizes()));
  const int64_t B = coords_in.size(0), N = coords_in.size(1);
  auto features = torch::nan_to_num(features_in, 0.0, 1.0, -1.0);
  auto coords = coords_in.narrow(-1, 1, 3).clamp(0, options_.max_resolution - 1);
  coords = torch::cat({coords_in.narrow(-1, 0, 1), coords}, -1);
  torch::Tensor pixel;  // what each voxel sees in the image, or nothing
  if (pixel_embed) {
    if (!query.defined() || !query.rgb.defined())
      throw Error("this v2 decoder is pixel-aligned: it needs what each voxel sees in the input image (PixelQuery)");
    if (query.uv.dim() != 3 || query.uv.size(1) != N || query.rgb.sizes() != at::IntArrayRef({B, N, 3}))
      throw Error("v2 decoder pixel query: expected uv (B," + std::to_string(N) + ",2) and rgb (B," +
                  std::to_string(N) + ",3), got " + c10::str(query.uv.sizes()) + " and " + c10::str(query.rgb.sizes()));
    std::vector<torch::Tensor> seen{sample_image_tokens(features, query.uv), query.rgb.to(features.scalar_type())};
    if (options_.pixel_visibility) {
      if (!query.visibility.defined() || query.visibility.sizes() != at::IntArrayRef({B, N, 2}))
        throw Error("this v2 decoder was trained with --pixel_visibility: its pixel query needs visibility (B," +
                    std::to_string(N) + ",2) against the object's voxels" +
                    (query.visibility.defined() ? ", got " + c10::str(query.visibility.sizes()) : std::string()));
      seen.push_back(query.visibility.to(features.scalar_type()));
    }
    pixel = pixel_embed(torch::cat(seen, -1));
  }
  // The colour prior of --pixel_colour_residual, on the voxels the image sees when visibility is known.
  const torch::Tensor prior = options_.pixel_colour_residual ? query.rgb : torch::Tensor();
  const torch::Tensor prior_weight =
      options_.pixel_colour_residual && options_.pixel_visibility ? query.visibility.select(-1, 0) : torch::Tensor();
  SlatOutput out;
  if (!options_.transformer()) {
    auto global = feature_proj(features.mean(1, true)).expand({B, N, options_.hidden_dim});
    auto input = global + pos_encoding(coords);
    auto x = mlp->forward(pixel.defined() ? input + pixel : input);
    out.gaussians = gaussian_head(x, coords, prior, prior_weight);
    return out;
  }
  auto context = torch::nan_to_num(feature_proj(features), 0.0);
  auto x = voxel_embed.expand({B, N, options_.hidden_dim}) + pos_encoding(coords);
  if (pixel.defined()) x = x + pixel;
  for (const auto& block : *blocks) x = torch::nan_to_num(block->as<SlatBlock>()->forward(x, context, coord_mask), 0.0);
  x = norm(x);
  if (occupancy_head) out.occupancy_logits = occupancy_head(x);
  out.gaussians = gaussian_head(x, coords, prior, prior_weight);
  return out;
}

torch::Tensor SlatDecoderImpl::occupied_gaussians(const SlatOutput& out, const torch::Tensor& coord_mask,
                                                  int64_t b) const {
  const int64_t G = options_.num_gaussians;
  auto g = out.gaussians[b].view({-1, G, kSlatGaussianParams});  // (N,G,14)
  auto keep = torch::ones({g.size(0)}, torch::TensorOptions(torch::kBool).device(g.device()));
  if (out.occupancy_logits.defined()) keep = torch::sigmoid(out.occupancy_logits[b]) > options_.occupancy_threshold;
  if (coord_mask.defined()) keep = keep.logical_and(coord_mask[b].to(torch::kBool));
  return g.index({keep}).reshape({-1, kSlatGaussianParams});
}

GridPrediction predict_occupied_grid(SlatDecoder& model, const torch::Tensor& features, double threshold,
                                     int64_t max_voxels, int64_t voxels_per_pass, const VoxelProjection& project) {
  const auto& o = model->options();
  if (o.pixel_aligned && !project)
    throw Error("v2 infer: this checkpoint is pixel-aligned (trained with --pixel_aligned) and needs the input camera "
                "to project the grid into the image");
  if (!model->occupancy_head)
    throw Error(
        "v2 infer from an image needs a checkpoint with an occupancy head (transformer decoder trained "
        "without --no_occupancy): there are no coords to decode otherwise");
  if (features.dim() != 3 || features.size(0) != 1 || features.size(2) != o.feature_dim)
    throw Error("v2 infer: the checkpoint expects (1,M," + std::to_string(o.feature_dim) +
                ") features, the image gave " + c10::str(features.sizes()));
  if (!(threshold > 0.0 && threshold < 1.0)) throw Error("v2 infer: the occupancy threshold must be in (0,1)");
  if (max_voxels < 1 || voxels_per_pass < 1) throw Error("v2 infer: the voxel cap and pass size must be >= 1");
  torch::NoGradGuard no_grad;
  const int64_t R = o.max_resolution, total = R * R * R, G = o.num_gaussians;
  std::vector<torch::Tensor> voxels, gaussians;
  int64_t kept = 0;
  for (int64_t start = 0; start < total; start += voxels_per_pass) {
    const int64_t n = std::min(voxels_per_pass, total - start);
    auto id = torch::arange(start, start + n, torch::kInt64);
    auto xyz = torch::stack({id.div(R * R, "floor"), id.div(R, "floor").remainder(R), id.remainder(R)}, 1);
    auto coords = torch::cat({torch::zeros({n, 1}, torch::kInt64), xyz}, 1).unsqueeze(0);
    PixelQuery pixel;
    if (o.pixel_aligned) {
      const auto p = project(xyz, torch::Tensor());
      pixel = {p.uv.unsqueeze(0), p.rgb.unsqueeze(0)};
      if (o.pixel_visibility)  // pass 1: every voxel taken as seen, on the first surface
        pixel.visibility = torch::stack({torch::ones({1, n}), torch::zeros({1, n})}, -1);
    }
    auto out = model->forward(features, coords, torch::Tensor(), pixel);
    auto keep = torch::sigmoid(out.occupancy_logits[0]) > threshold;
    kept += keep.sum().item<int64_t>();
    if (kept > max_voxels)
      throw Error("v2 infer: more than " + std::to_string(max_voxels) + " of the " + std::to_string(total) +
                  " grid voxels are predicted occupied at threshold " + std::to_string(threshold) +
                  "; raise the threshold or the voxel cap (--max_voxels)");
    voxels.push_back(xyz.index({keep}));
    gaussians.push_back(
        out.gaussians[0].view({n, G, kSlatGaussianParams}).index({keep}).reshape({-1, kSlatGaussianParams}));
  }
  GridPrediction result{torch::cat(voxels), torch::cat(gaussians)};
  if (!o.pixel_visibility) return result;
  // Pass 2: the Gaussians of the occupied voxels, each told whether the image sees it past the others.
  std::vector<torch::Tensor> decoded;
  const int64_t K = result.voxels.size(0);
  for (int64_t start = 0; start < K; start += voxels_per_pass) {
    const int64_t n = std::min(voxels_per_pass, K - start);
    auto xyz = result.voxels.narrow(0, start, n);
    auto coords = torch::cat({torch::zeros({n, 1}, torch::kInt64), xyz}, 1).unsqueeze(0);
    const auto p = project(xyz, result.voxels);
    PixelQuery pixel{p.uv.unsqueeze(0), p.rgb.unsqueeze(0), p.visibility.unsqueeze(0)};
    decoded.push_back(model->forward(features, coords, torch::Tensor(), pixel).gaussians[0]);
  }
  if (!decoded.empty()) result.gaussians = torch::cat(decoded);
  return result;
}

}  // namespace fresnel::v2
