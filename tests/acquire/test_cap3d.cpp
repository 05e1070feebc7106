// Cap3D objects, `sample-cap3d` and `cap3d-dataset` on zips built by cap3d_fixture.hpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

#include "acquire/cap3d_dataset.hpp"
#include "acquire/cap3d_fixture.hpp"
#include "acquire/cap3d_object.hpp"
#include "acquire/cap3d_sample.hpp"
#include "acquire/cap3d_source.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "data/multiview_dataset.hpp"

using namespace fresnel;
using namespace fresnel::acquire;
namespace fs = std::filesystem;

namespace {

constexpr int kViews = 12;  // 30° apart in azimuth: the nearest views share most of the surface

// An outer zip as Cap3D ships it: `Cap3D_ABO_renderimgs/{uid}.zip` entries (stored), plus a blank object, a
// corrupt inner zip and an entry whose name tries to leave the output folder.
struct OuterZip {
  std::string path;
  std::vector<std::string> good_uids;
  std::vector<test::Cap3dFixtureObject> objects;
};

OuterZip make_outer(const test::TempDir& tmp, int good, int size) {
  OuterZip o;
  std::vector<std::pair<std::string, std::string>> entries;
  for (int i = 0; i < good; ++i) {
    const std::string uid = "obj" + std::to_string(i) + "_abc";
    o.objects.push_back(test::make_cap3d_object(7, i, kViews, size, tmp.file("scratch.zip")));
    entries.push_back({"Cap3D_ABO_renderimgs/" + uid + ".zip", o.objects.back().zip_bytes});
    o.good_uids.push_back(uid);
  }
  entries.push_back({"Cap3D_ABO_renderimgs/blank.zip",
                     test::make_cap3d_object(7, 99, kViews, size, tmp.file("scratch.zip"), true).zip_bytes});
  entries.push_back({"Cap3D_ABO_renderimgs/corrupt.zip", std::string("PK\x03\x04 this is not a zip", 24)});
  entries.push_back({"../escape.zip", o.objects.front().zip_bytes});
  o.path = tmp.file("compressed_imgs_perobj_00.zip");
  test::make_zip(entries, o.path, /*store=*/true);
  return o;
}

// Depth of view a reprojected into view b. Each full-coverage pixel of a is lifted to 3-D with its depth and
// projected into b; it is co-visible when b sees a surface there at the same camera depth (z-buffer test with
// `tolerance`, b's depth sampled bilinearly between full-coverage pixels). For co-visible points the error is
// the distance in pixels between the projection of b's surface point back into a and the pixel we started from.
// `radial` reads the stored depths as distances along the ray instead of camera z.
struct Reprojection {
  std::vector<double> errors;  // pixels, co-visible points only
  int candidates = 0;          // full-coverage pixels of a
  double covisible_fraction() const { return candidates ? double(errors.size()) / candidates : 0; }
};

Reprojection reproject(const ViewData& a, const ViewData& b, bool radial, double tolerance = 0.02) {
  const auto to_camera_z = [radial](const Camera& c, double u, double v, double d) {
    const double x = (u - c.cx) / c.fx, y = (v - c.cy) / c.fy;
    return radial ? d / std::sqrt(1 + x * x + y * y) : d;
  };
  const auto unproject = [&](const Camera& c, double u, double v, double d) {
    const double z = to_camera_z(c, u, v, d);
    const Vec3 pc{(u - c.cx) / c.fx * z, (v - c.cy) / c.fy * z, z};
    const Mat4 w = mat4_rigid_inverse(c.world_to_camera);
    return Vec3{w[0] * pc[0] + w[1] * pc[1] + w[2] * pc[2] + w[3], w[4] * pc[0] + w[5] * pc[1] + w[6] * pc[2] + w[7],
                w[8] * pc[0] + w[9] * pc[1] + w[10] * pc[2] + w[11]};
  };
  const auto da = a.depth.accessor<float, 2>(), db = b.depth.accessor<float, 2>();
  const auto ma = a.mask.accessor<float, 2>(), mb = b.mask.accessor<float, 2>();
  const int h = int(a.depth.size(0)), w = int(a.depth.size(1));
  Reprojection r;
  for (int v = 0; v < h; ++v)
    for (int u = 0; u < w; ++u) {
      if (ma[v][u] < 0.999f) continue;
      ++r.candidates;
      const Vec3 p = b.camera.project(unproject(a.camera, u + 0.5, v + 0.5, da[v][u]));
      const double fx = p[0] - 0.5, fy = p[1] - 0.5;
      const int x0 = int(std::floor(fx)), y0 = int(std::floor(fy));
      if (x0 < 0 || y0 < 0 || x0 + 1 >= w || y0 + 1 >= h ||
          std::min({mb[y0][x0], mb[y0][x0 + 1], mb[y0 + 1][x0], mb[y0 + 1][x0 + 1]}) < 0.999f)
        continue;
      const double tx = fx - x0, ty = fy - y0;
      const double d = (1 - ty) * ((1 - tx) * db[y0][x0] + tx * db[y0][x0 + 1]) +
                       ty * ((1 - tx) * db[y0 + 1][x0] + tx * db[y0 + 1][x0 + 1]);
      if (std::abs(to_camera_z(b.camera, p[0], p[1], d) - p[2]) > tolerance) continue;  // occluded in b
      const Vec3 back = a.camera.project(unproject(b.camera, p[0], p[1], d));
      r.errors.push_back(std::hypot(back[0] - (u + 0.5), back[1] - (v + 0.5)));
    }
  return r;
}

double quantile(const std::vector<double>& all, double q) {
  std::vector<double> v;
  for (double e : all)
    if (std::isfinite(e)) v.push_back(e);
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  return v[size_t(q * double(v.size() - 1))];
}

}  // namespace

