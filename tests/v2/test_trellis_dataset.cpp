// The TRELLIS distillation dataset (spec §10.2): target conversion, subsets and masks, occupancy targets, the
// original's split, and `v2 check`'s reasons.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "core/ply_table.hpp"
#include "core/torch_pt.hpp"
#include "data/synth_v2.hpp"
#include "testutil/testutil.hpp"
#include "v2/trellis_dataset.hpp"
#include "v2/trellis_frame.hpp"

using namespace fresnel;
namespace fs = std::filesystem;

namespace {
const std::vector<std::string> kPly17 = {"x",       "y",      "z",      "nx",      "ny",      "nz",
                                         "f_dc_0",  "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1",
                                         "scale_2", "rot_0",  "rot_1",  "rot_2",   "rot_3"};

// rows: values in kPly17 order.
void write_ply17(const std::string& path, const std::vector<std::vector<float>>& rows) {
  std::vector<float> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  std::vector<PlyColumnRef> cols;
  for (size_t i = 0; i < kPly17.size(); ++i) cols.push_back({kPly17[i], flat.data() + i, 17});
  std::ofstream out(path, std::ios::binary);
  write_ply_float_table(out, "vertex", static_cast<int64_t>(rows.size()), cols);
}

// `synth --v2` objects (no supersampling: quick) in `dir`.
void write_synth_v2(const std::string& dir, int64_t objects, uint64_t seed) {
  synth::V2Options options;
  options.out_dir = dir;
  options.objects = objects;
  options.seed = seed;
  options.supersample = 1;
  synth::generate_v2_dataset(options);
}

// A sample folder with n_coords voxels along the diagonal and one Gaussian per listed position.
void write_sample(const fs::path& d, int64_t n_coords, const std::vector<std::array<float, 3>>& positions) {
  fs::create_directories(d);
  save_pt((d / "features.pt").string(), PtValue(torch::randn({1, 6, 8})));
  auto coords = torch::zeros({n_coords, 4}, torch::kInt32);
  for (int64_t i = 0; i < n_coords; ++i) coords[i].narrow(0, 1, 3).fill_(static_cast<int>(i));
  save_pt((d / "coords.pt").string(), PtValue(coords));
  save_pt((d / "slat.pt").string(),
          PtValue::of_dict({{"feats", PtValue(torch::randn({n_coords, 8}))}, {"coords", PtValue(coords)}}));
  std::vector<std::vector<float>> rows;
  for (const auto& p : positions)
    rows.push_back(
        {p[0], p[1], p[2], 0, 0, 0, 0, 0, 0, 0, std::log(0.01f), std::log(0.01f), std::log(0.01f), 1, 0, 0, 0});
  write_ply17((d / "gaussians.ply").string(), rows);
}
}  // namespace

TEST(TrellisDataset, TargetsFollowTheOriginalsRules) {
  test::TempDir dir;
  const std::string ply = dir.path() + "/g.ply";
  const float nan = std::nanf("");
  write_ply17(ply, {{0.25f, -0.5f, 0.1f, 0, 0, 0, 0, 0, 0, 0, std::log(0.01f), 5.f, -20.f, 2, 0, 0, 0},
                    {nan, 0, 0, 0, 0, 0, 1.f / 0.28209479177387814f, 10.f, -10.f, 2.f, 0, 0, 0, 0, 3, 0, 4}});
  auto t = v2::trellis_gaussian_targets(ply);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{2, 14}));
  EXPECT_NEAR(t[0][0].item<float>(), 0.5, 1e-6);  // position ×2
  EXPECT_NEAR(t[0][1].item<float>(), -1.0, 1e-6);
  EXPECT_NEAR(t[0][3].item<float>(), 0.01, 1e-6);  // scale: exp, clamped to [1e-6, 1]
  EXPECT_EQ(t[0][4].item<float>(), 1.f);
  EXPECT_NEAR(t[0][5].item<float>(), 1e-6, 1e-9);
  EXPECT_NEAR(t[0][6].item<float>(), 1.0, 1e-6);   // (2,0,0,0) normalised
  EXPECT_NEAR(t[0][10].item<float>(), 0.5, 1e-6);  // f_dc 0 → colour ½
  EXPECT_NEAR(t[0][13].item<float>(), 0.5, 1e-6);  // opacity logit 0 → ½
  EXPECT_EQ(t[1][0].item<float>(), 0.f);           // NaN → 0
  EXPECT_NEAR(t[1][10].item<float>(), 1.0, 1e-6);  // f_dc·C0 + ½ clamped
  EXPECT_EQ(t[1][11].item<float>(), 1.f);
  EXPECT_EQ(t[1][12].item<float>(), 0.f);
  EXPECT_NEAR(t[1][7].item<float>(), 0.6, 1e-6);  // (0,3,0,4)/5
  EXPECT_NEAR(t[1][9].item<float>(), 0.8, 1e-6);
  EXPECT_NEAR(t[1][13].item<float>(), 1 / (1 + std::exp(-2.0)), 1e-6);
}

