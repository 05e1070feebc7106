// Fresnel v2's direct predictor (spec §10.3): image features (B,M,C) + sparse voxel coordinates (B,N,4)
// [batch, x, y, z] on the 64³ grid → G Gaussians per voxel (B,N·G,14) and, for the transformer, occupancy
// logits (B,N). It replaces TRELLIS's stage 2 (structured-latent diffusion + decoding).
//  - "transformer" (DirectSLatDecoder): context = Linear(C→D)(features); queries = voxel_embed + 3-D positional
//    encoding; `num_layers` blocks of [x += CrossAttn(LN x, LN context, query mask); x += MLP(LN x)]; LayerNorm;
//    OccupancyHead and GaussianHead. 20,193,907 parameters at the defaults.
//  - "mlp" (MLPSLatDecoder): mean-pooled projected features + positional encoding → [Linear, LN, GELU]×layers →
//    GaussianHead; no occupancy.
// Module and parameter names are the original's, so its checkpoints load by name (v2/import_checkpoint.hpp).
// Gaussian rows: [0:3] position in [−1,1]³ (TRELLIS's frame ×2), [3:6] scale, [6:10] unit quaternion (TRELLIS's
// rot_0..3 order), [10:13] colour in [0,1], [13] opacity in [0,1].
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "decode/decoder_common.hpp"

namespace fresnel::v2 {

struct SlatDecoderOptions {
  std::string decoder_type = "transformer";  // or "mlp"
  int64_t feature_dim = 1024;
  int64_t hidden_dim = 512;
  int64_t num_layers = 6;
  int64_t num_heads = 8;
  int64_t num_gaussians = 8;  // per voxel (the original's num_gaussians_per_voxel)
  int64_t max_resolution = 64;
  double dropout = 0.1;  // the class default; `v2 train` uses the original trainer's 0.2
  bool predict_occupancy = true;
  double occupancy_threshold = 0.5;  // sigmoid probability above which a voxel is kept at inference
  int64_t chunk_size = 1024;         // queries per attention chunk (memory only: results are identical)
  // Pixel-aligned queries (`v2 train --pixel_aligned`, beyond the original): each voxel query also gets the image
  // tokens and image.png's colour where the voxel's centre shows in the input image (PixelQuery), through
  // `pixel_embed`.
  bool pixel_aligned = false;
  // With pixel_aligned: each Gaussian's colour is a residual over the colour its voxel sees, sigmoid(raw +
  // logit(rgb)) instead of sigmoid(raw) (`--pixel_colour_residual`), so a visible voxel starts at the image's colour
  // as v1's pixel-aligned Gaussians do and training learns where (the back, occluded voxels) to depart from it.
  bool pixel_colour_residual = false;
  // With pixel_aligned: each query also gets whether the input view sees its voxel past the object's other voxels
  // (PixelQuery::visibility, v2::voxel_visibility), and with pixel_colour_residual only visible voxels start at the
  // image's colour (`--pixel_visibility`): the image's colour belongs to the first surface, not to the back.
  bool pixel_visibility = false;

