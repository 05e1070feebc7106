// Scoring v2 in a dataset's views: synth --v2 and `fresnel synth` give the same objects for the same flags, and
// Gaussians in TRELLIS's frame moved into the input camera's frame (v2/trellis_frame.hpp) line up with the
// held-out views that `fresnel eval` renders — a wrong axis sign does not.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "core/image_io.hpp"
#include "core/object_frame.hpp"
#include "data/multiview_dataset.hpp"
#include "data/synth_dataset.hpp"
#include "data/synth_scene.hpp"
#include "data/synth_v2.hpp"
#include "decode/decoder_common.hpp"
#include "evaluate/baselines.hpp"
#include "evaluate/evaluate.hpp"
#include "testutil/testutil.hpp"
#include "v2/trellis_dataset.hpp"
#include "v2/trellis_frame.hpp"

using namespace fresnel;
namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_text_file(path)); }

// `fresnel eval`'s report for Gaussians files in `gdir` on the multi-view set `mv`.
EvalReport scores(const std::string& mv, const std::string& gdir) {
  EvalOptions o;
  o.split = "test";
  o.show_progress = false;
  o.contact_sheet_objects = 0;
  return evaluate_dataset(MultiViewDataset(mv), gaussian_files_predictor(gdir), o);
}

// Writes TRELLIS-frame Gaussians moved into the sample's input camera frame as gdir/<id>.ply with its cameras.json,
// as `v2 infer --frame camera` does.
void write_camera_frame(const Gaussians& trellis, const std::string& sample_dir, const std::string& gdir,
                        const std::string& id) {
  fs::create_directories(gdir);
  v2::save_in_camera_frame(trellis, v2::load_sample_frame(sample_dir), gdir + "/" + id + ".ply");
}

}  // namespace

TEST(TrellisFrame, PointsAndOrientationsFollowTheMap) {
  const Camera cam = synth::synth_camera(0.7, 0.3, 64);
  for (const double yaw_deg : {0.0, 40.0}) {
  SCOPED_TRACE(yaw_deg);
  const v2::TrellisFrame f{0.5, {1, -1, -1}, yaw_deg};
  const double cy = std::cos(yaw_deg * M_PI / 180), sy = std::sin(yaw_deg * M_PI / 180);
  Gaussians g;
  g.means = torch::tensor({{0.1f, -0.2f, 0.3f}, {-0.4f, 0.25f, 0.05f}});
  g.scales = torch::tensor({{0.01f, 0.02f, 0.03f}, {0.04f, 0.05f, 0.06f}});
  g.quats = torch::nn::functional::normalize(torch::tensor({{1.f, 0.f, 0.f, 0.f}, {0.3f, -0.5f, 0.2f, 0.7f}}),
                                             torch::nn::functional::NormalizeFuncOptions().dim(1));
  g.colors = torch::rand({2, 3});
  g.opacities = torch::rand({2});
  const auto c = v2::trellis_to_camera_frame(g, f, cam);
  for (int i = 0; i < 2; ++i) {
    const auto p = g.means[i];
    // Scene point: Y(θ)ᵀ·diag(axes)·p / s, then the camera's world → camera map.
    const double v0 = p[0].item<double>() / 0.5, v1 = -p[1].item<double>() / 0.5, v2 = -p[2].item<double>() / 0.5;
    const Vec3 scene{cy * v0 - sy * v2, v1, sy * v0 + cy * v2};
    const Vec3 expect = cam.to_camera(scene);
    for (int a = 0; a < 3; ++a) EXPECT_NEAR(c.means[i][a].item<double>(), expect[a], 1e-5);
  }
  EXPECT_TRUE(torch::allclose(c.scales, g.scales * 2));
  EXPECT_TRUE(torch::equal(c.colors, g.colors));
  EXPECT_TRUE(torch::equal(c.opacities, g.opacities));
  // Orientation: the local axes rotate like directions (R_cam = A·R_trellis, A = R·Y(θ)ᵀ·diag(axes)).
  auto Rc = torch::empty({3, 3}, torch::kFloat64);
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k) Rc[r][k] = cam.world_to_camera[r * 4 + k];
  const auto Yt = torch::tensor({{cy, 0.0, -sy}, {0.0, 1.0, 0.0}, {sy, 0.0, cy}}, torch::kFloat64);
  const auto R = torch::matmul(torch::matmul(Rc, Yt), torch::diag(torch::tensor({1.0, -1.0, -1.0}, torch::kFloat64)));
  const auto Rq = [](const torch::Tensor& q) {  // wxyz → matrix
    const double w = q[0].item<double>(), x = q[1].item<double>(), y = q[2].item<double>(), z = q[3].item<double>();
    return torch::tensor({{1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
                          {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
                          {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)}},
                         torch::kFloat64);
  };
  for (int i = 0; i < 2; ++i)
    EXPECT_TRUE(torch::allclose(Rq(c.quats[i]), torch::matmul(R, Rq(g.quats[i])), 1e-5, 1e-5)) << i;
  }
}