TEST(TrellisDataset, SubsetsPadsAndMasks) {
  test::TempDir dir;
  const fs::path d = fs::path(dir.path()) / "obj";
  write_sample(d, 10, {{0, 0, 0}, {0.1f, 0, 0}, {0.2f, 0, 0}, {0.3f, 0, 0}, {0.4f, 0, 0}});
  v2::TrellisDatasetOptions o;
  o.max_gaussians = 3;
  o.max_coords = 16;
  auto s = v2::load_trellis_sample(d.string(), o);
  EXPECT_EQ(s.name, "obj");
  EXPECT_EQ(s.features.sizes(), (std::vector<int64_t>{6, 8}));
  EXPECT_EQ(s.n_gaussians, 3);
  EXPECT_EQ(s.gaussian_mask.sum().item<int64_t>(), 3);
  EXPECT_EQ(s.n_coords, 10);
  EXPECT_EQ(s.coords.sizes(), (std::vector<int64_t>{16, 4}));
  EXPECT_EQ(s.coord_mask.sum().item<int64_t>(), 10);
  EXPECT_EQ(s.coords.narrow(0, 10, 6).abs().sum().item<int64_t>(), 0);
  EXPECT_EQ(s.slat_feats.sizes(), (std::vector<int64_t>{16, 8}));
  // Subset rows stay aligned: slat coords follow coords.
  EXPECT_TRUE(torch::equal(s.slat_coords.narrow(0, 0, 10), s.coords.narrow(0, 0, 10)));
  o.max_coords = 4;
  o.max_gaussians = 8;
  o.targets_of_decoded_voxels = false;  // the original's independent subsets (these Gaussians belong to no voxel)
  s = v2::load_trellis_sample(d.string(), o);
  EXPECT_EQ(s.n_coords, 4);
  EXPECT_EQ(s.n_gaussians, 5);
  EXPECT_EQ(s.gaussians.narrow(0, 5, 3).abs().sum().item<float>(), 0.f);
  EXPECT_TRUE(torch::equal(s.slat_coords, s.coords));
}