TEST(Cap3dObject, DecodesViewsCamerasDepthAndComposite) {
  test::TempDir tmp;
  const auto fx = test::make_cap3d_object(3, 1, 4, 48, tmp.file("o.zip"), false, "nested_folder");
  const Cap3dObject obj(ZipArchive::open_file(tmp.file("o.zip")), "o");
  EXPECT_EQ(obj.views(), (std::vector<int>{0, 1, 2, 3}));
  for (int v : obj.views()) {
    const Cap3dView view = obj.load(v);
    EXPECT_FALSE(obj.info(v).blank);
    const auto& r = fx.renders[v];
    // Coverage is the ray caster's hit mask; depth within the 16-bit quantum of 5/65535; colours within 8 bits.
    const auto cov = torch::from_blob(view.coverage.data, {48, 48}, torch::kFloat32);
    const auto depth = torch::from_blob(view.depth.data, {48, 48}, torch::kFloat32);
    const auto rgb = torch::from_blob(view.rgb.data, {48, 48, 3}, torch::kFloat32);
    EXPECT_EQ(test::max_abs_diff(cov, (r.mask > 0.5f).to(torch::kFloat32)), 0.0);
    EXPECT_LT(test::max_abs_diff(depth, r.depth * (r.mask > 0.5f)), 5.0 / 65535);
    EXPECT_LT(test::max_abs_diff(rgb, r.rgb * (r.mask > 0.5f).unsqueeze(-1)), 0.6 / 255);
    // Same camera up to the world rotation: relative pose and intrinsics agree with the ray caster's cameras.
    EXPECT_NEAR(view.camera.fx, fx.cameras[v].fx, 1e-9);
    const Mat4 rel = mat4_mul(view.camera.world_to_camera, mat4_rigid_inverse(obj.load(0).camera.world_to_camera));
    const Mat4 ref = mat4_mul(fx.cameras[v].world_to_camera, mat4_rigid_inverse(fx.cameras[0].world_to_camera));
    for (int i = 0; i < 16; ++i) EXPECT_NEAR(rel[i], ref[i], 1e-9);
  }
  EXPECT_THROW(obj.load(7), Error);
}