TEST(TrellisFrame, SameSeedSameObjectsAndTheTargetLinesUpWithHeldOutViews) {
  test::TempDir tmp;
  const std::string v2dir = tmp.file("v2"), mv = tmp.file("mv");
  synth::V2Options v2o;
  v2o.out_dir = v2dir;
  v2o.objects = 1;
  v2o.seed = 7;  // a box, a cone and a torus: no symmetry that a wrong sign could keep
  v2o.supersample = 1;
  v2o.views = 4;
  synth::generate_v2_dataset(v2o);
  synth::SynthOptions so;
  so.out_dir = mv;
  so.objects = 1;
  so.views = 4;
  so.image_size = 64;
  so.seed = v2o.seed;
  so.split = {0, 0, 1};
  so.supersample = 2;
  synth::generate_dataset(so);

  // Same seed and flags → the same object (shape, texture, light, views) in both sets.
  const auto meta = read_json(v2dir + "/obj_00000/metadata.json");
  const auto obj = read_json(mv + "/test/obj_00000/object.json");
  for (const char* key : {"primitives", "light_direction", "views", "seed", "index"})
    EXPECT_EQ(meta[key], obj[key]) << key;
  // The input camera of image.png is the multi-view set's input camera (same pose, other size).
  const auto sf = v2::load_sample_frame(v2dir + "/obj_00000");
  const auto mv_input = load_cameras_json(mv + "/test/obj_00000/cameras.json")[0];
  for (int k = 0; k < 16; ++k) EXPECT_NEAR(sf.input_camera.world_to_camera[k], mv_input.world_to_camera[k], 1e-12);

  // gaussians.ply as v2 infer converts its target, in the input camera's frame: the held-out views match.
  const auto trellis = v2::to_gaussians(v2::trellis_gaussian_targets(v2dir + "/obj_00000/gaussians.ply"));
  write_camera_frame(trellis, v2dir + "/obj_00000", tmp.file("right"), "obj_00000");
  const EvalReport right_r = scores(mv, tmp.file("right"));
  const MetricMeans right = right_r.novel;
  EXPECT_EQ(right.views, 4);
  // The target bounds what any v2 prediction can score on synth --v2 data. The input view's rendered depth matches.
  EXPECT_GT(right.psnr, 26.5);  // measured 28.6 dB / SSIM 0.944 (σ one voxel and dilation: 22.7 / 0.85)
  EXPECT_GT(right.ssim, 0.92);
  EXPECT_GT(right_r.depth_render.delta1, 0.99);
  // The file names TRELLIS's screen filter; 3DGS's dilation (what a file without it gets) widens the thin discs.
  EXPECT_EQ(load_screen_filter_name(tmp.file("right") + "/obj_00000.cameras.json"),
            screen_filter_name(ScreenFilter::mip(0.1)));
  fs::create_directories(tmp.file("dilated"));
  fs::copy_file(tmp.file("right") + "/obj_00000.ply", tmp.file("dilated") + "/obj_00000.ply");
  const MetricMeans dilated = scores(mv, tmp.file("dilated")).novel;
  EXPECT_GT(right.psnr, dilated.psnr + 3.0);  // measured +4.4 dB

  // A wrong axis sign: z mirrored in TRELLIS's frame (the map (x,−y,+z)); or no 180° turn (the map (x,y,z)).
  Gaussians mirrored = trellis;
  mirrored.means = trellis.means * torch::tensor({1.f, 1.f, -1.f});
  mirrored.quats = trellis.quats * torch::tensor({1.f, -1.f, -1.f, 1.f});
  write_camera_frame(mirrored, v2dir + "/obj_00000", tmp.file("mirrored"), "obj_00000");
  Gaussians upright = trellis;  // turned 180° about x, which cancels the map's turn
  upright.means = trellis.means * torch::tensor({1.f, -1.f, -1.f});
  upright.quats =
      decode::quaternion_multiply(torch::tensor({0.f, 1.f, 0.f, 0.f}).expand_as(trellis.quats), trellis.quats);
  write_camera_frame(upright, v2dir + "/obj_00000", tmp.file("turned"), "obj_00000");
  const EvalReport mirrored_r = scores(mv, tmp.file("mirrored")), turned_r = scores(mv, tmp.file("turned"));
  for (const EvalReport* wrong : {&mirrored_r, &turned_r}) {
    EXPECT_LT(wrong->novel.psnr, right.psnr - 4.0);
    EXPECT_LT(wrong->depth_render.delta1, 0.95);
  }
  std::printf(
      "novel-view PSNR: right %.2f dB / SSIM %.3f (input depth d1 %.3f; with 3DGS's dilation %.2f dB), z mirrored "
      "%.2f dB (%.3f), not turned %.2f dB (%.3f)\n",
      right.psnr, right.ssim, right_r.depth_render.delta1, dilated.psnr, mirrored_r.novel.psnr, mirrored_r.depth_render.delta1,
      turned_r.novel.psnr, turned_r.depth_render.delta1);
}

