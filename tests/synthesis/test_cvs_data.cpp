// Relative poses (one convention for training and inference) and the CVS data sources.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "core/npy.hpp"
#include "cvs_test_data.hpp"
#include "data/multiview_dataset.hpp"
#include "synthesis/cvs_data.hpp"
#include "synthesis/cvs_generate.hpp"
#include "synthesis/cvs_trainer.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;
using namespace fresnel::synthesis;
namespace fs = std::filesystem;

namespace {
Camera posed(const std::array<double, 9>& R, const std::array<double, 3>& t) {
  Camera c;
  for (int r = 0; r < 3; ++r) {
    for (int k = 0; k < 3; ++k) c.world_to_camera[4 * r + k] = R[3 * r + k];
    c.world_to_camera[4 * r + 3] = t[r];
  }
  return c;
}
void expect_pose_near(const RelativePose& a, const RelativePose& b, double tol) {
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(a.R[i], b.R[i], tol) << "R " << i;
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(a.t[i], b.t[i], tol) << "t " << i;
}
}  // namespace

// R_rel = R_t·R_sᵀ, t_rel = t_t − R_rel·t_s on hand-computed numbers.
TEST(CvsPose, RelativePoseFormula) {
  const std::array<double, 9> Rz90 = {0, -1, 0, 1, 0, 0, 0, 0, 1};  // source rotation
  const std::array<double, 9> Rx90 = {1, 0, 0, 0, 0, -1, 0, 1, 0};  // target rotation
  const auto p = relative_pose(posed(Rz90, {1, 2, 3}), posed(Rx90, {0, 0, 2}));
  // R_t·R_sᵀ: R_sᵀ = [[0,1,0],[-1,0,0],[0,0,1]]; Rx90·R_sᵀ = [[0,1,0],[0,0,-1],[-1,0,0]].
  const std::array<double, 9> R = {0, 1, 0, 0, 0, -1, -1, 0, 0};
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(p.R[i], R[i], 1e-12);
  // t_t − R·t_s = (0,0,2) − (2, −3, −1) = (−2, 3, 3).
  EXPECT_NEAR(p.t[0], -2, 1e-12);
  EXPECT_NEAR(p.t[1], 3, 1e-12);
  EXPECT_NEAR(p.t[2], 3, 1e-12);
  // The source itself: identity.
  const auto self = relative_pose(posed(Rz90, {1, 2, 3}), posed(Rz90, {1, 2, 3}));
  expect_pose_near(self, RelativePose{{1, 0, 0, 0, 1, 0, 0, 0, 1}, {0, 0, 0}}, 1e-12);
}

// The pose does not depend on the world frame: moving both cameras by one rigid motion changes nothing.
TEST(CvsPose, RelativePoseIsWorldFrameInvariant) {
  const Camera a = spherical_camera(0.3, 0.2, 2.6, {0, 0, 0}, 16, 16, 16, 16);
  const Camera b = spherical_camera(-0.7, 0.4, 2.6, {0, 0, 0}, 16, 16, 16, 16);
  const Camera w = spherical_camera(1.1, -0.3, 1.0, {0.2, 0.1, 0}, 1, 1, 1, 1);  // any rigid motion
  Camera a2 = a, b2 = b;
  a2.world_to_camera = mat4_mul(a.world_to_camera, w.world_to_camera);
  b2.world_to_camera = mat4_mul(b.world_to_camera, w.world_to_camera);
  expect_pose_near(relative_pose(a, b), relative_pose(a2, b2), 1e-9);
}

// A synth object seen from its input camera and another camera: the pose the training source feeds the network
// equals the pose the inference path computes from the same two cameras expressed in the input camera's frame
// (as `cvs generate` builds them).
TEST(CvsPose, TrainingAndInferencePathsAgree) {
  fresnel::test::TempDir tmp;
  cvs_test::write_synth(tmp.path(), 4, 2, 16);
  CvsSourceOptions o;
  o.data_dir = tmp.path();
  o.image_size = 16;
  auto source = open_cvs_source(o);
  ASSERT_EQ(source->size(), 3 * 2);  // 3 train objects × 2 other views
  MultiViewDataset ds(tmp.path());
  const auto ids = ds.object_ids("train");
  for (int64_t i = 0; i < source->size(); ++i) {
    const auto sample = source->load(i, 0);
    const auto obj = ds.load_object("train", ids[size_t(i / 2)]);
    const auto rel = obj.relative_cameras();  // input camera = identity
    const int view = 1 + int(i % 2);
    const auto inference = poses_for_cameras(rel[size_t(obj.input_view)], {rel[size_t(view)]});
    expect_pose_near(sample.pose, inference[0], 1e-9);
    // And the pose really is the other camera's: not the identity.
    double off = 0;
    for (int k = 0; k < 3; ++k) off += std::abs(sample.pose.t[k]);
    EXPECT_GT(off, 1e-3);
    EXPECT_EQ(sample.input.sizes(), (std::vector<int64_t>{3, 16, 16}));
    EXPECT_GE(sample.input.min().item<float>(), -1.f);
    EXPECT_LE(sample.target.max().item<float>(), 1.f);
    EXPECT_FALSE(torch::equal(sample.input, sample.target));
  }
}

