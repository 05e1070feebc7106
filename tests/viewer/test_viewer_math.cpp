// Viewer pieces that need no display: orbit camera (the original viewer's mouse mapping, OpenCV frame),
// back-to-front sorting and the GPU packing of Gaussians.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.hpp"
#include "depth_sort.hpp"
#include "orbit_camera.hpp"
#include "scene.hpp"
#include "splat_data.hpp"

using namespace fresnel;
using namespace fresnel::viewer;

TEST(OrbitCamera, MouseMappingFollowsTheOriginalViewer) {
  OrbitCamera c;
  c.orbit(10, 20);  // yaw −= 0.01·dx, pitch += 0.01·dy
  EXPECT_NEAR(c.yaw, -0.1, 1e-12);
  EXPECT_NEAR(c.pitch, 0.2, 1e-12);
  c.orbit(0, 1000);
  EXPECT_DOUBLE_EQ(c.pitch, 1.5);
  c.orbit(0, -5000);
  EXPECT_DOUBLE_EQ(c.pitch, -1.5);
  c.distance = 5;
  c.zoom(1);  // dist ·= 1 − 0.1·dy
  EXPECT_NEAR(c.distance, 4.5, 1e-12);
  for (int i = 0; i < 100; ++i) c.zoom(5);
  EXPECT_DOUBLE_EQ(c.distance, 0.5);
  for (int i = 0; i < 100; ++i) c.zoom(-5);
  EXPECT_DOUBLE_EQ(c.distance, 50.0);
}

TEST(OrbitCamera, IsTheSphericalCameraOfCore) {
  OrbitCamera c;
  c.yaw = 0.7;
  c.pitch = -0.4;
  c.distance = 3.5;
  c.target = {0.1, -0.2, 3.0};
  const Camera a = c.camera(320, 240);
  const double f = 0.5 * 240 / std::tan(0.5 * c.fov_y);
  const Camera b = spherical_camera(0.7, -0.4, 3.5, c.target, f, f, 320, 240);
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(a.world_to_camera[i], b.world_to_camera[i], 1e-12);
  EXPECT_DOUBLE_EQ(a.fx, f);
  // The target projects to the image centre at the orbit distance.
  const Vec3 p = a.project(c.target);
  EXPECT_NEAR(p[0], 160, 1e-9);
  EXPECT_NEAR(p[1], 120, 1e-9);
  EXPECT_NEAR(p[2], 3.5, 1e-9);
}

TEST(OrbitCamera, YawZeroIsTheInputView) {
  // yaw = pitch = 0 looks along +z (the input camera of a prediction), image x = world x, image y = world y.
  OrbitCamera c;
  c.target = {0, 0, 3};
  c.distance = 3;
  const Camera cam = c.camera(100, 100);
  const Vec3 eye = cam.position();
  EXPECT_NEAR(eye[0], 0, 1e-12);
  EXPECT_NEAR(eye[1], 0, 1e-12);
  EXPECT_NEAR(eye[2], 0, 1e-12);
  const Vec3 right = cam.project({0.5, 0, 3});
  const Vec3 down = cam.project({0, 0.5, 3});
  EXPECT_GT(right[0], 50);
  EXPECT_GT(down[1], 50);
}

TEST(OrbitCamera, PanMovesTheTargetInTheImagePlane) {
  OrbitCamera c;
  c.yaw = 0.3;
  c.pitch = 0.2;
  c.distance = 10;
  const Camera before = c.camera(200, 200);
  c.pan(50, 0);  // drag right: the scene follows the mouse, so the old target moves right on screen
  EXPECT_NEAR(std::sqrt(std::pow(c.target[0], 2) + std::pow(c.target[1], 2) + std::pow(c.target[2], 2)),
              10 * 0.002 * 50, 1e-9);
  const Camera after = c.camera(200, 200);
  const Vec3 old_target = after.project({0, 0, 0});
  EXPECT_GT(old_target[0], 100);
  EXPECT_NEAR(old_target[1], 100, 1e-6);
  EXPECT_NEAR(old_target[2], before.project({0, 0, 0})[2], 1e-9);  // depth unchanged
}

TEST(OrbitCamera, FramingCentresTheMedianAndFitsTheCloud) {
  std::vector<float> pts;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int i = 0; i < 5000; ++i) {
    pts.push_back(10 + u(rng));
    pts.push_back(-5 + u(rng));
    pts.push_back(7 + u(rng));
  }
  OrbitCamera c;
  frame_points(c, pts.data(), 5000);
  EXPECT_NEAR(c.target[0], 10, 0.1);
  EXPECT_NEAR(c.target[1], -5, 0.1);
  EXPECT_NEAR(c.target[2], 7, 0.1);
  // Every point of the central cube is inside the image.
  const Camera cam = c.camera(100, 100);
  for (int i = 0; i < 5000; ++i) {
    const Vec3 p = cam.project({pts[i * 3], pts[i * 3 + 1], pts[i * 3 + 2]});
    ASSERT_GT(p[2], 0);
    ASSERT_GE(p[0], 0);
    ASSERT_LE(p[0], 100);
    ASSERT_GE(p[1], 0);
    ASSERT_LE(p[1], 100);
  }
}

