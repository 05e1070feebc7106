#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/Parallel.h>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "data/multiview_dataset.hpp"
#include "data/synth_dataset.hpp"
#include "data/synth_scene.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;
using namespace fresnel::synth;
namespace fs = std::filesystem;

namespace {

Scene one_primitive(const Primitive& p, const Vec3& light) {
  Scene s;
  s.primitives.push_back(p);
  s.light = light;
  s.ambient = 0.25;
  return s;
}

}  // namespace

TEST(RayCaster, SphereSilhouetteRadiusAndCentreDepthAreAnalytic) {
  Primitive p;
  p.type = PrimitiveType::Sphere;
  p.size = {0.7, 0, 0};
  const Scene scene = one_primitive(p, {0, 0, -1});
  const double D = 3.0, f = 60.0;
  const int W = 61;  // odd: the centre of pixel 30 is the principal point
  const Camera cam = Camera::look_at({0, 0, -D}, {0, 0, 0}, {0, -1, 0}, f, f, W, W);
  const auto view = raycast(scene, cam, 4);
  // Tangent cone: the silhouette's angular radius is asin(r/D), i.e. f·r/√(D²−r²) pixels.
  const double expected_radius = f * 0.7 / std::sqrt(D * D - 0.7 * 0.7);
  const double measured_radius = std::sqrt(view.mask.sum().item<double>() / M_PI);
  EXPECT_NEAR(measured_radius, expected_radius, 0.05);
  // Centre pixel: depth D − r (4×4 samples at ±1/8, ±3/8 px move it by under 1e-4).
  EXPECT_NEAR(view.depth[30][30].item<double>(), D - 0.7, 2e-4);
  EXPECT_FLOAT_EQ(view.mask[30][30].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(view.mask[0][0].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(view.depth[0][0].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(view.rgb[0][0].sum().item<float>(), 0.0f);  // black background
  // A pixel half-way to the rim: depth of the first hit along its ray, computed from the ray–sphere quadratic.
  const double px = 30.5 + 10.0, dx = (px - W / 2.0) / f;  // ray direction (dx, 0, 1), camera at z = −D
  const double a = dx * dx + 1, b = -2 * D, c = D * D - 0.49;
  const double t = (-b - std::sqrt(b * b - 4 * a * c)) / (2 * a);
  auto single = raycast(scene, cam, 1);
  EXPECT_NEAR(single.depth[30][40].item<double>(), t, 1e-5);
}

TEST(RayCaster, BoxFacesShadeAsTheLightPredicts) {
  Primitive p;
  p.type = PrimitiveType::Box;
  p.size = {0.5, 0.4, 0.3};
  p.color_a = {0.9, 0.6, 0.3};
  const Vec3 l = {0.48, -0.6, -0.64};  // unit
  const Scene scene = one_primitive(p, l);
  // Camera up-left-front: sees the −z face, the −x face and the top (−y) face.
  const Camera cam = Camera::look_at({-2.0, -1.6, -2.4}, {0, 0, 0}, {0, -1, 0}, 80, 80, 96, 96);
  const auto view = raycast(scene, cam, 1);
  struct Face {
    Vec3 centre, normal;
  };
  const Face faces[] = {{{0, 0, -0.3}, {0, 0, -1}}, {{-0.5, 0, 0}, {-1, 0, 0}}, {{0, -0.4, 0}, {0, -1, 0}}};
  for (const auto& face : faces) {
    const Vec3 uvz = cam.project(face.centre);
    const int u = int(std::floor(uvz[0])), v = int(std::floor(uvz[1]));
    const double lambert = std::max(0.0, face.normal[0] * l[0] + face.normal[1] * l[1] + face.normal[2] * l[2]);
    const double k = 0.25 + 0.75 * lambert;
    for (int ch = 0; ch < 3; ++ch)
      EXPECT_NEAR(view.rgb[v][u][ch].item<double>(), p.color_a[ch] * k, 1e-5)
          << "face normal " << face.normal[0] << "," << face.normal[1] << "," << face.normal[2];
  }
}

TEST(RayCaster, EveryPrimitiveIsHitAndNormalsAreUnitAndOutward) {
  for (int type = 0; type < 5; ++type) {
    Primitive p;
    p.type = static_cast<PrimitiveType>(type);
    p.size = type == 4 ? Vec3{0.5, 0.2, 0} : Vec3{0.4, 0.4, 0.4};
    p.rotation = {0.36, 0.48, -0.8, -0.8, 0.6, 0, 0.48, 0.64, 0.6};  // a proper rotation
    p.center = {0.1, 0.05, 0};
    const Scene scene = one_primitive(p, {0, -1, 0});
    const Camera cam = Camera::look_at({0.3, -0.5, -3}, {0, 0, 0}, {0, -1, 0}, 40, 40, 32, 32);
    const auto view = raycast(scene, cam, 1);
    EXPECT_GT(view.mask.sum().item<double>(), 20) << primitive_name(p.type);
    // Along the optical axis the first hit has a normal facing the camera.
    Hit hit;
    const Vec3 o = cam.position();
    const Vec3 d = {p.center[0] - o[0], p.center[1] - o[1], p.center[2] - o[2]};
    if (type != 4) {  // the torus may have a hole on that ray
      ASSERT_TRUE(intersect(scene, o, d, hit)) << primitive_name(p.type);
      const double nn = hit.normal[0] * hit.normal[0] + hit.normal[1] * hit.normal[1] + hit.normal[2] * hit.normal[2];
      EXPECT_NEAR(nn, 1.0, 1e-9);
      EXPECT_LT(hit.normal[0] * d[0] + hit.normal[1] * d[1] + hit.normal[2] * d[2], 0.0) << primitive_name(p.type);
    }
  }
}

TEST(Synth, ObjectsAreDeterministicAndFitTheirRadius) {
  const auto a = random_object(7, 3, 4), b = random_object(7, 3, 4), c = random_object(7, 4, 4);
  EXPECT_EQ(object_to_json(a, 7, 3).dump(), object_to_json(b, 7, 3).dump());
  EXPECT_NE(object_to_json(a, 7, 3).dump(), object_to_json(c, 7, 4).dump());
  for (int i = 0; i < 20; ++i) {
    const auto s = random_object(1, i, 8);
    ASSERT_GE(s.scene.primitives.size(), 1u);
    ASSERT_LE(s.scene.primitives.size(), 4u);
    double bound = 0;
    for (const auto& p : s.scene.primitives)
      bound =
          std::max(bound, std::sqrt(p.center[0] * p.center[0] + p.center[1] * p.center[1] + p.center[2] * p.center[2]) +
                              p.bounding_radius());
    EXPECT_NEAR(bound, kSynthObjectRadius, 1e-9);
    ASSERT_EQ(s.view_azimuths.size(), 8u);
    for (double az : s.view_azimuths) {
      const double off = std::abs(az - s.input_azimuth) * 180 / M_PI;
      EXPECT_GE(off, 10.0 - 1e-9);
      EXPECT_LE(off, 60.0 + 1e-9);
    }
  }
}

TEST(Synth, AzimuthRangeOf180PutsViewsBehindTheObjectAndTheDefaultIsUnchanged) {
  // The default spread is the one the objects always had: same specs with and without it spelled out.
  EXPECT_EQ(object_to_json(random_object(7, 3, 4), 7, 3).dump(),
            object_to_json(random_object(7, 3, 4, ViewSpread{60, 20}), 7, 3).dump());
  int behind = 0, total = 0;
  for (int i = 0; i < 10; ++i) {
    const auto s = random_object(2, i, 8, ViewSpread{180, 45});
    for (size_t k = 0; k < s.view_azimuths.size(); ++k) {
      const double off = std::abs(s.view_azimuths[k] - s.input_azimuth) * 180 / M_PI;
      EXPECT_GE(off, 10.0 - 1e-9);
      EXPECT_LE(off, 180.0 + 1e-9);
      behind += off > 90.0;
      ++total;
      const double elev = s.view_elevations[k] * 180 / M_PI;
      EXPECT_GE(elev, -40.0 - 1e-9);  // [−15, 55] widened by 45 − 20
      EXPECT_LE(elev, 80.0 + 1e-9);
    }
  }
  EXPECT_GE(behind, total / 3) << "stratified over ±180°, about half the views look at the back";
}

TEST(Synth, SplitParsingAndCounts) {
  const auto f = parse_split("8,1,1");
  EXPECT_NEAR(f[0], 0.8, 1e-12);
  EXPECT_EQ(split_counts(40, parse_split("0.8,0.1,0.1")), (std::array<int64_t, 3>{32, 4, 4}));
  EXPECT_EQ(split_counts(3, parse_split("0,0,1")), (std::array<int64_t, 3>{0, 0, 3}));
  for (const char* bad : {"0.8,0.1", "a,b,c", "0.8,0.1,0.1,0", "-1,1,1", "0,0,0", "0.8;0.1;0.1", "0.5x,0.2,0.3"})
    EXPECT_THROW(parse_split(bad), UsageError) << bad;
}

TEST(Synth, SameSeedGivesIdenticalFilesForAnyThreadCount) {
  test::TempDir a, b;
  SynthOptions o;
  o.objects = 3;
  o.views = 2;
  o.image_size = 24;
  o.seed = 11;
  o.split = {1, 1, 1};
  o.supersample = 2;
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  o.out_dir = a.path();
  generate_dataset(o);
  at::set_num_threads(2);
  o.out_dir = b.path();
  generate_dataset(o);
  at::set_num_threads(threads);
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(a.path())) {
    if (!e.is_regular_file()) continue;
    const auto rel = fs::relative(e.path(), a.path()).string();
    ASSERT_TRUE(fs::exists(b.file(rel))) << rel;
    EXPECT_EQ(test::read_bytes(e.path().string()), test::read_bytes(b.file(rel))) << rel;
    ++files;
  }
  // dataset.json + 3 objects × (3 views × 3 files + cameras.json + object.json) + 3 input images.
  EXPECT_EQ(files, 1 + 3 * 11 + 3);
  // The reader sees what was written: one object per split, input view first, depth where the mask is.
  MultiViewDataset ds(a.path());
  EXPECT_EQ(ds.image_size(), 24);
  EXPECT_EQ(ds.views_per_object(), 3);
  EXPECT_EQ(ds.object_ids("train"), std::vector<std::string>{"obj_00000"});
  EXPECT_EQ(ds.object_ids("val"), std::vector<std::string>{"obj_00001"});
  EXPECT_EQ(ds.object_ids("test"), std::vector<std::string>{"obj_00002"});
  EXPECT_TRUE(fs::exists(a.file("images/obj_00000.png")));
  EXPECT_TRUE(fs::exists(a.file("images_test/obj_00002.png")));
  const auto obj = ds.load_object("test", "obj_00002");
  ASSERT_EQ(obj.views.size(), 3u);
  const auto& in = obj.input();
  EXPECT_GT(in.mask.sum().item<double>(), 10.0);
  const auto covered = in.mask > 0;
  const auto z = in.depth.masked_select(covered);
  EXPECT_GT(z.min().item<double>(), kSynthCameraDistance - kSynthObjectRadius - 1e-4);
  EXPECT_LT(z.max().item<double>(), kSynthCameraDistance + kSynthObjectRadius + 1e-4);
  EXPECT_EQ(in.depth.masked_select(~covered).abs().sum().item<double>(), 0.0);
}
