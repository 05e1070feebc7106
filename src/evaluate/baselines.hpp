// Predictors that need no learning, so every evaluation number has a reference point (docs/benchmarks.md).
#pragma once
#include <string>

#include "core/gaussians.hpp"
#include "data/multiview_dataset.hpp"
#include "evaluate/evaluate.hpp"

namespace fresnel {

// Footprint of an unprojected pixel's Gaussian: scale = kUnprojectedScale · z / f (a fraction of the pixel's
// footprint at its depth; the rasterizer's 0.3 px² low-pass widens it further on screen).
constexpr double kUnprojectedScale = 0.25;
constexpr double kUnprojectedOpacity = 0.99;

// Baseline (a) "unprojected pixels": every input pixel with mask > 0 becomes an isotropic Gaussian at its
// ground-truth depth, unprojected through the input camera intrinsics (pixel centre at i + 0.5), in the input
// camera frame. Colour = pixel colour divided by its coverage (the dataset stores edges premultiplied on
// black), opacity = 0.99·coverage. An upper bound for the input view, a lower bound for unseen geometry.
Gaussians unprojected_gaussians(const ViewData& input, double scale_factor = kUnprojectedScale);
GaussianPredictor unprojected_predictor(double scale_factor = kUnprojectedScale);

// Reads `<dir>/<object_id>.<ext>` in any Gaussian file format (core/gaussian_io.hpp; the first extension of the
// format table that exists), Gaussians in the input camera frame, or in the object frame when a
// `<object_id>.cameras.json` beside the file says so (infer --frame object; core/object_frame.hpp). The screen
// filter that file names (infer records the checkpoint's) comes with the prediction; none named: unset.
ObjectPredictor gaussian_files_predictor(const std::string& dir);
// The screen filter a `.cameras.json` names, or none; a malformed name is an error naming the file.
std::optional<ScreenFilter> screen_filter_from_file(const std::string& cameras_json);

}  // namespace fresnel