TEST(DepthSort, BackToFrontAndCullsBehindTheCamera) {
  // Positions with stride 4; camera z = −x + 1 (row (−1,0,0,1)).
  const std::vector<float> pos = {0, 0, 0, 0, -2, 0, 0, 0, 5, 0, 0, 0, 0.5f, 9, 9, 0, -1, 0, 0, 0};
  const std::vector<uint32_t> candidates = {0, 1, 2, 3, 4};
  const double row[4] = {-1, 0, 0, 1};
  std::vector<uint32_t> out;
  sort_back_to_front(pos.data(), 4, candidates, row, 0.1, out);
  // z: 1, 3, −4 (culled), 0.5, 2 → back to front: 1 (3), 4 (2), 0 (1), 3 (0.5)
  EXPECT_EQ(out, (std::vector<uint32_t>{1, 4, 0, 3}));
  // Only the candidates are considered.
  sort_back_to_front(pos.data(), 4, {3, 0}, row, 0.1, out);
  EXPECT_EQ(out, (std::vector<uint32_t>{0, 3}));
}

TEST(SplatData, PacksCovarianceColourAndOpacity) {
  Gaussians g;
  g.means = torch::tensor({{1.f, 2.f, 3.f}, {0.f, 0.f, 5.f}});
  const double h = std::sqrt(0.5);
  g.quats = torch::tensor({{1.0, 0.0, 0.0, 0.0}, {h, 0.0, 0.0, h}}, torch::kFloat32);  // 90° about z
  g.scales = torch::tensor({{0.1f, 0.2f, 0.3f}, {0.1f, 0.2f, 0.3f}});
  g.opacities = torch::tensor({0.25f, 0.75f});
  g.colors = torch::tensor({{0.1f, 0.2f, 0.3f}, {1.f, 0.5f, 0.f}});
  const SplatData d = pack_splats(g);
  ASSERT_EQ(d.count, 2);
  const std::vector<float>& t = *d.texels;
  ASSERT_EQ(t.size(), size_t(2 * kFloatsPerSplat));
  // Identity rotation: Σ = diag(s²).
  EXPECT_FLOAT_EQ(t[0], 1.f);
  EXPECT_FLOAT_EQ(t[2], 3.f);
  EXPECT_NEAR(t[4], 0.01, 1e-7);  // Σ00
  EXPECT_NEAR(t[5], 0.0, 1e-7);   // Σ01
  EXPECT_NEAR(t[7], 0.04, 1e-7);  // Σ11
  EXPECT_NEAR(t[9], 0.09, 1e-7);  // Σ22
  EXPECT_NEAR(t[12], 0.1, 1e-7);
  EXPECT_NEAR(t[15], 0.25, 1e-7);
  // 90° about z swaps the x and y variances.
  const float* s = t.data() + kFloatsPerSplat;
  EXPECT_NEAR(s[4], 0.04, 1e-6);
  EXPECT_NEAR(s[7], 0.01, 1e-6);
  EXPECT_NEAR(s[5], 0.0, 1e-6);
  EXPECT_NEAR(s[15], 0.75, 1e-7);
  EXPECT_EQ(d.means, (std::vector<float>{1, 2, 3, 0, 0, 5}));
}

TEST(SplatData, RejectsInvalidGaussians) {
  Gaussians g = make_test_cloud(10, 1.0);
  g.scales[3][1] = -1.0;
  EXPECT_THROW(pack_splats(g), fresnel::Error);
  Gaussians b = make_test_cloud(10, 1.0);
  b.means = b.means.unsqueeze(0);
  EXPECT_THROW(pack_splats(b), fresnel::Error);
}

TEST(Scene, MaxCountTakesADistinctSubset) {
  const Scene s = make_scene(make_test_cloud(1000, 3.0), "test", false, 0.8);
  EXPECT_EQ(draw_candidates(s, 0).size(), 1000u);
  EXPECT_EQ(draw_candidates(s, 5000).size(), 1000u);
  auto sub = draw_candidates(s, 100);
  ASSERT_EQ(sub.size(), 100u);
  std::sort(sub.begin(), sub.end());
  EXPECT_EQ(std::unique(sub.begin(), sub.end()), sub.end());
  EXPECT_LT(sub.back(), 1000u);
  EXPECT_GT(sub.back(), 500u);  // a random sample, not the first 100
}
