#include "guide/saliency.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "core/error.hpp"

namespace fresnel::guide {
namespace fs = std::filesystem;

namespace {
constexpr const char* kFaceCascade = "haarcascade_frontalface_default.xml";
constexpr const char* kEyeCascade = "haarcascade_eye.xml";
constexpr int kBlobMapSize = 256;  // the smart mode's map size
}  // namespace

std::vector<std::string> haar_cascade_dirs() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("FRESNEL_HAARCASCADES")) candidates.emplace_back(env);
  for (const char* dir : {"/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades",
                          "/usr/local/share/opencv4/haarcascades", "/usr/local/share/opencv/haarcascades"})
    candidates.emplace_back(dir);
  return candidates;
}

std::string find_haar_cascade_dir(const std::vector<std::string>& candidates) {
  std::string looked;
  for (const auto& dir : candidates) {
    if (fs::exists(fs::path(dir) / kFaceCascade) && fs::exists(fs::path(dir) / kEyeCascade)) return dir;
    looked += (looked.empty() ? "" : ", ") + dir;
  }
  throw Error(std::string("--vlm_fallback saliency needs OpenCV's Haar cascades (") + kFaceCascade + ", " +
              kEyeCascade + ") and found none in " + looked +
              ": install them (Debian/Ubuntu: apt install opencv-data) or set FRESNEL_HAARCASCADES to their folder");
}

SaliencyDensity::SaliencyDensity(int grid_size) : grid_(grid_size) {
  const std::string dir = find_haar_cascade_dir();
  for (auto [classifier, file] : {std::pair{&face_, kFaceCascade}, std::pair{&eye_, kEyeCascade}}) {
    const std::string path = (fs::path(dir) / file).string();
    if (!classifier->load(path)) throw file_error(path, "not a loadable OpenCV cascade");
  }
}

std::vector<Landmark> SaliencyDensity::face_landmarks(const cv::Mat& bgr) {
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::equalizeHist(gray, gray);
  const int min_side = std::max(24, static_cast<int>(0.08 * std::min(gray.cols, gray.rows)));
  std::vector<cv::Rect> faces;
  std::lock_guard<std::mutex> lock(mutex_);
  face_.detectMultiScale(gray, faces, 1.1, 5, 0, cv::Size(min_side, min_side));
  const double W = gray.cols, H = gray.rows;
  std::vector<Landmark> out;
  for (const auto& f : faces) {
    // Eyes in the upper 60 % of the face; the two largest, ordered left to right in the image.
    std::vector<cv::Rect> eyes;
    const cv::Rect upper(f.x, f.y, f.width, static_cast<int>(f.height * 0.6));
    eye_.detectMultiScale(gray(upper), eyes, 1.1, 3, 0, cv::Size(std::max(8, f.width / 8), std::max(8, f.width / 8)));
    std::sort(eyes.begin(), eyes.end(), [](const cv::Rect& a, const cv::Rect& b) { return a.area() > b.area(); });
    if (eyes.size() > 2) eyes.resize(2);
    std::sort(eyes.begin(), eyes.end(), [](const cv::Rect& a, const cv::Rect& b) { return a.x < b.x; });
    auto at = [&](double fx, double fy) { return std::pair{(f.x + fx * f.width) / W, (f.y + fy * f.height) / H}; };
    // Typical frontal-face proportions where the eye cascade finds nothing.
    auto left = at(0.3, 0.38), right = at(0.7, 0.38);
    if (eyes.size() == 2) {
      left = {(upper.x + eyes[0].x + eyes[0].width / 2.0) / W, (upper.y + eyes[0].y + eyes[0].height / 2.0) / H};
      right = {(upper.x + eyes[1].x + eyes[1].width / 2.0) / W, (upper.y + eyes[1].y + eyes[1].height / 2.0) / H};
    }
    const auto nose = at(0.5, 0.58), mouth = at(0.5, 0.78), outline = at(0.5, 0.5);
    const auto hair = std::pair{(f.x + 0.5 * f.width) / W, std::max(0.0, (f.y - 0.05 * f.height) / H)};
    // The importances the original's landmark prompt asks the VLM for.
    out.push_back({"left_eye", left.first, left.second, 1.0});
    out.push_back({"right_eye", right.first, right.second, 1.0});
    out.push_back({"nose", nose.first, nose.second, 0.8});
    out.push_back({"mouth", mouth.first, mouth.second, 0.9});
    out.push_back({"face_outline", outline.first, outline.second, 0.7});
    out.push_back({"hair", hair.first, hair.second, 0.5});
  }
  return out;
}