TEST(TrellisDataset, TargetsAreTheGaussiansOfTheDecodedVoxels) {
  test::TempDir dir;
  const fs::path d = fs::path(dir.path()) / "obj";
  // Ten voxels (i,i,i) on TRELLIS's grid = (i, 63 − i, i) on the PLY's; two Gaussians near each centre (in
  // gaussians.ply's [−0.5, 0.5] frame) and one far from every voxel.
  std::vector<std::array<float, 3>> positions;
  auto centre = [](int v) { return (v + 0.5f) / 64 - 0.5f; };
  for (int i = 0; i < 10; ++i)
    for (float e : {-0.004f, 0.005f}) positions.push_back({centre(i) + e, centre(63 - i) - e, centre(i) + e});
  positions.push_back({0.4f, -0.4f, 0.1f});
  write_sample(d, 10, positions);
  v2::TrellisDatasetOptions o;
  o.max_gaussians = 50;
  o.max_coords = 3;
  for (uint64_t seed : {1, 2, 3}) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    const auto s = v2::load_trellis_sample(d.string(), o, gen);
    ASSERT_EQ(s.n_coords, 3);
    ASSERT_EQ(s.n_gaussians, 6);  // exactly the two Gaussians of each decoded voxel
    const auto voxel_centres = (s.coords.narrow(0, 0, 3).narrow(1, 1, 3).to(torch::kFloat32) + 0.5) / 32 - 1;
    const auto targets = s.gaussians.narrow(0, 0, 6).narrow(1, 0, 3);  // ×2: the [−1, 1] frame
    const auto nearest = std::get<0>(torch::cdist(targets, voxel_centres).min(1));
    EXPECT_LT(nearest.max().item<float>(), 0.02f) << "seed " << seed;  // within its own voxel (half-width 1/32)
  }
  // Every voxel decoded: every Gaussian is a target, the one of no voxel too (the original's behaviour).
  o.max_coords = 16;
  EXPECT_EQ(v2::load_trellis_sample(d.string(), o).n_gaussians, 21);
  // The original's independent subsets draw targets from the whole object.
  o.max_coords = 3;
  o.targets_of_decoded_voxels = false;
  EXPECT_EQ(v2::load_trellis_sample(d.string(), o).n_gaussians, 21);
}

TEST(TrellisDataset, OccupancyFromNearestTargetAtTheVoxelCorner) {
  // Voxel 32 has its corner at 0; voxel 36 at 0.125; voxel 40 at 0.25.
  auto voxels = torch::tensor({32, 32, 32, 36, 32, 32, 40, 32, 32}, torch::kLong).view({3, 3});
  auto positions = torch::tensor({0.01f, 0.f, 0.f}).view({1, 3});
  auto occ = v2::occupancy_targets(voxels, positions, 0.15);
  EXPECT_TRUE(torch::equal(occ, torch::tensor({1.f, 1.f, 0.f})));
  EXPECT_EQ(v2::occupancy_targets(voxels, torch::zeros({0, 3}), 0.15).sum().item<float>(), 0.f);
}

TEST(TrellisDataset, SplitIsTheOriginals) {
  // torch.utils.data.random_split(range(20), [18, 2], generator=torch.Generator().manual_seed(42)) in python3-torch.
  auto s = v2::split_indices(20);
  EXPECT_EQ(s.train, (std::vector<int64_t>{2, 14, 18, 15, 1, 10, 0, 4, 6, 11, 8, 3, 7, 17, 13, 12, 19, 5}));
  EXPECT_EQ(s.val, (std::vector<int64_t>{16, 9}));
  EXPECT_TRUE(v2::split_indices(6).val.empty());  // ⌊0.6⌋ = 0, as the original
}

TEST(TrellisDataset, CheckSaysWhyASampleIsInvalid) {
  test::TempDir dir;
  const fs::path root(dir.path());
  write_sample(root / "a_good", 4, {{0, 0, 0}});
  write_sample(root / "b_missing", 4, {{0, 0, 0}});
  fs::remove(root / "b_missing" / "slat.pt");
  write_sample(root / "c_corrupt", 4, {{0, 0, 0}});
  std::ofstream(root / "c_corrupt" / "features.pt") << "not a zip";
  std::ofstream(root / "_failures.json") << R"({"x.png": 2, "y.png": 1})";
  auto r = v2::check_trellis_dataset(dir.path());
  ASSERT_EQ(r.samples.size(), 3u);
  EXPECT_EQ(r.valid(), 1);
  EXPECT_TRUE(r.samples[0].valid);
  EXPECT_NE(r.samples[1].problem.find("missing slat.pt"), std::string::npos);
  EXPECT_NE(r.samples[2].problem.find("features.pt"), std::string::npos) << r.samples[2].problem;
  EXPECT_EQ(r.skipped_images, (std::vector<std::string>{"x.png"}));
  // The original's rule for the training list: the four files exist.
  EXPECT_EQ(v2::find_trellis_samples(dir.path()).size(), 2u);
}

