// Fresnel v2's losses (spec §10.4): GaussianMatchingLoss — bidirectional nearest-neighbour matching by position
// between predicted and target Gaussians (rows [pos 3, scale 3, quat 4, colour 3, opacity 1]) — and the occupancy
// BCE, with the weights of the original trainer's config (1/1/0.5/1/5, coverage 1; not the class's 10/5/2/5/3).
#pragma once
#include <torch/types.h>

#include <map>
#include <string>

namespace fresnel::v2 {

struct MatchingWeights {
  double position = 1.0, scale = 1.0, rotation = 0.5, color = 1.0, opacity = 5.0, coverage = 1.0;
  int64_t max_match_points = 4096;  // predictions per sample (targets: twice as many), random subset
  int64_t chunk_size = 2048;        // nearest-neighbour search in blocks of this many

  // The six term weights by their flag and config names ("position_weight", …), for `v2 train` and checkpoints.
  template <class Self, class Visit>
  static void fields(Self& w, Visit&& visit) {
    visit("position_weight", w.position);
    visit("scale_weight", w.scale);
    visit("rotation_weight", w.rotation);
    visit("color_weight", w.color);
    visit("opacity_weight", w.opacity);
    visit("coverage_weight", w.coverage);
  }
};

// Index of the nearest `to` row (by Euclidean distance) for every `from` row, in chunks.
torch::Tensor nearest_neighbours(const torch::Tensor& from, const torch::Tensor& to, int64_t chunk_size);

// Weighted terms averaged over the batch ("position", "scale", "rotation", "color", "opacity", "coverage"):
// pred (B,P,14), target (B,T,14), masks (B,P)/(B,T) bool (undefined = all). Within a sample, rows whose position
// and opacity are both zero are dropped (the original's padding test); a sample left empty adds nothing.
std::map<std::string, torch::Tensor> gaussian_matching_loss(const torch::Tensor& pred, const torch::Tensor& target,
                                                            const torch::Tensor& pred_mask,
                                                            const torch::Tensor& target_mask,
                                                            const MatchingWeights& w = {});

// BCE-with-logits over the valid voxels (coord_mask), unweighted.
torch::Tensor occupancy_loss(const torch::Tensor& logits, const torch::Tensor& target, const torch::Tensor& mask);

// The original's never-used RenderLoss as an option (`--render_weight`): predicted and target Gaussians (rows
// (N,14), the dataset frame) rendered by our rasterizer from `views` cameras orbiting the origin at distance 3
// (focal = resolution, 0.2 rad above the equator) with TRELLIS's screen filter, compared by L1 + 0.5·(1 − SSIM)
// (the original's weights without its LPIPS term). Differentiable w.r.t. the predictions.
torch::Tensor render_loss(const torch::Tensor& pred_rows, const torch::Tensor& target_rows, int views, int resolution);

// The metrics the original prints: over valid voxels, accuracy of σ(logit) > ½, recall on positive voxels, and
// the Gaussians kept per sample (#(σ > ½)·G / B).
struct OccupancyCounts {
  double correct = 0, valid = 0, true_positive = 0, positive = 0, kept_gaussians = 0, samples = 0;
  void add(const torch::Tensor& logits, const torch::Tensor& target, const torch::Tensor& mask,
           int64_t gaussians_per_voxel);
  double accuracy() const { return valid > 0 ? correct / valid : 0; }
  double recall() const { return positive > 0 ? true_positive / positive : 0; }
  double avg_gaussians() const { return samples > 0 ? kept_gaussians / samples : 0; }
};

}  // namespace fresnel::v2