TEST(TrellisFrame, ClearErrorsForSamplesWithoutAFrame) {
  test::TempDir tmp;
  const std::string d = tmp.file("s");
  fs::create_directories(d);
  write_text_file(d + "/metadata.json", R"({"trellis_frame": {"scale": 0.5, "axes": [1, -1, -1]}})");
  try {
    v2::load_sample_frame(d);
    FAIL() << "no cameras.json";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(d + "/cameras.json"), std::string::npos) << e.what();
  }
  save_cameras_json(d + "/cameras.json", {synth::synth_camera(0, 0, 64)});
  EXPECT_NO_THROW(v2::load_sample_frame(d));
  for (const char* bad : {R"({"trellis_frame": {"scale": 0.5, "axes": [1, 1, -1]}})",
                          R"({"trellis_frame": {"scale": -1, "axes": [1, -1, -1]}})",
                          R"({"trellis_frame": {"scale": 0.5, "axes": [1, -1]}})",
                          R"({"trellis_frame": {"scale": 0.5, "axes": [1, -1, -1], "yaw_deg": "40"}})",
                          R"({"frame": "x"})"}) {
    write_text_file(d + "/metadata.json", bad);
    try {
      v2::load_sample_frame(d);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("metadata.json"), std::string::npos) << e.what();
    }
  }
}

TEST(TrellisFrame, OccupancyAgreementCountsEveryGridVoxel) {
  // 4³ grid: predicted {a, b, c}, true {b, c, d, e} → tp 2, fp 1, fn 2, tn 64 − 5.
  const auto pred = torch::tensor({{0, 0, 0}, {1, 2, 3}, {3, 3, 3}}, torch::kLong);
  const auto truth = torch::tensor({{3, 3, 3}, {1, 2, 3}, {0, 1, 0}, {2, 0, 1}}, torch::kInt32);
  const auto a = v2::grid_occupancy_agreement(pred, truth, 4);
  EXPECT_EQ(a.true_pos, 2);
  EXPECT_EQ(a.false_pos, 1);
  EXPECT_EQ(a.false_neg, 2);
  EXPECT_EQ(a.true_neg, 59);
  EXPECT_DOUBLE_EQ(a.accuracy(), 61.0 / 64);
  EXPECT_DOUBLE_EQ(a.recall(), 0.5);
  EXPECT_DOUBLE_EQ(a.precision(), 2.0 / 3);
  EXPECT_THROW(v2::grid_occupancy_agreement(pred, torch::tensor({{4, 0, 0}}), 4), Error);
  EXPECT_THROW(v2::grid_occupancy_agreement(pred.narrow(1, 0, 2), truth, 4), Error);
}

