// `cvs bootstrap`: a decoder's Gaussians rendered from orbit poses into the bootstrap layout CVS trains on.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/error.hpp"
#include "core/image_io.hpp"
#include "core/npy.hpp"
#include "synthesis/cvs_bootstrap.hpp"
#include "synthesis/cvs_data.hpp"
#include "testutil/testutil.hpp"
#include "train/checkpoint.hpp"

using namespace fresnel;
using namespace fresnel::synthesis;
namespace fs = std::filesystem;

namespace {
// A random-weight decoder with the built-in encoder: the layout and poses are checked, not the pictures.
std::string tiny_decoder(const fresnel::test::TempDir& dir) {
  torch::manual_seed(3);
  train::ModelConfig cfg;
  cfg.encoder = "builtin";
  cfg.decoder.feature_dim = 8;
  cfg.decoder.gaussians_per_patch = 1;
  cfg.decoder.hidden = {16};
  cfg.image_size = 16;
  cfg.depth_mode = "metric";
  train::FresnelModel model(cfg);
  train::save_checkpoint(dir.file("dec.pt"), model, nullptr, train::TrainingState{});
  return dir.file("dec.pt");
}
}  // namespace

TEST(CvsBootstrap, WritesTheLayoutCvsReadsAndResumes) {
  fresnel::test::TempDir tmp;
  fs::create_directories(tmp.file("in"));
  save_image(tmp.file("in/a.png"), torch::rand({16, 16, 3}));
  save_image(tmp.file("in/b.png"), torch::rand({16, 16, 3}));
  BootstrapOptions o;
  o.input_dir = tmp.file("in");
  o.decoder_checkpoint = tiny_decoder(tmp);
  o.output_dir = tmp.file("out");
  o.num_poses = 3;
  o.image_size = 16;
  o.visualize = true;
  o.progress = false;
  EXPECT_EQ(generate_bootstrap_data(o), 2);
  for (auto f : {"image_0000/input.png", "image_0000/input_depth.npy", "image_0001/view_002/rgb.png",
                 "image_0001/view_002/depth.npy", "image_0001/view_002/pose.json", "image_0000/grid_visualization.png"})
    EXPECT_TRUE(fs::exists(tmp.file(std::string("out/") + f))) << f;
  EXPECT_EQ(load_npy_float(tmp.file("out/image_0000/view_001/depth.npy")).sizes(), (std::vector<int64_t>{1, 16, 16}));
  // View 0 sits at azimuth 0 (on the input camera's side): its pose has no x translation; view 1 (120°) does.
  const auto p0 = load_pose_json(tmp.file("out/image_0000/view_000/pose.json"));
  const auto p1 = load_pose_json(tmp.file("out/image_0000/view_001/pose.json"));
  EXPECT_NEAR(p0.t[0], 0.0, 1e-9);
  EXPECT_GT(std::abs(p1.t[0]), 1e-3);
  CvsSourceOptions so;
  so.data_dir = tmp.file("out");
  so.image_size = 16;
  auto src = open_cvs_source(so);
  EXPECT_EQ(src->size(), 6);
  EXPECT_FALSE(src->has_dinov2_features());
  EXPECT_EQ(src->load(4, 0).target_depth.sizes(), (std::vector<int64_t>{1, 16, 16}));
  // A rerun skips finished images (their files stay untouched).
  const auto before = fs::last_write_time(tmp.file("out/image_0001/view_000/rgb.png"));
  EXPECT_EQ(generate_bootstrap_data(o), 2);
  EXPECT_EQ(fs::last_write_time(tmp.file("out/image_0001/view_000/rgb.png")), before);
}

TEST(CvsBootstrap, BadInputNamesTheFile) {
  fresnel::test::TempDir tmp;
  BootstrapOptions o;
  o.input_dir = tmp.file("missing");
  o.decoder_checkpoint = tmp.file("dec.pt");
  o.output_dir = tmp.file("out");
  try {
    generate_bootstrap_data(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos);
  }
  fs::create_directories(tmp.file("in"));
  save_image(tmp.file("in/a.png"), torch::rand({8, 8, 3}));
  o.input_dir = tmp.file("in");
  try {
    generate_bootstrap_data(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dec.pt"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(tmp.file("out")));
}