TEST(Cap3dObject, BlankAndMalformedObjects) {
  test::TempDir tmp;
  test::make_cap3d_object(3, 1, 2, 16, tmp.file("b.zip"), /*blank=*/true);
  const Cap3dObject blank(ZipArchive::open_file(tmp.file("b.zip")), "b");
  EXPECT_TRUE(blank.info(0).blank);
  test::make_zip({{"readme.txt", "no views"}}, tmp.file("none.zip"));
  try {
    Cap3dObject(ZipArchive::open_file(tmp.file("none.zip")), "none");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("none.zip"), std::string::npos) << e.what();
  }
  // An 8-bit depth map is not Cap3D's format: named error.
  const std::string png8 = test::encode_png(cv::Mat(4, 4, CV_8U, cv::Scalar(3)));
  test::make_zip({{"00000.png", png8}, {"00000_depth.png", png8}, {"00000.json", "{}"}}, tmp.file("d8.zip"));
  const Cap3dObject d8(ZipArchive::open_file(tmp.file("d8.zip")), "d8");
  try {
    d8.load(0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("00000_depth.png"), std::string::npos) << e.what();
  }
}

TEST(Cap3dSource, SeededPermutationIsAPermutationAndDeterministic) {
  const auto a = seeded_permutation(50, 42), b = seeded_permutation(50, 42), c = seeded_permutation(50, 43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  auto s = a;
  std::sort(s.begin(), s.end());
  for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s[i], i);
}

TEST(SampleCap3d, OuterZipInPlaceSkipsBlankCorruptUnsafeAndResumes) {
  test::TempDir tmp;
  const OuterZip outer = make_outer(tmp, 3, 32);
  SampleCap3dOptions o;
  o.input_dir = tmp.path();  // the folder: finds the outer zip (scratch.zip is an object zip too: 4 objects)
  fs::remove(tmp.file("scratch.zip"));
  o.output_dir = tmp.file("out/images");
  o.num_samples = 10;
  o.prefix = "abo";
  const SampleCap3dSummary s = sample_cap3d(o);
  EXPECT_EQ(s.written, 3);
  EXPECT_EQ(s.blank, 1);
  EXPECT_EQ(s.corrupt, 1);
  EXPECT_EQ(s.unsafe, 1);
  EXPECT_EQ(s.available, 5);
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(tmp.path())) files.push_back(e.path().filename().string());
  for (const auto& uid : outer.good_uids) EXPECT_TRUE(fs::exists(o.output_dir + "/abo_" + uid + ".png")) << uid;
  for (const auto& f : files) EXPECT_EQ(f.find("escape"), std::string::npos) << f;  // nowhere, inside or out
  // Each image is one of the object's renders composited on black.
  const torch::Tensor img = load_image(o.output_dir + "/abo_" + outer.good_uids[0] + ".png");
  double best = 1e9;
  for (const auto& r : outer.objects[0].renders) best = std::min(best, test::max_abs_diff(img, r.rgb));
  EXPECT_LT(best, 1.5 / 255);
  // A re-run keeps what is there.
  const SampleCap3dSummary again = sample_cap3d(o);
  EXPECT_EQ(again.written, 0);
  EXPECT_EQ(again.existing, 3);
}