// One synth --v2 object (2 views, no supersampling) in tmp; returns its sample folder.
static std::string synth_one_v2_object(test::TempDir& tmp, uint64_t seed) {
  synth::V2Options v2o;
  v2o.out_dir = tmp.file("v2");
  v2o.objects = 1;
  v2o.seed = seed;
  v2o.supersample = 1;
  v2o.views = 2;
  synth::generate_v2_dataset(v2o);
  return v2o.out_dir + "/obj_00000";
}

// Every voxel of a sample with its pixel queries, as a pixel-aligned decoder's dataset loads it.
static v2::TrellisSample load_pixel_aligned(const std::string& sample) {
  v2::TrellisDatasetOptions o;
  o.max_coords = 100000;
  o.pixel_aligned = true;
  return v2::load_trellis_sample(sample, o);
}

// Pixel-aligned queries: the object's own voxels (coords.pt) project onto the object in image.png (the background
// is black), and through the dataset every query gets that projection; a mirrored u (a wrong sign) misses.
TEST(TrellisFrame, VoxelsProjectOntoTheObjectInTheInputImage) {
  test::TempDir tmp;
  const std::string sample = synth_one_v2_object(tmp, 7);
  const auto s = load_pixel_aligned(sample);
  ASSERT_TRUE(s.pixel.defined());
  const auto xyz = s.coords.narrow(0, 0, s.n_coords).narrow(1, 1, 3);
  const auto uv = v2::project_voxels(xyz, v2::load_sample_frame(sample));
  EXPECT_TRUE(torch::equal(uv, s.pixel.uv.narrow(0, 0, s.n_coords)));
  const auto image = load_image(sample + "/image.png");  // (H,W,3)
  // The colour each query sees is image.png's there (bilinear: within the range of the 2×2 pixels around it).
  const auto rgb = s.pixel.rgb.narrow(0, 0, s.n_coords);
  EXPECT_GT((rgb.sum(1) > 0.02).to(torch::kFloat32).mean().item<double>(), 0.97);
  for (int64_t i = 0; i < s.n_coords; i += 97) {
    const double px = (uv[i][0].item<double>() + 1) / 2 * image.size(1) - 0.5;
    const double py = (uv[i][1].item<double>() + 1) / 2 * image.size(0) - 0.5;
    const int64_t x0 = std::clamp<int64_t>(std::floor(px), 0, image.size(1) - 2);
    const int64_t y0 = std::clamp<int64_t>(std::floor(py), 0, image.size(0) - 2);
    const auto around = image.narrow(0, y0, 2).narrow(1, x0, 2).reshape({4, 3});
    for (int c = 0; c < 3; ++c) {
      EXPECT_GE(rgb[i][c].item<float>(), around.select(1, c).min().item<float>() - 1e-5);
      EXPECT_LE(rgb[i][c].item<float>(), around.select(1, c).max().item<float>() + 1e-5);
    }
  }
  const int64_t H = image.size(0), W = image.size(1);
  auto on_object = [&](const torch::Tensor& p) {
    auto col = ((p.select(1, 0) + 1) / 2 * W).floor().clamp(0, W - 1).to(torch::kLong);
    auto row = ((p.select(1, 1) + 1) / 2 * H).floor().clamp(0, H - 1).to(torch::kLong);
    auto rgb = image.index({row, col});
    return (rgb.sum(1) > 0.02).to(torch::kFloat32).mean().item<double>();
  };
  EXPECT_GT((uv.abs() < 1).all(1).to(torch::kFloat32).mean().item<double>(), 0.999);
  EXPECT_GT(on_object(uv), 0.97);
  auto mirrored = uv.clone();
  mirrored.select(1, 0).neg_();
  EXPECT_LT(on_object(mirrored), 0.9);
  EXPECT_THROW(v2::project_voxels(xyz.narrow(1, 0, 2), v2::load_sample_frame(sample)), Error);
  EXPECT_THROW(v2::pixel_query(xyz, v2::load_sample_frame(sample), image.narrow(2, 0, 2)), Error);
}