namespace {
// A sample in TRELLIS's own layout, built the way TRELLIS builds it: coords on its Z-up 64³ grid; K Gaussians per
// voxel at the voxel centre (c + ½)/64 − ½ plus an offset under half a voxel (its SLat Gaussian decoder); positions
// written after multiplying by `transform` (save_ply's T = [[1,0,0],[0,0,−1],[0,1,0]]: xyz · Tᵀ).
constexpr int64_t kPerVoxel = 4;
torch::Tensor write_trellis_layout_sample(const fs::path& d, const torch::Tensor& transform) {
  fs::create_directories(d);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  // 16 distinct voxels spread over the grid (z-up indices), batch column 0.
  auto xyz = torch::randperm(64 * 64 * 64, gen, torch::kLong).narrow(0, 0, 16);
  xyz = torch::stack({torch::div(xyz, 4096, "floor"), torch::div(xyz, 64, "floor") % 64, xyz % 64}, 1);
  auto coords = torch::cat({torch::zeros({16, 1}, torch::kLong), xyz}, 1).to(torch::kInt32);
  save_pt((d / "features.pt").string(), PtValue(torch::randn({1, 6, 8})));
  save_pt((d / "coords.pt").string(), PtValue(coords));
  save_pt((d / "slat.pt").string(),
          PtValue::of_dict({{"feats", PtValue(torch::randn({16, 8}))}, {"coords", PtValue(coords)}}));
  auto centres = (xyz.to(torch::kFloat32) + 0.5) / 64 - 0.5;
  auto offsets = (torch::rand({16, kPerVoxel, 3}, gen) - 0.5) * (0.9 / 64);
  auto pos = (centres.unsqueeze(1) + offsets).reshape({-1, 3});
  pos = torch::matmul(pos, transform.t()).contiguous();
  std::vector<std::vector<float>> rows;
  for (int64_t i = 0; i < pos.size(0); ++i)
    rows.push_back({pos[i][0].item<float>(), pos[i][1].item<float>(), pos[i][2].item<float>(), 0, 0, 0, 0, 0, 0, 0,
                    std::log(0.01f), std::log(0.01f), std::log(0.01f), 1, 0, 0, 0});
  write_ply17((d / "gaussians.ply").string(), rows);
  return coords;
}

// Every target Gaussian (position ×2) inside the voxel its row came from: anchor v/64·2 − 1 ≤ p < anchor + 2/64.
bool gaussians_sit_in_their_voxels(const v2::TrellisSample& s) {
  auto v = s.coords.narrow(0, 0, s.n_coords).narrow(1, 1, 3).to(torch::kFloat32);
  auto anchor = (v / 64 * 2 - 1).repeat_interleave(kPerVoxel, 0);
  auto rel = s.gaussians.narrow(0, 0, s.n_gaussians).narrow(1, 0, 3) - anchor;
  return (rel >= 0).all().item<bool>() && (rel < 2.0 / 64).all().item<bool>();
}

// Room for every voxel and Gaussian of write_trellis_layout_sample, so rows keep their order.
v2::TrellisDatasetOptions layout_options() {
  v2::TrellisDatasetOptions o;
  o.max_coords = 16;
  o.max_gaussians = 16 * kPerVoxel;
  return o;
}

torch::Tensor save_ply_transform() {
  return torch::tensor({1.f, 0.f, 0.f, 0.f, 0.f, -1.f, 0.f, 1.f, 0.f}).view({3, 3});
}
}  // namespace