  template <class Self, class Visit>
  static void fields(Self& o, Visit&& visit) {
    visit("decoder_type", o.decoder_type);
    visit("feature_dim", o.feature_dim);
    visit("hidden_dim", o.hidden_dim);
    visit("num_layers", o.num_layers);
    visit("num_heads", o.num_heads);
    visit("num_gaussians_per_voxel", o.num_gaussians);
    visit("max_resolution", o.max_resolution);
    visit("dropout", o.dropout);
    visit("predict_occupancy", o.predict_occupancy);
    visit("occupancy_threshold", o.occupancy_threshold);
    visit("pixel_aligned", o.pixel_aligned);
    visit("pixel_colour_residual", o.pixel_colour_residual);
    visit("pixel_visibility", o.pixel_visibility);
  }
  bool transformer() const { return decoder_type == "transformer"; }
  void validate() const;  // throws fresnel::Error naming the field
};

constexpr int64_t kSlatGaussianParams = 14;

// What each voxel query of a pixel-aligned decoder sees in the input image (v2::pixel_query builds it).
struct PixelQuery {
  torch::Tensor uv;   // (B,N,2) where the voxel shows, grid_sample coordinates ((−1,−1) top-left, (1,1) bottom-right)
  torch::Tensor rgb;  // (B,N,3) the input image's colour there, in [0,1] (zero outside the image)
  torch::Tensor visibility;  // (B,N,2) [visible, depth past the first surface] (voxel_visibility), or undefined
  bool defined() const { return uv.defined(); }
};

class PositionalEncoding3DImpl : public torch::nn::Module {
 public:
  PositionalEncoding3DImpl(int64_t d_model, int64_t max_resolution);
  torch::Tensor forward(const torch::Tensor& coords);  // (B,N,4) → (B,N,d_model)
  // Overwrites the three tables (the original's init is N(0, 0.02)) with a smooth code of the index: row i of a
  // table of width w holds sin(ω_k·i), cos(ω_k·i) for w/2 frequencies ω_k from π/R to π/2, geometrically spaced
  // (R = max_resolution; an odd last column is 0). Neighbouring voxels then start with similar queries, so what
  // one voxel learns about where it shows in the image carries to its neighbours instead of being learned per
  // index (`v2 train --position_init sinusoidal`). Same parameters, so checkpoints are unaffected.
  void init_sinusoidal();
  torch::nn::Embedding pos_embed_x{nullptr}, pos_embed_y{nullptr}, pos_embed_z{nullptr};

 private:
  int64_t max_resolution_;
};
TORCH_MODULE(PositionalEncoding3D);

class CrossAttentionImpl : public torch::nn::Module {
 public:
  CrossAttentionImpl(int64_t dim, int64_t heads, double dropout, int64_t chunk_size);
  // x (B,N,D) queries, context (B,M,D), mask (B,N) bool or undefined: masked query rows attend uniformly.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& mask);
  torch::nn::Linear q{nullptr}, kv{nullptr}, proj{nullptr};
  torch::nn::Dropout attn_drop{nullptr}, proj_drop{nullptr};
  int64_t chunk_size;

 private:
  int64_t heads_;
};
TORCH_MODULE(CrossAttention);

class SlatBlockImpl : public torch::nn::Module {
 public:
  SlatBlockImpl(int64_t dim, int64_t heads, double dropout, int64_t chunk_size);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& mask);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
  CrossAttention cross_attn{nullptr};
  torch::nn::Sequential mlp{nullptr};
};
TORCH_MODULE(SlatBlock);

class GaussianHeadImpl : public torch::nn::Module {
 public:
  GaussianHeadImpl(int64_t in_dim, int64_t hidden_dim, int64_t num_gaussians);
  // → (B,N·G,14); colour_prior (B,N,3) in [0,1] or undefined: colours are residuals over it (pixel_colour_residual),
  // weighted per voxel by prior_weight (B,N) when given (0: no prior, the voxel's colour is its own).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& coords, const torch::Tensor& colour_prior = {},
                        const torch::Tensor& prior_weight = {});
  torch::nn::Sequential head{nullptr};
  torch::Tensor position_offset_scale, scale_factor;  // learnable, init 0.5 and 0.01

 private:
  int64_t num_gaussians_;
};
TORCH_MODULE(GaussianHead);

class OccupancyHeadImpl : public torch::nn::Module {
 public:
  explicit OccupancyHeadImpl(int64_t hidden_dim);
  torch::Tensor forward(const torch::Tensor& x);  // (B,N,D) → logits (B,N)
  torch::nn::Sequential mlp{nullptr};
};
TORCH_MODULE(OccupancyHead);

struct SlatOutput {
  torch::Tensor gaussians;         // (B,N·G,14), every voxel (padded ones too: the loss masks them)
  torch::Tensor occupancy_logits;  // (B,N), undefined for the MLP decoder or without occupancy
};

