#include "guide/visualize.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <ostream>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace fresnel::guide {

cv::Mat density_overlay(const cv::Mat& bgr, const DensityGrid& grid, int g) {
  cv::Mat small(g, g, CV_32F, const_cast<float*>(grid.data())), full, u8, heat, out;
  cv::resize(small, full, bgr.size(), 0, 0, cv::INTER_LINEAR);
  full = cv::min(cv::max(full, 0.0), 1.0);
  full.convertTo(u8, CV_8U, 255.0);
  cv::applyColorMap(u8, heat, cv::COLORMAP_JET);
  cv::addWeighted(bgr, 0.6, heat, 0.4, 0.0, out);
  return out;
}

cv::Mat segments_overlay(const cv::Mat& bgr, const std::vector<Segment>& segments) {
  cv::Mat out = bgr.clone();
  auto colour = [](const std::string& importance) {
    if (importance == "critical") return cv::Scalar(0, 0, 255);
    if (importance == "high") return cv::Scalar(0, 165, 255);
    if (importance == "medium") return cv::Scalar(0, 255, 255);
    if (importance == "low") return cv::Scalar(128, 128, 128);
    return cv::Scalar(255, 255, 255);
  };
  const double w = bgr.cols, h = bgr.rows;
  for (const auto& s : segments) {
    const cv::Point p0(static_cast<int>(s.bbox[0] * w), static_cast<int>(s.bbox[1] * h));
    const cv::Point p1(static_cast<int>(s.bbox[2] * w), static_cast<int>(s.bbox[3] * h));
    cv::rectangle(out, p0, p1, colour(s.importance), 3);
    cv::putText(out, s.label + " (" + s.importance + ")", cv::Point(p0.x + 2, std::max(12, p0.y - 5)),
                cv::FONT_HERSHEY_SIMPLEX, 0.45, colour(s.importance), 1, cv::LINE_AA);
  }
  return out;
}

void save_png(const std::string& path, const cv::Mat& bgr) {
  std::vector<uchar> png;
  if (!cv::imencode(".png", bgr, png)) throw file_error(path, "PNG encoding failed");
  atomic_write(path, [&](std::ostream& out) { out.write(reinterpret_cast<const char*>(png.data()), png.size()); });
}

}  // namespace fresnel::guide