TEST(TrellisDataset, TrellisLayoutCoordsAreRotatedIntoThePlyFrame) {
  test::TempDir dir;
  const auto o = layout_options();
  const fs::path good = fs::path(dir.path()) / "good";
  const auto coords = write_trellis_layout_sample(good, save_ply_transform());
  auto s = v2::load_trellis_sample(good.string(), o);
  ASSERT_EQ(s.n_coords, 16);
  ASSERT_EQ(s.n_gaussians, 16 * kPerVoxel);
  EXPECT_TRUE(gaussians_sit_in_their_voxels(s));
  EXPECT_EQ(s.occupancy_target.sum().item<float>(), 16.f);  // every occupied voxel's target is 1
  // TRELLIS voxel (x, y, z) is PLY-frame voxel (x, 63 − z, y); slat.pt's coords follow.
  auto c = coords.to(torch::kLong);
  EXPECT_TRUE(torch::equal(s.coords.select(1, 1), c.select(1, 1)));
  EXPECT_TRUE(torch::equal(s.coords.select(1, 2), 63 - c.select(1, 3)));
  EXPECT_TRUE(torch::equal(s.coords.select(1, 3), c.select(1, 2)));
  EXPECT_TRUE(torch::equal(s.slat_coords, s.coords));
  const auto cx = c.narrow(1, 1, 3);
  EXPECT_TRUE(torch::equal(v2::ply_grid_to_trellis_grid(v2::trellis_grid_to_ply_grid(cx)), cx));

  // Wrong rotations fail: the PLY left in the grid's frame (the original's comparison, and its gaussians.bin),
  // the inverse rotation, and a rotation about another axis.
  const auto T = save_ply_transform();
  const auto about_y = torch::tensor({0.f, 0.f, 1.f, 0.f, 1.f, 0.f, -1.f, 0.f, 0.f}).view({3, 3});
  int k = 0;
  for (const auto& wrong : {torch::eye(3), T.t().contiguous(), about_y}) {
    const fs::path bad = fs::path(dir.path()) / ("bad" + std::to_string(k++));
    write_trellis_layout_sample(bad, wrong);
    auto b = v2::load_trellis_sample(bad.string(), o);
    EXPECT_FALSE(gaussians_sit_in_their_voxels(b)) << k;
    EXPECT_LT(b.occupancy_target.sum().item<float>(), 16.f) << k;
  }
}

TEST(TrellisDataset, MetadataSaysWhichGridCoordsAreOn) {
  test::TempDir dir;
  const auto o = layout_options();
  const fs::path d = fs::path(dir.path()) / "s";
  // Coords already on the PLY frame's grid, Gaussians in the PLY frame: what synth --v2 wrote before.
  const auto T = save_ply_transform();
  const auto trellis = write_trellis_layout_sample(d, T);
  const auto ply_grid = torch::cat({trellis.narrow(1, 0, 1).to(torch::kLong),
                                    v2::trellis_grid_to_ply_grid(trellis.narrow(1, 1, 3).to(torch::kLong))},
                                   1)
                            .to(torch::kInt32);
  save_pt((d / "coords.pt").string(), PtValue(ply_grid));
  save_pt((d / "slat.pt").string(),
          PtValue::of_dict({{"feats", PtValue(torch::randn({16, 8}))}, {"coords", PtValue(ply_grid)}}));
  EXPECT_EQ(v2::sample_coords_frame(d.string()), v2::CoordsFrame::TrellisZUp);  // no metadata.json: TRELLIS's
  EXPECT_FALSE(gaussians_sit_in_their_voxels(v2::load_trellis_sample(d.string(), o)));
  std::ofstream(d / "metadata.json") << R"({"generator": "fresnel synth --v2"})";
  EXPECT_EQ(v2::sample_coords_frame(d.string()), v2::CoordsFrame::GaussiansPly);
  EXPECT_TRUE(gaussians_sit_in_their_voxels(v2::load_trellis_sample(d.string(), o)));
  std::ofstream(d / "metadata.json") << R"({"generator": "x", "coords_frame": "gaussians_ply"})";
  EXPECT_TRUE(gaussians_sit_in_their_voxels(v2::load_trellis_sample(d.string(), o)));
  std::ofstream(d / "metadata.json") << R"({"generator": "fresnel synth --v2", "coords_frame": "trellis_z_up"})";
  EXPECT_FALSE(gaussians_sit_in_their_voxels(v2::load_trellis_sample(d.string(), o)));
  std::ofstream(d / "metadata.json") << R"({"coords_frame": "z_up"})";
  try {
    v2::load_trellis_sample(d.string(), o);
    ADD_FAILURE() << "an unknown coords_frame must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("metadata.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("coords_frame"), std::string::npos) << e.what();
  }
  // Indices outside the grid would not rotate onto it: one error naming coords.pt.
  std::ofstream(d / "metadata.json") << R"({})";
  save_pt((d / "coords.pt").string(), PtValue(torch::full({16, 4}, 64, torch::kInt32)));
  try {
    v2::load_trellis_sample(d.string(), o);
    ADD_FAILURE() << "coords outside the grid must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("coords.pt"), std::string::npos) << e.what();
  }
}