class SlatDecoderImpl : public torch::nn::Module {
 public:
  explicit SlatDecoderImpl(SlatDecoderOptions options = {});
  // features (B,M,C); coords (B,N,4) integer; coord_mask (B,N) bool or undefined; pixel: what each voxel sees in
  // the input image, required by a pixel-aligned model and ignored otherwise.
  // Re-draws the weights of the original's small-gain group (Linear layers named with 'q', 'kv' or 'proj': the
  // attention projections and feature_proj) as Xavier-uniform with `gain` instead of its 0.1
  // (`v2 train --attention_gain`): at 0.1 the image's contribution to each query starts ~100× below the voxel's own
  // embedding.
  void reinit_attention(double gain);
  SlatOutput forward(const torch::Tensor& features, const torch::Tensor& coords, const torch::Tensor& coord_mask,
                     const PixelQuery& pixel = {});
  // Inference: the Gaussians (K·G,14) of the voxels of sample b whose occupancy probability exceeds the threshold
  // (and that the coord mask keeps); all masked-in voxels without an occupancy head.
  torch::Tensor occupied_gaussians(const SlatOutput& out, const torch::Tensor& coord_mask, int64_t b) const;
  const SlatDecoderOptions& options() const { return options_; }

  torch::nn::Linear feature_proj{nullptr};
  torch::nn::Linear pixel_embed{nullptr};  // pixel_aligned only
  PositionalEncoding3D pos_encoding{nullptr};
  torch::Tensor voxel_embed;              // transformer
  torch::nn::ModuleList blocks{nullptr};  // transformer
  torch::nn::LayerNorm norm{nullptr};     // transformer
  OccupancyHead occupancy_head{nullptr};  // transformer with occupancy
  torch::nn::Sequential mlp{nullptr};     // mlp
  GaussianHead gaussian_head{nullptr};

 private:
  SlatDecoderOptions options_;
};
TORCH_MODULE(SlatDecoder);

using decode::count_parameters;

// The image tokens of `features` (B,M,C) bilinearly sampled at `uv` (B,N,2) → (B,N,C). The tokens form a square
// P×P grid in row-major order (M = P², or P² + 5 for TRELLIS's CLS + 4 register tokens, which are dropped); uv is
// in grid_sample's convention ((−1,−1) the image's top-left corner, (1,1) its bottom-right); outside the image the
// grid is padded with zeros. Throws fresnel::Error when M is not such a grid.
torch::Tensor sample_image_tokens(const torch::Tensor& features, const torch::Tensor& uv);

// Inference without coords (`v2 infer --image`): every voxel of the full max_resolution³ grid is a query (queries only
// attend to the features, so chunks of `voxels_per_pass` give the unchunked result), and the voxels whose occupancy
// probability exceeds `threshold` are kept. Throws fresnel::Error when the model has no occupancy head, the features
// do not fit it, or more than `max_voxels` voxels are predicted occupied.
struct GridPrediction {
  torch::Tensor voxels;     // (K,3) int64 x,y,z of the occupied voxels, in grid order
  torch::Tensor gaussians;  // (K·G,14): voxel k's G Gaussians are rows k·G … k·G+G−1
};
// `project` gives a pixel-aligned model each pass's PixelQuery: (n,3) voxels and the object's occupied voxels (or
// undefined) → uv (n,2), rgb (n,3) and, against the occupied voxels, visibility (n,2) (pixel_query); it must be set
// for such a model. A model with pixel_visibility decodes in two passes: occupancy over the grid with every voxel
// taken as seen ([1, 0]: the occupied set is what is being predicted), then the Gaussians of the occupied voxels
// with their visibility against that set.
using VoxelProjection = std::function<PixelQuery(const torch::Tensor& xyz, const torch::Tensor& occupied)>;
GridPrediction predict_occupied_grid(SlatDecoder& model, const torch::Tensor& features, double threshold,
                                     int64_t max_voxels, int64_t voxels_per_pass = 8192,
                                     const VoxelProjection& project = {});

}  // namespace fresnel::v2