// Hand-made frame: TRELLIS frame = camera frame shifted 2 units forward (scale 1, no turn), 64² image, f = 100.
// A 3×3 wall of voxels at depth index 10 hides the same wall at index 40; a voxel at index 40 beside it is seen.
TEST(TrellisFrame, VisibilityFindsTheFirstSurface) {
  v2::SampleFrame sf;
  sf.input_camera.world_to_camera = mat4_identity();
  sf.input_camera.world_to_camera[2 * 4 + 3] = 2.0;
  sf.input_camera.fx = sf.input_camera.fy = 100;
  sf.input_camera.cx = sf.input_camera.cy = 32;
  sf.input_camera.width = sf.input_camera.height = 64;
  std::vector<int64_t> occ;
  for (const int64_t z : {10, 40})
    for (int64_t x = 30; x <= 32; ++x)
      for (int64_t y = 30; y <= 32; ++y) occ.insert(occ.end(), {x, y, z});
  occ.insert(occ.end(), {50, 31, 40});  // beside the walls: nothing in front of it
  const auto occupied = torch::tensor(occ, torch::kInt64).view({-1, 3});
  const auto queries = torch::tensor(std::vector<int64_t>{31, 31, 10,    // front wall: on the first surface
                                                          31, 31, 40,    // back wall, behind the front one
                                                          31, 31, 5,     // empty voxel in front of the wall
                                                          50, 31, 40,    // the lone voxel: seen
                                                          10, 10, 20},   // nothing occupied along its ray
                                     torch::kInt64)
                          .view({-1, 3});
  const auto vis = v2::voxel_visibility(queries, occupied, sf);
  ASSERT_EQ(vis.sizes(), at::IntArrayRef({5, 2}));
  const float want[5][2] = {{1, 0}, {0, 1}, {1, -5.0f / 16}, {1, 0}, {1, -1}};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(vis[i][0].item<float>(), want[i][0]) << "query " << i;
    EXPECT_NEAR(vis[i][1].item<float>(), want[i][1], 1e-5) << "query " << i;
  }
  // Through pixel_query: the same, and absent without the occupied set.
  const auto q = v2::pixel_query(queries, sf, torch::rand({64, 64, 3}), 64, occupied);
  EXPECT_TRUE(torch::equal(q.visibility, vis));
  EXPECT_FALSE(v2::pixel_query(queries, sf, torch::rand({64, 64, 3})).visibility.defined());
  EXPECT_THROW(v2::voxel_visibility(queries, occupied.narrow(1, 0, 2), sf), Error);
}

// On a synth --v2 object, the dataset's queries see the front layer of the object's voxels, not the back.
TEST(TrellisFrame, DatasetVisibilitySeesTheFrontOfTheObject) {
  test::TempDir tmp;
  const auto s = load_pixel_aligned(synth_one_v2_object(tmp, 11));
  ASSERT_TRUE(s.pixel.visibility.defined());
  const auto vis = s.pixel.visibility.narrow(0, 0, s.n_coords);
  const double seen = vis.select(1, 0).mean().item<double>();
  EXPECT_GT(seen, 0.1);  // the front layer of a shell a voxel or two thick (0.19 for this object)
  EXPECT_LT(seen, 0.6);
  // Seen voxels are on the first surface (depth ≈ 0), hidden ones behind it (depth > 0).
  const auto front = vis.select(1, 0) > 0.5;
  EXPECT_LT(vis.select(1, 1).index({front}).abs().max().item<float>(), 1.5f / 16 + 1e-5);
  EXPECT_GT(vis.select(1, 1).index({~front}).min().item<float>(), 1.5f / 16 - 1e-5);
}