namespace {
// Share of Gaussians (PLY-frame positions, (n,3)) whose voxel on the PLY frame's grid is an occupied voxel or one of
// its 26 neighbours.
double share_near_voxels(const torch::Tensor& positions, const torch::Tensor& voxel_xyz) {
  auto grid = torch::zeros({1, 1, 64, 64, 64});
  auto flat = (voxel_xyz.select(1, 0) * 64 + voxel_xyz.select(1, 1)) * 64 + voxel_xyz.select(1, 2);
  grid.view({-1}).index_fill_(0, flat, 1.f);
  auto near = torch::max_pool3d(grid, 3, 1, 1).view({-1});
  auto v = ((positions + 0.5) * 64).floor().clamp(0, 63).to(torch::kLong);
  auto id = (v.select(1, 0) * 64 + v.select(1, 1)) * 64 + v.select(1, 2);
  return near.index_select(0, id).mean().item<double>();
}
}  // namespace

TEST(TrellisDataset, SynthV2WritesTrellisLayout) {
  test::TempDir dir;
  write_synth_v2(dir.path(), 1, 3);
  const fs::path d = fs::path(dir.path()) / "obj_00000";
  EXPECT_EQ(v2::sample_coords_frame(d.string()), v2::CoordsFrame::TrellisZUp);
  auto raw = load_pt_tensor((d / "coords.pt").string()).to(torch::kLong);
  // torch.argwhere's order: sorted by (x, y, z) of TRELLIS's grid.
  auto key = (raw.select(1, 1) * 64 + raw.select(1, 2)) * 64 + raw.select(1, 3);
  EXPECT_TRUE(torch::equal(std::get<0>(key.sort()), key));
  v2::TrellisDatasetOptions o;
  o.max_coords = raw.size(0);
  o.max_gaussians = 1 << 20;
  auto s = v2::load_trellis_sample(d.string(), o);
  auto positions = s.gaussians.narrow(0, 0, s.n_gaussians).narrow(1, 0, 3) / 2;
  // The surface Gaussians sit on the loaded (rotated) surface voxels, not on the raw Z-up indices.
  EXPECT_GT(share_near_voxels(positions, s.coords.narrow(1, 1, 3)), 0.99);
  EXPECT_LT(share_near_voxels(positions, raw.narrow(1, 1, 3)), 0.5);
  EXPECT_GT(s.occupancy_target.mean().item<float>(), 0.99f);
}

