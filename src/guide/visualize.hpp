// Pictures for `fresnel vlm -v`: the density grid as a jet heat map over the image, and the segmentation boxes.
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "guide/density.hpp"
#include "guide/vlm_prompts.hpp"

namespace fresnel::guide {

// Image (8-bit BGR) blended 60/40 with the jet colouring of the grid resized bilinearly to the image.
cv::Mat density_overlay(const cv::Mat& bgr, const DensityGrid& grid, int grid_size);
// Boxes coloured by importance (critical red, high orange, medium yellow, low grey) with "label (importance)".
cv::Mat segments_overlay(const cv::Mat& bgr, const std::vector<Segment>& segments);
// PNG written atomically.
void save_png(const std::string& path, const cv::Mat& bgr);

}  // namespace fresnel::guide
