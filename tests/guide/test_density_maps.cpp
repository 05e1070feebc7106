// The density models without a server: the smart mode's landmark blobs, scipy-style zoom, and the saliency
// fallback on a photo of a face (OpenCV's documentation image, tests/guide/data), a drawn face and a uniform image.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "guide/saliency.hpp"
#include "testutil/testutil.hpp"

namespace fresnel::guide {
namespace {

int argmax(const std::vector<float>& v) { return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin()); }

TEST(LandmarkDensity, BlobsHaveTheOriginalsSigmaAndPeakAtOne) {
  EXPECT_EQ(landmark_sigma("left_eye"), 15);
  EXPECT_EQ(landmark_sigma("right_eye"), 15);
  EXPECT_EQ(landmark_sigma("nose"), 25);
  EXPECT_EQ(landmark_sigma("mouth"), 20);
  EXPECT_EQ(landmark_sigma("face_outline"), 40);
  EXPECT_EQ(landmark_sigma("hair"), 50);
  EXPECT_EQ(landmark_sigma("chin"), 30);
  // One eye at (0.5, 0.25) of 256² → centre pixel (128, 64); one σ (15 px) away the value is e^(−1/2).
  const auto m = landmarks_to_density({{"left_eye", 0.5, 0.25, 0.8}}, 256);
  ASSERT_EQ(m.size(), 256u * 256u);
  EXPECT_FLOAT_EQ(m[64 * 256 + 128], 1.0f);  // normalised by the maximum
  EXPECT_NEAR(m[64 * 256 + 143], std::exp(-0.5), 1e-6);
  EXPECT_NEAR(m[(64 + 30) * 256 + 128], std::exp(-2.0), 1e-6);
  // Two landmarks: the weaker one's peak is its importance relative to the stronger (far apart, blobs do not mix).
  const auto two = landmarks_to_density({{"left_eye", 0.1, 0.1, 1.0}, {"right_eye", 0.9, 0.9, 0.5}}, 256);
  EXPECT_NEAR(two[230 * 256 + 230], 0.5, 1e-4);
  const auto none = landmarks_to_density({}, 16);
  EXPECT_TRUE(std::all_of(none.begin(), none.end(), [](float v) { return v == 0.0f; }));
}

TEST(LandmarkDensity, ZoomSamplesLikeScipyOrder1) {
  // A horizontal ramp x/255 is linear, so scipy's zoom (output i at input i·255/(g−1)) gives i/(g−1) exactly.
  std::vector<float> ramp(256 * 256);
  for (int y = 0; y < 256; ++y)
    for (int x = 0; x < 256; ++x) ramp[y * 256 + x] = x / 255.0f;
  const auto g = zoom_bilinear(ramp, 256, 8);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) EXPECT_NEAR(g[i * 8 + j], j / 7.0, 1e-5) << i << "," << j;
  // Corners are sampled exactly.
  std::vector<float> corners(4 * 4, 0.0f);
  corners[0] = 1.0f;
  corners[15] = 0.25f;
  const auto c = zoom_bilinear(corners, 4, 2);
  EXPECT_FLOAT_EQ(c[0], 1.0f);
  EXPECT_FLOAT_EQ(c[3], 0.25f);
}

TEST(Saliency, MissingCascadesGiveAClearMessage) {
  test::TempDir empty;
  try {
    find_haar_cascade_dir({empty.path()});
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("opencv-data"), std::string::npos) << m;
    EXPECT_NE(m.find(empty.path()), std::string::npos) << m;
    EXPECT_NE(m.find("FRESNEL_HAARCASCADES"), std::string::npos) << m;
  }
  EXPECT_FALSE(find_haar_cascade_dir().empty());  // opencv-data is a build dependency (scripts/install-deps.sh)
}