TEST(TrellisDataset, SynthV2FeaturesCarryThePatchPositionAndEveryObjectFacesItsCameraTheSameWay) {
  test::TempDir dir;
  write_synth_v2(dir.path(), 3, 5);
  const fs::path d = fs::path(dir.path()) / "obj_00000";
  // Token t = patch (row t/37, column t%37): its 14×14 pixels as 2·rgb − 1, then sin/cos(π·2^k·u), sin/cos(π·2^k·v).
  const auto features = load_pt_tensor((d / "features.pt").string());
  ASSERT_EQ(features.sizes(), (std::vector<int64_t>{1, 1369, synth::kV2PatchFeatureDim}));
  EXPECT_EQ(synth::kV2PatchFeatureDim, 620);
  const auto rgb = synth::v2_load_image((d / "image.png").string());
  const int row = 5, col = 11;
  const auto token = features[0][row * 37 + col];
  const auto patch = rgb.narrow(0, row * 14, 14).narrow(1, col * 14, 14).reshape({-1});
  EXPECT_TRUE(torch::allclose(token.narrow(0, 0, 588), patch * 2 - 1, 1e-5, 1e-5));
  const double u = (col + 0.5) / 37, v = (row + 0.5) / 37;
  EXPECT_NEAR(token[588].item<double>(), std::sin(M_PI * u), 1e-5);
  EXPECT_NEAR(token[588 + 3].item<double>(), std::sin(8 * M_PI * u), 1e-5);
  EXPECT_NEAR(token[588 + 8].item<double>(), std::cos(M_PI * u), 1e-5);
  EXPECT_NEAR(token[588 + 16].item<double>(), std::sin(M_PI * v), 1e-5);
  EXPECT_NEAR(token[588 + 31].item<double>(), std::cos(128 * M_PI * v), 1e-4);
  // Each object's frame turns with its input view (random azimuth): the camera sits on TRELLIS's +z axis, up to
  // its elevation (y), in every sample.
  for (int i = 0; i < 3; ++i) {
    const auto sf = v2::load_sample_frame((fs::path(dir.path()) / ("obj_0000" + std::to_string(i))).string());
    const Vec3 c = sf.input_camera.position();
    const double th = sf.frame.yaw_deg * M_PI / 180, s = sf.frame.scale;
    const double x = s * (std::cos(th) * c[0] + std::sin(th) * c[2]);
    const double z = -s * (-std::sin(th) * c[0] + std::cos(th) * c[2]);
    EXPECT_NEAR(x, 0.0, 1e-9) << i;
    EXPECT_GT(z, 0.5) << i;
    if (i > 0) EXPECT_GT(std::abs(sf.frame.yaw_deg), 1e-3);
  }
}

TEST(TrellisDataset, NegativeVoxelsAreEmptyHalfNearTheSurfaceAndOnlyTrainOccupancy) {
  test::TempDir dir;
  write_synth_v2(dir.path(), 1, 3);
  const std::string d = dir.path() + "/obj_00000";
  v2::TrellisDatasetOptions o;
  o.max_coords = 300;
  o.max_gaussians = 2000;
  auto plain = v2::load_trellis_sample(d, o, at::make_generator<at::CPUGeneratorImpl>(11));
  o.negative_voxels = 64;
  auto s = v2::load_trellis_sample(d, o, at::make_generator<at::CPUGeneratorImpl>(11));
  ASSERT_EQ(s.coords.size(0), 300 + 64);
  // The sample's own voxels, masks and targets are those drawn without negatives.
  EXPECT_TRUE(torch::equal(s.coords.narrow(0, 0, 300), plain.coords));
  EXPECT_TRUE(torch::equal(s.occupancy_target.narrow(0, 0, 300), plain.occupancy_target));
  EXPECT_TRUE(torch::equal(s.surface_mask.narrow(0, 0, 300), plain.coord_mask));
  EXPECT_TRUE(torch::equal(s.gaussians, plain.gaussians));
  // The negatives: decoded (coord_mask), not matched (surface_mask), target 0, none in coords.pt.
  const auto neg = s.coords.narrow(0, 300, 64).narrow(1, 1, 3);
  EXPECT_TRUE(s.coord_mask.narrow(0, 300, 64).all().item<bool>());
  EXPECT_FALSE(s.surface_mask.narrow(0, 300, 64).any().item<bool>());
  EXPECT_EQ(s.occupancy_target.narrow(0, 300, 64).sum().item<float>(), 0.f);
  v2::TrellisDatasetOptions every;
  every.max_coords = 1 << 20;
  const auto whole = v2::load_trellis_sample(d, every);  // every voxel, on the PLY frame's grid
  const auto surface = whole.coords.narrow(0, 0, whole.n_coords).narrow(1, 1, 3);
  // Chebyshev distance from each negative to the nearest surface voxel.
  auto gap = (neg.unsqueeze(1) - surface.unsqueeze(0)).abs().amax(-1).amin(1);
  EXPECT_GE(gap.min().item<int64_t>(), 1);
  EXPECT_GE((gap <= 3).sum().item<int64_t>(), 32);  // the near half
  EXPECT_GE((gap > 3).sum().item<int64_t>(), 1);     // uniform ones mostly land far away
}