TEST(SampleCap3d, ChoiceIsDeterministicFromTheSeed) {
  test::TempDir tmp;
  std::vector<std::string> zips;
  for (int i = 0; i < 8; ++i) test::make_cap3d_object(5, i, 3, 16, tmp.file("uid" + std::to_string(i) + ".zip"));
  const auto run = [&](uint64_t seed, const std::string& out) {
    SampleCap3dOptions o;
    o.input_dir = tmp.path();
    o.output_dir = tmp.file(out);
    o.num_samples = 3;
    o.seed = seed;
    EXPECT_EQ(sample_cap3d(o).written, 3);
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(o.output_dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  };
  const auto a = run(42, "a"), b = run(42, "b");
  EXPECT_EQ(a, b);
  bool differs = false;
  for (uint64_t seed = 1; seed < 6 && !differs; ++seed) differs = run(seed, "c" + std::to_string(seed)) != a;
  EXPECT_TRUE(differs) << "the seed does not change the choice";
  for (const auto& n : a) {
    ASSERT_EQ(n.rfind("cap3d_uid", 0), 0u) << n;
    EXPECT_EQ(test::read_bytes(tmp.file("a/" + n)), test::read_bytes(tmp.file("b/" + n)));
  }
}

TEST(Cap3dDataset, ConvertedCamerasReprojectDepthWithinAPixel) {
  test::TempDir tmp;
  const OuterZip outer = make_outer(tmp, 3, 128);
  fs::remove(tmp.file("scratch.zip"));
  Cap3dDatasetOptions o;
  o.input_dir = outer.path;
  o.out_dir = tmp.file("ds");
  o.objects = 10;  // more than there are: every object is tried, the bad ones counted
  o.views = 3;
  o.image_size = 96;  // resized by 3/4: intrinsics must follow
  o.split = {1, 0, 1};
  const Cap3dDatasetSummary s = convert_cap3d_dataset(o);
  EXPECT_EQ(s.written, 3);
  EXPECT_EQ(s.blank, 1);
  EXPECT_EQ(s.corrupt, 1);
  EXPECT_EQ(s.unsafe, 1);
  EXPECT_EQ(s.split_counts[0] + s.split_counts[2], 3);

  const MultiViewDataset ds(o.out_dir);
  EXPECT_EQ(ds.image_size(), 96);
  EXPECT_EQ(ds.views_per_object(), 4);
  int pairs = 0;
  for (const char* split : {"train", "test"})
    for (const auto& id : ds.object_ids(split)) {
      const ObjectViews obj = ds.load_object(split, id);
      ASSERT_EQ(obj.views.size(), 4u);
      EXPECT_NEAR(obj.input().camera.fx, 48 / std::tan(0.5 * test::kCap3dFov), 1e-6);
      EXPECT_TRUE(fs::exists(split_images_dir(o.out_dir, split) + "/" + id + ".png"));
      for (int b = 1; b < 4; ++b) {
        const Reprojection planar = reproject(obj.views[0], obj.views[b], false);
        const Reprojection radial = reproject(obj.views[0], obj.views[b], true);
        std::cerr << id << " view " << b << ": co-visible " << planar.covisible_fraction() << " (radial "
                  << radial.covisible_fraction() << "), error median " << quantile(planar.errors, 0.5) << " px, 95% "
                  << quantile(planar.errors, 0.95) << " px\n";
        ASSERT_GT(planar.candidates, 500) << id << " view " << b;
        // Neighbouring views share much of the surface, and every shared point comes back within a pixel.
        EXPECT_GT(planar.covisible_fraction(), 0.3) << id << " view " << b;
        EXPECT_LT(quantile(planar.errors, 0.95), 1.0) << id << " view " << b;
        EXPECT_LT(quantile(planar.errors, 0.5), 0.25) << id << " view " << b;
        // Reading the same depth maps as radial distances makes the views disagree: the check can fail.
        EXPECT_LT(radial.covisible_fraction(), 0.8 * planar.covisible_fraction()) << id << " view " << b;
        ++pairs;
      }
    }
  EXPECT_EQ(pairs, 9);
  // Re-running finds every object done.
  const Cap3dDatasetSummary again = convert_cap3d_dataset(o);
  EXPECT_EQ(again.written, 0);
  EXPECT_EQ(again.existing, 3);
}

TEST(Cap3dDataset, BadOptionsAndTooFewViews) {
  test::TempDir tmp;
  test::make_cap3d_object(1, 0, 2, 16, tmp.file("two_views.zip"));
  Cap3dDatasetOptions o;
  o.input_dir = tmp.path();
  o.out_dir = tmp.file("ds");
  o.views = 0;
  EXPECT_THROW(convert_cap3d_dataset(o), UsageError);
  o.views = 4;
  try {
    convert_cap3d_dataset(o);
    FAIL() << "converted an object with 2 views into 5";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no usable"), std::string::npos) << e.what();
  }
  o.input_dir = tmp.file("nope");
  EXPECT_THROW(convert_cap3d_dataset(o), Error);
}