std::vector<float> SaliencyDensity::spectral_residual(const cv::Mat& gray) const {
  // Hou & Zhang: log-amplitude spectrum minus its local mean, back with the original phase, squared and smoothed.
  cv::Mat small;
  // Area averaging when shrinking; bilinear when enlarging (INTER_AREA enlarges by pixel replication, whose block edges
  // the residual would then pick up as "salient").
  const bool shrink = gray.cols >= 64 && gray.rows >= 64;
  cv::resize(gray, small, cv::Size(64, 64), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  small.convertTo(small, CV_32F, 1.0 / 255.0);
  cv::Mat planes[] = {small, cv::Mat::zeros(small.size(), CV_32F)}, complex;
  cv::merge(planes, 2, complex);
  cv::dft(complex, complex);
  cv::split(complex, planes);
  cv::Mat magnitude, phase, log_amp, residual;
  cv::cartToPolar(planes[0], planes[1], magnitude, phase);
  cv::log(magnitude + 1e-9f, log_amp);
  cv::blur(log_amp, residual, cv::Size(3, 3));
  residual = log_amp - residual;
  cv::exp(residual, magnitude);
  cv::polarToCart(magnitude, phase, planes[0], planes[1]);
  cv::merge(planes, 2, complex);
  cv::idft(complex, complex);
  cv::split(complex, planes);
  cv::Mat saliency;
  cv::magnitude(planes[0], planes[1], saliency);
  saliency = saliency.mul(saliency);
  cv::GaussianBlur(saliency, saliency, cv::Size(9, 9), 2.5);
  cv::Mat grid;
  cv::resize(saliency, grid, cv::Size(grid_, grid_), 0, 0, cv::INTER_AREA);
  double lo = 0, hi = 0;
  cv::minMaxLoc(grid, &lo, &hi);
  std::vector<float> out(static_cast<size_t>(grid_) * grid_, 0.5f);
  if (hi - lo < 1e-12) return out;
  for (int i = 0; i < grid_; ++i)
    for (int j = 0; j < grid_; ++j)
      out[static_cast<size_t>(i) * grid_ + j] = static_cast<float>((grid.at<float>(i, j) - lo) / (hi - lo));
  return out;
}

DensityResult SaliencyDensity::compute(const cv::Mat& bgr) {
  DensityResult result;
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  double lo = 0, hi = 0;
  cv::minMaxLoc(gray, &lo, &hi);
  if (hi - lo < 2.0) {  // a uniform image has nothing to prefer: flat map
    result.grid = DensityGrid(static_cast<size_t>(grid_) * grid_, 0.5f);
    result.method = "saliency (uniform image: flat)";
    return result;
  }
  const auto landmarks = face_landmarks(bgr);
  if (!landmarks.empty()) {
    result.grid = zoom_bilinear(landmarks_to_density(landmarks, kBlobMapSize), kBlobMapSize, grid_);
    result.method = "saliency (" + std::to_string(landmarks.size() / 6) + " face(s), Haar cascades)";
    return result;
  }
  result.grid = spectral_residual(gray);
  result.method = "saliency (spectral residual)";
  return result;
}

}  // namespace fresnel::guide
