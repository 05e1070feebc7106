#include "decode/pixel_aligned.hpp"

#include <torch/torch.h>

#include "core/error.hpp"
#include "decode/direct_patch_decoder.hpp"

namespace fresnel::decode {

namespace F = torch::nn::functional;

namespace {
// Initial raw biases: slot 0 sits on the surface, nearly opaque; deeper slots start 0.3·z behind (e^(1/4)),
// mostly transparent, so they change nothing in the input view until training finds a use for them.
constexpr double kSurfaceOpacityLogit = 4.0;
constexpr double kHiddenOpacityLogit = -1.0;
constexpr double kHiddenDepthRaw = 1.0;
constexpr double kHeadWeightScale = 0.01;

torch::Tensor resize(const torch::Tensor& x, int64_t h, int64_t w) {
  if (x.size(2) == h && x.size(3) == w) return x;
  auto o = F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w});
  if (x.size(2) >= h && x.size(3) >= w) return F::interpolate(x, o.mode(torch::kArea));
  return F::interpolate(x, o.mode(torch::kBilinear).align_corners(false));
}
}  // namespace

torch::Tensor surface_grid_depth(const torch::Tensor& depth, int64_t h, int64_t w) {
  const auto B = depth.size(0);
  auto valid = depth > 0;
  const double inf = 1e30;
  auto filled = torch::where(valid, depth, torch::full_like(depth, inf));
  torch::Tensor g;
  if (depth.size(2) == h && depth.size(3) == w) {
    g = filled;
  } else if (depth.size(2) % h == 0 && depth.size(3) % w == 0) {
    // Nearest surface in each cell: a min-pool (as −max-pool of −z).
    const auto kh = depth.size(2) / h, kw = depth.size(3) / w;
    g = -F::max_pool2d(-filled, F::MaxPool2dFuncOptions({kh, kw}).stride({kh, kw}));
  } else {
    g = F::interpolate(filled, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kNearest));
  }
  auto zmax = torch::where(valid, depth, torch::zeros_like(depth)).reshape({B, -1}).amax(1).view({B, 1, 1, 1});
  auto fill = torch::where(zmax > 0, zmax + 1.0, torch::full_like(zmax, kDefaultDepthOffset + 1.0));
  return torch::where(g < inf * 0.5, g, fill.expand_as(g));
}

PixelAlignedParams pixel_aligned_params(const torch::Tensor& raw, const torch::Tensor& images,
                                        const torch::Tensor& depth, const torch::Tensor& intrinsics, DepthMode mode,
                                        const torch::Tensor& depth_offset, double scale_floor) {
  if (!(scale_floor >= 0.0 && scale_floor < kPixelScaleFactor))
    throw Error("pixel-aligned decoder: scale floor must be in [0, " + std::to_string(kPixelScaleFactor) + ")");
  if (!images.defined() || images.dim() != 4 || images.size(1) != 3)
    throw Error("pixel-aligned decoder: needs the input images (B,3,H,W) for its colour residuals");
  const auto B = raw.size(0), h = raw.size(1), w = raw.size(2);
  const auto opts = raw.options();
  PixelAlignedParams p;

  torch::Tensor zs;  // (B,h,w) surface z
  if (depth.defined()) {
    auto d = depth.to(opts);
    if (mode == DepthMode::Metric) {
      zs = surface_grid_depth(d, h, w);
      p.normalized_depth = normalize_metric_depth(zs).d;
    } else {
      auto dn = resize(d, h, w).clamp(0.0, 1.0);
      zs = normalized_depth_to_z(dn, depth_offset);
      p.normalized_depth = dn;
    }
    zs = zs.squeeze(1);
  } else {
    zs = depth_offset.view({1, 1, 1}).expand({B, h, w});
  }

  auto jj = torch::arange(w, opts).view({1, 1, w, 1}) + 0.5;
  auto ii = torch::arange(h, opts).view({1, h, 1, 1}) + 0.5;
  auto u = (jj + raw.select(-1, 0)) / double(w);
  auto v = (ii + raw.select(-1, 1)) / double(h);
  auto z = zs.unsqueeze(-1) * torch::exp(0.25 * raw.select(-1, 2).clamp(-8.0, 8.0));  // (B,h,w,K)
  p.means = unproject_normalized(u, v, z, intrinsics);

  // Footprint of one patch at depth z: z / (fx in patch units).
  auto fx_cells = (intrinsics.select(1, 0) * double(w)).view({B, 1, 1, 1});
  auto footprint = z / fx_cells;
  auto rel = scale_floor + (kPixelScaleFactor - scale_floor) * torch::exp(raw.narrow(-1, 3, 3).clamp(-6.0, 5.0));
  p.scales = footprint.unsqueeze(-1) * rel;

  auto prior = torch::logit(resize(images.to(opts), h, w).clamp(1e-3, 1.0 - 1e-3)).permute({0, 2, 3, 1}).unsqueeze(3);
  p.colors = torch::sigmoid(prior + raw.narrow(-1, 12, 3));
  p.opacities = torch::sigmoid(raw.select(-1, 15));
  return p;
}

void init_pixel_aligned_head(torch::nn::Linear& last, int64_t K, int64_t P) {
  torch::NoGradGuard ng;
  last->weight.mul_(kHeadWeightScale);
  auto b = last->bias.view({K, P});
  b.zero_();
  for (int64_t k = 0; k < K; ++k) {
    b[k][15] = k == 0 ? kSurfaceOpacityLogit : kHiddenOpacityLogit;
    if (k > 0) b[k][2] = kHiddenDepthRaw;
  }
}

}  // namespace fresnel::decode