TEST(CvsPose, GenerationCamerasOrbitTheObjectCentre) {
  ViewCameraOptions o;
  o.num_views = 4;
  o.image_size = 32;
  const Camera in = generation_input_camera(o);
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(in.world_to_camera[i], mat4_identity()[i], 1e-12);
  const auto cams = generation_cameras(o);
  ASSERT_EQ(cams.size(), 4u);
  for (const auto& c : cams) {
    const auto centre = c.to_camera({0, 0, o.radius});
    EXPECT_NEAR(centre[0], 0, 1e-9);
    EXPECT_NEAR(centre[1], 0, 1e-9);
    EXPECT_NEAR(centre[2], o.radius, 1e-9);
  }
  // View 0 is the input camera; view 2 (azimuth 180°) is behind the object.
  expect_pose_near(poses_for_cameras(in, {cams[0]})[0], RelativePose{{1, 0, 0, 0, 1, 0, 0, 0, 1}, {0, 0, 0}}, 1e-9);
  EXPECT_NEAR(cams[2].position()[2], 2 * o.radius, 1e-9);
  o.mode = CameraMode::Hemisphere;
  for (const auto& c : generation_cameras(o)) EXPECT_LT(c.position()[1], 0);  // above (world up = −y)
  EXPECT_THROW(parse_camera_mode("spiral"), UsageError);
}

TEST(CvsPose, PoseJsonRoundTripAndTheOriginalsFrame) {
  fresnel::test::TempDir tmp;
  RelativePose p{{0, 1, 0, -1, 0, 0, 0, 0, 1}, {0.5, -0.25, 1}};
  save_pose_json(tmp.file("pose.json"), p);
  expect_pose_near(load_pose_json(tmp.file("pose.json")), p, 1e-12);
  // The original's file (no "frame"): an absolute −Z pose whose identity is the original's input camera. World
  // and camera both flip y and z (D = diag(1,−1,−1)), so [R|t] becomes [D·R·D | D·t] relative to the identity.
  write_text_file(tmp.file("orig.json"), R"({"R": [[1,0,0],[0,1,0],[0,0,1]], "t": [0, 0, 0]})");
  expect_pose_near(load_pose_json(tmp.file("orig.json")), RelativePose{{1, 0, 0, 0, 1, 0, 0, 0, 1}, {0, 0, 0}}, 1e-12);
  write_text_file(tmp.file("orig2.json"), R"({"R": [[1,0,0],[0,1,0],[0,0,1]], "t": [0.5, 0.25, -2]})");
  const auto q = load_pose_json(tmp.file("orig2.json"));
  EXPECT_NEAR(q.t[0], 0.5, 1e-12);
  EXPECT_NEAR(q.t[1], -0.25, 1e-12);
  EXPECT_NEAR(q.t[2], 2, 1e-12);
  write_text_file(tmp.file("bad.json"), R"({"R": [[1,0],[0,1]], "t": [0,0,0]})");
  try {
    load_pose_json(tmp.file("bad.json"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos);
  }
  EXPECT_THROW(load_pose_json(tmp.file("missing.json")), Error);
}

TEST(CvsData, DatasetWithoutOtherViewsIsAClearError) {
  fresnel::test::TempDir tmp;
  cvs_test::write_synth(tmp.path(), 2, 0, 16);
  CvsSourceOptions o;
  o.data_dir = tmp.path();
  o.image_size = 16;
  try {
    open_cvs_source(o);
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("dataset.json"), std::string::npos) << m;
    EXPECT_NE(m.find("views"), std::string::npos) << m;
  }
}

