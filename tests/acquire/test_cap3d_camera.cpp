#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "acquire/cap3d_camera.hpp"
#include "acquire/cap3d_fixture.hpp"
#include "core/error.hpp"

using namespace fresnel;
using namespace fresnel::acquire;

static nlohmann::json camera_json(double az, double el) {
  Vec3 o, x, y, z;
  test::cap3d_axes(az, el, 2.0, o, x, y, z);
  return {{"origin", o}, {"x", x}, {"y", y}, {"z", z}, {"x_fov", test::kCap3dFov}, {"y_fov", test::kCap3dFov}};
}

TEST(Cap3dCamera, KnownValues) {
  // Camera on −Y looking at the origin (Blender's default front view): x = +X, y = −Z (down), z = +Y.
  const nlohmann::json j = camera_json(-90, 0);
  const Camera c = cap3d_camera_from_json(j, 512, 512, "00000.json");
  EXPECT_NEAR(c.fx, 711.11, 0.01);  // 256 / tan(19.8°)
  EXPECT_NEAR(c.fy, c.fx, 1e-9);
  EXPECT_DOUBLE_EQ(c.cx, 256);
  // The origin projects to the image centre at depth 2.
  const Vec3 p = c.project({0, 0, 0});
  EXPECT_NEAR(p[0], 256, 1e-9);
  EXPECT_NEAR(p[1], 256, 1e-9);
  EXPECT_NEAR(p[2], 2.0, 1e-12);
  // Blender +Z (up) is above the centre (smaller v); Blender +X is to the right. In our world they are −y and +x.
  const Vec3 up = c.project(cap3d_world_to_ours({0, 0, 0.5}));
  EXPECT_LT(up[1], 256 - 100);
  EXPECT_NEAR(up[0], 256, 1e-9);
  const Vec3 right = c.project(cap3d_world_to_ours({0.5, 0, 0}));
  EXPECT_GT(right[0], 256 + 100);
  EXPECT_EQ(cap3d_world_to_ours({0, 0, 1}), (Vec3{0, -1, 0}));  // up = −y, as in `fresnel synth`
  const Vec3 centre = c.position();
  EXPECT_NEAR(centre[2], -2.0, 1e-12);  // Blender (0,−2,0) → ours (0,0,−2)
  EXPECT_NEAR(cap3d_max_depth(j, "x"), 5.0, 0);
  EXPECT_NEAR(cap3d_max_depth({{"max_depth", 7.5}}, "x"), 7.5, 0);
}

TEST(Cap3dCamera, BadFieldsNameTheFileAndField) {
  const auto expect_error = [](nlohmann::json j, const std::string& needle) {
    try {
      cap3d_camera_from_json(j, 64, 64, "obj.zip: 00003.json");
      ADD_FAILURE() << "accepted: " << j.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("00003.json"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto j = camera_json(30, 20);
  j.erase("origin");
  expect_error(j, "origin");
  j = camera_json(30, 20);
  j["x"] = {1.0, 0.5, 0.0};
  expect_error(j, "unit");
  j = camera_json(30, 20);
  j["y"] = {-j["y"][0].get<double>(), -j["y"][1].get<double>(), -j["y"][2].get<double>()};  // left-handed
  expect_error(j, "right-handed");
  j = camera_json(30, 20);
  j["x_fov"] = 4.0;
  expect_error(j, "x_fov");
  j = camera_json(30, 20);
  j["z"][1] = std::nan("");
  expect_error(j, "z");
  expect_error(nlohmann::json::array(), "object");
}