TEST(Saliency, FacePhotoPeaksOnTheEyes) {
  const cv::Mat photo = cv::imread(std::string(FRESNEL_SOURCE_DIR) + "/tests/guide/data/face_photo.jpg");
  ASSERT_FALSE(photo.empty());
  SaliencyDensity s(8);
  const auto landmarks = s.face_landmarks(photo);
  ASSERT_EQ(landmarks.size(), 6u) << "one face expected";
  const auto r = s.compute(photo);
  ASSERT_TRUE(r.grid.has_value());
  EXPECT_NE(r.method.find("face"), std::string::npos) << r.method;
  // The face is at x 85..222, y 67..204 of 320 (the cascade's box); the eyes are at y ≈ 120 (row 3 of 8).
  const int peak = argmax(*r.grid), row = peak / 8, col = peak % 8;
  EXPECT_GE(col, 2);
  EXPECT_LE(col, 5);
  EXPECT_GE(row, 2);
  EXPECT_LE(row, 3);
  for (const auto& l : landmarks)
    if (l.name.find("eye") != std::string::npos) {
      EXPECT_GT(l.x * 320, 85);
      EXPECT_LT(l.x * 320, 222);
      EXPECT_GT(l.y * 320, 90);
      EXPECT_LT(l.y * 320, 150);
    }
  // Corners (background) weigh far less than the peak.
  EXPECT_LT((*r.grid)[0], 0.1f);
  EXPECT_LT((*r.grid)[63], 0.1f);
}

TEST(Saliency, DrawnFacePeaksOnTheFace) {
  // A face-like drawing on a textured-free grey background: skin ellipse, dark eyes, nose and mouth, left of centre.
  cv::Mat img(256, 256, CV_8UC3, cv::Scalar(90, 90, 90));
  const cv::Point centre(96, 128);
  cv::ellipse(img, centre, cv::Size(48, 62), 0, 0, 360, cv::Scalar(150, 180, 225), cv::FILLED);
  cv::circle(img, centre + cv::Point(-18, -14), 7, cv::Scalar(30, 30, 30), cv::FILLED);
  cv::circle(img, centre + cv::Point(18, -14), 7, cv::Scalar(30, 30, 30), cv::FILLED);
  cv::line(img, centre + cv::Point(0, -4), centre + cv::Point(0, 14), cv::Scalar(90, 110, 160), 3);
  cv::ellipse(img, centre + cv::Point(0, 30), cv::Size(16, 6), 0, 0, 180, cv::Scalar(40, 40, 150), 3);
  SaliencyDensity s(8);
  const auto r = s.compute(img);
  ASSERT_TRUE(r.grid.has_value());
  const int peak = argmax(*r.grid), row = peak / 8, col = peak % 8;
  // The face spans x 48..144 (cols 1..4), y 66..190 (rows 2..5); the right half of the image is empty.
  EXPECT_GE(col, 1) << r.method;
  EXPECT_LE(col, 4) << r.method;
  EXPECT_GE(row, 2) << r.method;
  EXPECT_LE(row, 5) << r.method;
  float right_half = 0;
  for (int i = 0; i < 8; ++i)
    for (int j = 6; j < 8; ++j) right_half = std::max(right_half, (*r.grid)[i * 8 + j]);
  EXPECT_LT(right_half, 0.5f) << r.method;
}

TEST(Saliency, UniformImageIsFlat) {
  SaliencyDensity s(4);
  for (const auto& colour : {cv::Scalar(0, 0, 0), cv::Scalar(128, 64, 200)}) {
    const auto r = s.compute(cv::Mat(64, 48, CV_8UC3, colour));
    ASSERT_TRUE(r.grid.has_value());
    for (float v : *r.grid) EXPECT_FLOAT_EQ(v, (*r.grid)[0]);
    EXPECT_GE((*r.grid)[0], 0.0f);
    EXPECT_LE((*r.grid)[0], 1.0f);
  }
}

TEST(Saliency, TexturedObjectGetsMoreWeightThanFlatBackground) {
  // A busy square on a flat field, no face: spectral residual must prefer the square.
  cv::Mat img(128, 128, CV_8UC3, cv::Scalar(200, 200, 200));
  cv::Mat patch = img(cv::Rect(80, 16, 32, 32));
  cv::randu(patch, cv::Scalar::all(0), cv::Scalar::all(255));
  SaliencyDensity s(4);
  const auto r = s.compute(img);
  ASSERT_TRUE(r.grid.has_value());
  EXPECT_NE(r.method.find("spectral"), std::string::npos) << r.method;
  const int peak = argmax(*r.grid);  // the square covers x 80..112, y 16..48: rows 0–1, columns 2–3 of 4
  EXPECT_LE(peak / 4, 1);
  EXPECT_GE(peak % 4, 2);
  EXPECT_FLOAT_EQ(*std::max_element(r.grid->begin(), r.grid->end()), 1.0f);
  EXPECT_FLOAT_EQ(*std::min_element(r.grid->begin(), r.grid->end()), 0.0f);
}

}  // namespace
}  // namespace fresnel::guide
