// `--vlm_fallback saliency`: a density map from the image alone, for machines without a VLM server. Faces (OpenCV's
// frontal-face and eye Haar cascades, Debian package opencv-data) become the smart mode's landmark blobs; other images
// get spectral-residual saliency (Hou & Zhang 2007). Same G×G layout and [0,1] range as the VLM maps.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/objdetect.hpp>

#include "guide/density.hpp"

namespace fresnel::guide {

// Where the cascades may be: $FRESNEL_HAARCASCADES, then the usual install locations (opencv-data and source builds).
std::vector<std::string> haar_cascade_dirs();
// The first folder holding the face and eye cascades. Throws fresnel::Error naming the places looked at and the
// package to install.
std::string find_haar_cascade_dir(const std::vector<std::string>& candidates = haar_cascade_dirs());

class SaliencyDensity {
 public:
  explicit SaliencyDensity(int grid_size);  // loads the cascades (clear error when missing)
  // `bgr`: 8-bit 3-channel image. Thread-safe.
  DensityResult compute(const cv::Mat& bgr);
  // The landmarks the face path uses (one set per detected face), as fractions of the image.
  std::vector<Landmark> face_landmarks(const cv::Mat& bgr);

 private:
  std::vector<float> spectral_residual(const cv::Mat& gray) const;
  int grid_;
  cv::CascadeClassifier face_, eye_;
  std::mutex mutex_;  // CascadeClassifier::detectMultiScale is not documented as thread-safe
};

}  // namespace fresnel::guide
