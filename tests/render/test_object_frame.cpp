// The object frame (infer --frame object): the converted Gaussians seen from the converted camera give the same
// image as the originals from the original camera (depth scales with the frame), the frame is centred and
// unit-sized with the camera's axes, and the frame recorded beside a file converts it back.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.hpp"
#include "core/object_frame.hpp"
#include "render/render.hpp"
#include "scenes.hpp"
#include "testutil/testutil.hpp"

namespace fresnel {
namespace {

using test::front_camera;
using test::oblique_camera;
using test::random_scene;

double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(ObjectFrame, ObjectFrameAndBackGiveTheSameRendersFromTheSavedCamera) {
  const Gaussians g = random_scene(80, 5, 2);  // SH degree 2: view-dependent colour must follow the rotation
  const ObjectFrame frame = fit_object_frame(g);
  const Gaussians obj = to_object_frame(g, frame);
  for (const Camera& cam : {front_camera(48), oblique_camera(48)}) {
    const RenderOutput a = render(g, {cam});
    const RenderOutput b = render(obj, {camera_in_object_frame(cam, frame)});
    EXPECT_LE(max_diff(a.rgb, b.rgb), 2e-5);
    EXPECT_LE(max_diff(a.alpha, b.alpha), 2e-5);
    EXPECT_LE(max_diff(a.depth * frame.scale, b.depth), 2e-5);
    EXPECT_GT(a.alpha.max().item<double>(), 0.5) << "the scene is in view";
  }
  const Gaussians back = from_object_frame(obj, frame);
  EXPECT_LE(max_diff(back.means, g.means), 1e-6);
  EXPECT_LE(max_diff(back.scales, g.scales), 1e-7);
  EXPECT_TRUE(torch::equal(back.quats, g.quats));
  EXPECT_TRUE(torch::equal(back.colors, g.colors));
}

TEST(ObjectFrame, IsCentredAndUnitSizedWithTheCameraAxes) {
  Gaussians g = random_scene(400, 9);
  g.means = g.means * torch::tensor({0.5, 2.0, 0.25}, g.means.options());  // tall along camera y (down)
  const ObjectFrame frame = fit_object_frame(g);
  const Gaussians obj = to_object_frame(g, frame);
  const auto lo = std::get<0>(obj.means.min(0)), hi = std::get<0>(obj.means.max(0));
  // Sized and centred by the 1st-99th percentiles, so the extremes lie a little outside the unit box.
  EXPECT_GE(((hi - lo).max()).item<double>(), 1.0);
  EXPECT_LE(((hi - lo).max()).item<double>(), 1.2);
  EXPECT_LT(((hi + lo) * 0.5).abs().max().item<double>(), 0.1);
  // The 3DGS PLY axes that viewers show upright: y down (the point lowest in the image keeps the largest y) and z
  // away from the camera (the nearest Gaussian keeps the smallest z).
  EXPECT_EQ(obj.means.select(1, 1).argmax().item<int64_t>(), g.means.select(1, 1).argmax().item<int64_t>());
  EXPECT_EQ(obj.means.select(1, 2).argmin().item<int64_t>(), g.means.select(1, 2).argmin().item<int64_t>());
  EXPECT_TRUE(torch::equal(obj.quats, g.quats));
}

TEST(ObjectFrame, CamerasJsonRecordsTheFrameAndBadFilesAreErrors) {
  test::TempDir dir;
  ObjectFrame f;
  f.center = {0.1, -0.2, 3.0};
  f.scale = 0.4;
  const Camera cam = front_camera(32);
  EXPECT_EQ(cameras_json_path_for(dir.file("obj.ply")), dir.file("obj.cameras.json"));
  save_frame_cameras(dir.file("o.cameras.json"), cam, &f);
  ObjectFrame r;
  ASSERT_TRUE(load_object_frame(dir.file("o.cameras.json"), r));
  EXPECT_DOUBLE_EQ(r.scale, 0.4);
  EXPECT_DOUBLE_EQ(r.center[2], 3.0);
  const auto cams = load_cameras_json(dir.file("o.cameras.json"));
  ASSERT_EQ(cams.size(), 1u);
  EXPECT_DOUBLE_EQ(cams[0].world_to_camera[11], 0.4 * 3.0);  // t_z = s·c_z: the camera sits at the old origin
  save_frame_cameras(dir.file("c.cameras.json"), cam, nullptr);
  EXPECT_FALSE(load_object_frame(dir.file("c.cameras.json"), r));
  test::write_bytes(dir.file("bad.cameras.json"), R"({"frame":"object","object_frame":{"center":[0,0],"scale":1}})");
  try {
    load_object_frame(dir.file("bad.cameras.json"), r);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.cameras.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fresnel