namespace {
// One image directory of the bootstrap layout with `views` views.
void write_bootstrap(const std::string& root, const std::string& name, int views, bool with_pose = true) {
  const auto dir = fs::path(root) / name;
  fs::create_directories(dir);
  save_image((dir / "input.png").string(), torch::rand({8, 8, 3}));
  save_npy((dir / "input_features.npy").string(), torch::rand({37, 37, 4}));
  for (int v = 0; v < views; ++v) {
    const auto vd = dir / ("view_00" + std::to_string(v));
    fs::create_directories(vd);
    save_image((vd / "rgb.png").string(), torch::rand({8, 8, 3}));
    save_npy((vd / "depth.npy").string(), torch::rand({1, 8, 8}));
    if (with_pose) save_pose_json((vd / "pose.json").string(), RelativePose{{1, 0, 0, 0, 1, 0, 0, 0, 1}, {0.1, 0, 0}});
  }
}
}  // namespace

TEST(CvsData, BootstrapLayoutIsRead) {
  fresnel::test::TempDir tmp;
  write_bootstrap(tmp.path(), "image_0000", 2);
  write_bootstrap(tmp.path(), "image_0001", 3);
  CvsSourceOptions o;
  o.data_dir = tmp.path();
  o.image_size = 16;
  o.load_features = true;
  auto s = open_cvs_source(o);
  EXPECT_EQ(s->size(), 5);
  EXPECT_TRUE(s->has_dinov2_features());
  auto x = s->load(3, 0);
  EXPECT_EQ(x.target.sizes(), (std::vector<int64_t>{3, 16, 16}));
  EXPECT_EQ(x.target_depth.sizes(), (std::vector<int64_t>{1, 16, 16}));
  EXPECT_EQ(x.features.sizes(), (std::vector<int64_t>{4, 37, 37}));
  EXPECT_NEAR(x.pose.t[0], 0.1, 1e-12);
}

TEST(CvsData, MissingPoseFileIsNamed) {
  fresnel::test::TempDir tmp;
  write_bootstrap(tmp.path(), "image_0000", 1, /*with_pose=*/false);
  CvsSourceOptions o;
  o.data_dir = tmp.path();
  o.image_size = 8;
  auto s = open_cvs_source(o);
  try {
    s->load(0, 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("view_000/pose.json"), std::string::npos) << e.what();
  }
}

TEST(CvsData, SelfTargetOnlyOnRequest) {
  fresnel::test::TempDir tmp;
  save_image(tmp.file("a.png"), torch::rand({8, 8, 3}));
  save_image(tmp.file("b.png"), torch::rand({8, 8, 3}));
  CvsSourceOptions o;
  o.data_dir = tmp.path();
  o.image_size = 8;
  try {
    open_cvs_source(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--self_target_dataset"), std::string::npos);
  }
  o.self_target = true;
  auto s = open_cvs_source(o);
  ASSERT_EQ(s->size(), 2);
  auto a = s->load(0, 1), b = s->load(0, 1), c = s->load(0, 2);
  EXPECT_TRUE(torch::equal(a.input, a.target));  // the image is its own target
  EXPECT_EQ(a.pose.t, b.pose.t);                 // seeded
  EXPECT_NE(a.pose.t, c.pose.t);
  // A rotation: RᵀR = I.
  auto R = rotations_tensor({a.pose})[0].to(torch::kDouble);
  EXPECT_TRUE(torch::allclose(R.t().mm(R), torch::eye(3, torch::kDouble), 1e-6, 1e-6));
}

// With DINOv2 files (here: the bootstrap layout's input_features.npy, 4 channels wide) `features auto` uses them:
// no built-in encoder, the adapter as wide as the files.
TEST(CvsData, TrainsOnFeatureFilesWhenPresent) {
  fresnel::test::TempDir tmp;
  write_bootstrap(tmp.file("boot"), "image_0000", 2);
  write_bootstrap(tmp.file("boot"), "image_0001", 2);
  CvsTrainConfig c;
  c.model = cvs_test::tiny_config();
  c.data_dir = tmp.file("boot");
  c.batch_size = 2;
  c.num_workers = 1;
  c.validate_every = 0;
  c.loop.epochs = 1;
  c.loop.output_dir = tmp.file("out");
  c.loop.progress = false;
  c.loop.write_plot = false;
  CvsTrainer t(c);
  EXPECT_FALSE(t.config().model.builtin_encoder);
  EXPECT_EQ(t.config().model.image_embed_dim, 4);
  EXPECT_NE(t.describe().find("DINOv2"), std::string::npos);
  t.run();
  EXPECT_TRUE(fs::exists(tmp.file("out/cvs_epoch1.pt")));
}
