// Depth error of a predicted depth map against ground truth (docs/metrics.md), the standard monocular-depth
// measures on metric camera z:
//   AbsRel = mean |z_pred − z_gt| / z_gt,   δ<1.25 = fraction of pixels with max(z_pred/z_gt, z_gt/z_pred) < 1.25
//   AbsRel (median-scaled) = AbsRel of z_pred · median(z_gt)/median(z_pred): the error left after the one global
//   scale a single view cannot pin down; AbsRel minus this is the part due to misplacing the object as a whole
// over the pixels where the ground truth is valid (z_gt > 0: the object; synthetic backgrounds are 0). A
// prediction ≤ 0 or non-finite at such a pixel counts as a miss for δ and as error 1 for AbsRel (not skipped).
#pragma once
#include <torch/types.h>

#include <cstdint>

namespace fresnel {

struct DepthErrors {
  int64_t pixels = 0;  // ground-truth pixels scored (0: nothing to score, the values are NaN)
  double abs_rel = 0;
  double delta1 = 0;  // in [0,1]
  double abs_rel_median_scaled = 0;
};

// prediction and target: (H,W) of one view, any float dtype, equal sizes (resize first: resize_depth_nearest).
// Throws fresnel::Error on a shape mismatch.
DepthErrors depth_errors(const torch::Tensor& prediction, const torch::Tensor& target);
// (…,h,w) → (H,W) by nearest-neighbour sampling: depth must not blend foreground with background at edges.
torch::Tensor resize_depth_nearest(const torch::Tensor& depth, int64_t height, int64_t width);

}  // namespace fresnel
