#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "core/camera.hpp"
#include "core/error.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;

TEST(Camera, LookAtProjectsTargetToPrincipalPoint) {
  auto cam = Camera::look_at({0, 0, -3}, {0, 0, 0}, {0, -1, 0}, 100, 100, 64, 48);
  auto p = cam.project({0, 0, 0});
  EXPECT_NEAR(p[0], 32, 1e-9);
  EXPECT_NEAR(p[1], 24, 1e-9);
  EXPECT_NEAR(p[2], 3, 1e-9);
  // World −y is up: a point above the target lands above the centre (smaller v); +x lands right.
  EXPECT_LT(cam.project({0, -1, 0})[1], 24);
  EXPECT_GT(cam.project({1, 0, 0})[0], 32);
  auto pos = cam.position();
  EXPECT_NEAR(pos[2], -3, 1e-9);
}

TEST(Camera, LegacyMinusZMatchesOriginalProjection) {
  // The original: u = fx·x/(−z)+cx, v = fy·(−y)/(−z)+cy (spec §3, invariant 5). Its points enter our world
  // converted as (x, −y, −z), like legacy .bin files; the converted camera must give the same pixels.
  const int r = 100;
  // Its frontal training camera: identity view, fx = fy = 0.8·R, centre R/2.
  auto cam = Camera::from_legacy_minus_z(mat4_identity(), 0.8 * r, 0.8 * r, r / 2.0, r / 2.0, r, r);
  const double x = 0.3, y = -0.4, z = -2.0;
  auto p = cam.project({x, -y, -z});
  EXPECT_NEAR(p[0], 0.4 * r * x + r / 2.0, 1e-9);
  EXPECT_NEAR(p[1], -0.4 * r * y + r / 2.0, 1e-9);
  EXPECT_NEAR(p[2], 2.0, 1e-9);
  auto id = mat4_identity();
  for (int i = 0; i < 16; ++i) EXPECT_DOUBLE_EQ(cam.world_to_camera[i], id[i]);
  // A moved legacy camera: camera at z = +2 (view translation −2 in the original), looking down −z.
  Mat4 v = mat4_identity();
  v[11] = -2.0;
  auto moved = Camera::from_legacy_minus_z(v, 50, 50, 32, 32, 64, 64);
  const double px = 0.2, py = 0.1, pz = -1.0;  // legacy point; legacy camera-space z = pz − 2
  auto q = moved.project({px, -py, -pz});
  EXPECT_NEAR(q[0], 50 * px / (-(pz - 2.0)) + 32, 1e-9);
  EXPECT_NEAR(q[1], 50 * (-py) / (-(pz - 2.0)) + 32, 1e-9);
}

TEST(Camera, JsonRoundTrip) {
  auto cam = spherical_camera(0.7, 0.3, 2.5, {0.1, 0.2, 0.3}, 120, 110, 64, 32);
  cam.near_plane = 0.05;
  auto back = Camera::from_json(cam.to_json());
  for (int i = 0; i < 16; ++i) EXPECT_DOUBLE_EQ(back.world_to_camera[i], cam.world_to_camera[i]);
  EXPECT_EQ(back.width, 64);
  EXPECT_DOUBLE_EQ(back.fy, 110);
  EXPECT_DOUBLE_EQ(back.near_plane, 0.05);

  test::TempDir dir;
  save_cameras_json(dir.file("c.json"), {cam, cam.resized(32, 16)});
  auto cams = load_cameras_json(dir.file("c.json"));
  ASSERT_EQ(cams.size(), 2u);
  EXPECT_DOUBLE_EQ(cams[1].fx, 60);
}

TEST(Camera, JsonErrorsNameTheField) {
  auto j = spherical_camera(0.0, 0.0, 2.0, {0, 0, 0}, 10, 10, 10, 10).to_json();
  j.erase("fx");
  try {
    Camera::from_json(j, "cams.json: cameras[3]");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cameras[3]"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("fx"), std::string::npos);
  }
}

TEST(Camera, OrbitLooksAtTarget) {
  for (const auto& c : orbit_cameras(8, 2.0, 0.2, {0, 0, 1}, 50, 50, 32, 32)) {
    auto p = c.project({0, 0, 1});
    EXPECT_NEAR(p[0], 16, 1e-9);
    EXPECT_NEAR(p[1], 16, 1e-9);
    EXPECT_NEAR(p[2], 2.0, 1e-9);
  }
}

TEST(Camera, RigidInverse) {
  auto cam = spherical_camera(1.1, -0.4, 3.0, {0.5, 0, 0}, 1, 1, 1, 1);
  auto prod = mat4_mul(cam.world_to_camera, mat4_rigid_inverse(cam.world_to_camera));
  auto id = mat4_identity();
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(prod[i], id[i], 1e-12);
}
