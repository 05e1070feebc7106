#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "data/multiview_dataset.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;

namespace {

// Writes a one-object dataset by hand, independent of the generator.
std::vector<Camera> write_tiny_dataset(const std::string& root, int views) {
  nlohmann::json meta = {
      {"format", "fresnel-multiview"}, {"version", 1}, {"image_size", 8}, {"views_per_object", views}};
  write_text_file(root + "/dataset.json", meta.dump());
  const std::string dir = root + "/test/" + object_id_for_index(3);
  std::vector<Camera> cams;
  for (int v = 0; v < views; ++v) {
    cams.push_back(spherical_camera(0.3 * v, 0.1 * v, 2.5, {0.1, -0.2, 0.3}, 9.5, 9.0, 8, 8));
    auto rgb = torch::full({8, 8, 3}, (v + 1) / 10.0);
    save_image(dir + "/" + view_rgb_name(v), rgb);
    save_depth_npy(dir + "/" + view_depth_name(v), torch::full({8, 8}, 2.0f + v));
    save_image(dir + "/" + view_mask_name(v), torch::ones({8, 8, 1}));
  }
  save_cameras_json(dir + "/cameras.json", cams);
  write_text_file(dir + "/object.json", R"({"input_view": 0})");
  return cams;
}

}  // namespace

TEST(MultiViewDataset, CameraJsonRoundTripThroughReader) {
  test::TempDir tmp;
  const auto cams = write_tiny_dataset(tmp.path(), 3);
  MultiViewDataset ds(tmp.path());
  ASSERT_EQ(ds.object_ids("test"), std::vector<std::string>{"obj_00003"});
  EXPECT_TRUE(ds.object_ids("train").empty());
  const auto obj = ds.load_object("test", "obj_00003");
  ASSERT_EQ(obj.views.size(), 3u);
  for (int v = 0; v < 3; ++v) {
    const auto& c = obj.views[v].camera;
    for (int k = 0; k < 16; ++k) EXPECT_NEAR(c.world_to_camera[k], cams[v].world_to_camera[k], 1e-12);
    EXPECT_DOUBLE_EQ(c.fx, 9.5);
    EXPECT_DOUBLE_EQ(c.fy, 9.0);
    EXPECT_EQ(obj.views[v].rgb.sizes(), (std::vector<int64_t>{8, 8, 3}));
    EXPECT_NEAR(obj.views[v].rgb[0][0][0].item<float>(), (v + 1) / 10.0, 0.5 / 255 + 1e-6);
    EXPECT_FLOAT_EQ(obj.views[v].depth[4][4].item<float>(), 2.0f + v);
    EXPECT_FLOAT_EQ(obj.views[v].mask[1][1].item<float>(), 1.0f);
  }
  EXPECT_EQ(obj.input().index, 0);
}

TEST(MultiViewDataset, SubsetAlwaysIncludesInputView) {
  test::TempDir tmp;
  write_tiny_dataset(tmp.path(), 4);
  MultiViewDataset ds(tmp.path());
  const auto obj = ds.load_object("test", "obj_00003", {2});
  ASSERT_EQ(obj.views.size(), 2u);
  EXPECT_EQ(obj.input().index, 0);
  EXPECT_EQ(obj.views[1].index, 2);
}

TEST(MultiViewDataset, RelativeCamerasPutInputAtIdentityAndKeepRelativePoses) {
  test::TempDir tmp;
  const auto cams = write_tiny_dataset(tmp.path(), 3);
  MultiViewDataset ds(tmp.path());
  const auto rel = ds.load_object("test", "obj_00003").relative_cameras();
  const Mat4 id = mat4_identity();
  for (int k = 0; k < 16; ++k) EXPECT_NEAR(rel[0].world_to_camera[k], id[k], 1e-12);
  // A world point seen by view 2 must land at the same pixel after mapping it into the input frame first.
  const Vec3 world{0.2, 0.1, -0.1};
  const Vec3 in_input = cams[0].to_camera(world);
  const Vec3 a = cams[2].project(world), b = rel[2].project(in_input);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(a[i], b[i], 1e-9);
}

TEST(MultiViewDataset, DepthNpyRoundTripAndErrors) {
  test::TempDir tmp;
  auto d = torch::rand({5, 7});
  save_depth_npy(tmp.file("d.npy"), d);
  EXPECT_EQ(test::max_abs_diff(load_depth_npy(tmp.file("d.npy")), d), 0.0);
  // The header is padded so that data starts on a 64-byte boundary (numpy's rule).
  EXPECT_EQ(test::read_bytes(tmp.file("d.npy")).size(), 128u + 5 * 7 * 4);
  auto bytes = test::read_bytes(tmp.file("d.npy"));
  test::write_bytes(tmp.file("t.npy"), bytes.substr(0, bytes.size() - 4));
  EXPECT_THROW(load_depth_npy(tmp.file("t.npy")), Error);
  test::write_bytes(tmp.file("bad.npy"), "hello world, not numpy");
  EXPECT_THROW(load_depth_npy(tmp.file("bad.npy")), Error);
  EXPECT_THROW(load_depth_npy(tmp.file("missing.npy")), Error);
}

TEST(MultiViewDataset, MissingViewFileNamesTheFile) {
  test::TempDir tmp;
  write_tiny_dataset(tmp.path(), 2);
  std::filesystem::remove(tmp.path() + "/test/obj_00003/view_001_depth.npy");
  MultiViewDataset ds(tmp.path());
  try {
    ds.load_object("test", "obj_00003");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("view_001_depth.npy"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ds.object_ids("training"), UsageError);
}

TEST(MultiViewDataset, NotADatasetIsAClearError) {
  test::TempDir tmp;
  EXPECT_FALSE(MultiViewDataset::looks_like_dataset(tmp.path()));
  EXPECT_THROW(MultiViewDataset ds(tmp.path()), Error);
  write_text_file(tmp.file("dataset.json"), "{\"format\": \"other\"}");
  EXPECT_THROW(MultiViewDataset ds(tmp.path()), Error);
}
