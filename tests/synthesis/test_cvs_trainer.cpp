// `cvs train` as a task of the shared loop: resume equals an uninterrupted run, validation, checkpoints.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/error.hpp"
#include "cvs_test_data.hpp"
#include "synthesis/cvs_generate.hpp"
#include "synthesis/cvs_trainer.hpp"
#include "testutil/testutil.hpp"
#include "train/checkpoint.hpp"
#include "train/history.hpp"

using namespace fresnel;
using namespace fresnel::synthesis;
namespace fs = std::filesystem;

namespace {
CvsTrainConfig tiny_run(const std::string& data, const std::string& out) {
  CvsTrainConfig c;
  c.model = cvs_test::tiny_config();
  c.data_dir = data;
  c.batch_size = 2;
  c.num_workers = 2;
  c.builtin_channels = 16;
  c.warmup_epochs = 1;
  c.validate_every = 1;
  c.validate_steps = {1, 2};
  c.validate_samples = 2;
  c.loop.epochs = 2;
  c.loop.lr = 1e-3;
  c.loop.weight_decay = 0.01;
  c.loop.output_dir = out;
  c.loop.progress = false;
  c.loop.write_plot = false;
  return c;
}
// A synth dataset in tmp/data and one epoch of training into tmp/out (cvs_epoch1.pt); returns its config.
CvsTrainConfig train_one_epoch(const fresnel::test::TempDir& tmp) {
  cvs_test::write_synth(tmp.file("data"), 4, 2, 16);
  auto c = tiny_run(tmp.file("data"), tmp.file("out"));
  c.loop.epochs = 1;
  c.validate_every = 0;
  CvsTrainer(c).run();
  return c;
}
double max_param_diff(ConsistencyViewSynthesizer a, ConsistencyViewSynthesizer b) {
  double m = 0;
  auto pb = b->named_parameters();
  for (const auto& p : a->named_parameters()) m = std::max(m, fresnel::test::max_abs_diff(p.value(), pb[p.key()]));
  return m;
}
}  // namespace

TEST(CvsTrainer, ResumeEqualsUninterrupted) {
  fresnel::test::TempDir tmp;
  cvs_test::write_synth(tmp.file("data"), 4, 2, 16);
  for (bool quality : {false, true}) {
    auto full_cfg = tiny_run(tmp.file("data"), tmp.file(quality ? "full_q" : "full"));
    full_cfg.loss.use_gaussian_targets = quality;
    full_cfg.loss.lambda_boundary = quality ? 0.5 : 0.0;
    CvsTrainer full(full_cfg);
    EXPECT_NE(full.describe().find("built-in encoder"), std::string::npos);
    full.run();
    auto half_cfg = full_cfg;
    half_cfg.loop.output_dir = tmp.file(quality ? "half_q" : "half");
    half_cfg.loop.stop_after_epoch = 1;
    {
      CvsTrainer first(half_cfg);
      first.run();
    }
    half_cfg.loop.stop_after_epoch = 0;
    half_cfg.loop.resume = (fs::path(half_cfg.loop.output_dir) / "cvs_epoch1.pt").string();
    CvsTrainer resumed(half_cfg);
    EXPECT_EQ(resumed.loop().state().epochs_done, 1);
    resumed.run();
    EXPECT_LT(max_param_diff(full.model(), resumed.model()), 1e-6) << quality;
    // The EMA too.
    for (const auto& [k, v] : full.loop().ema())
      EXPECT_LT(fresnel::test::max_abs_diff(v, resumed.loop().ema().at(k)), 1e-6);
    // The history holds the loss terms and the validation PSNR of each step count.
    const auto& h = full.loop().state().history;
    EXPECT_TRUE(h.contains(quality ? "l1_weighted" : "l1"));
    EXPECT_TRUE(h.contains("consistency"));
    EXPECT_TRUE(h.contains("val_psnr_1step"));
    EXPECT_TRUE(h.contains("val_psnr_2step"));
    EXPECT_TRUE(std::isfinite(h["val_psnr_1step"][1].get<double>()));
    EXPECT_TRUE(train::is_epoch_info_key("val_psnr_1step"));  // a metric, not plotted as a loss
    EXPECT_FALSE(train::is_epoch_info_key("l1"));
  }
}

TEST(CvsTrainer, TrainingReducesTheLossOnOnePair) {
  fresnel::test::TempDir tmp;
  cvs_test::write_synth(tmp.file("data"), 4, 2, 16);
  auto c = tiny_run(tmp.file("data"), tmp.file("out"));
  c.loss.lambda_perceptual = 0;
  c.loss.lambda_consistency = 0;
  c.validate_every = 0;
  c.warmup_epochs = 0;
  c.loop.epochs = 30;
  c.max_images = 1;  // 2 pairs = 1 batch per epoch
  CvsTrainer t(c);
  t.run();
  const auto& l1 = t.loop().state().history["l1"];
  EXPECT_LT(l1[29].get<double>(), 0.7 * l1[0].get<double>());
}

TEST(CvsTrainer, ResumeOfAnotherConfigOrKindIsRefused) {
  fresnel::test::TempDir tmp;
  const auto c = train_one_epoch(tmp);
  const auto ckpt = tmp.file("out/cvs_epoch1.pt");
  auto other = c;
  other.model.base_channels = 64;
  other.loop.resume = ckpt;
  EXPECT_THROW(CvsTrainer{other}, Error);
  // A decoder checkpoint is not a CVS checkpoint: one error naming the file.
  auto dec = train::FresnelModel(train::ModelConfig{});
  train::save_checkpoint(tmp.file("decoder.pt"), dec, nullptr, train::TrainingState{});
  try {
    load_cvs_model(tmp.file("decoder.pt"));
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("decoder.pt"), std::string::npos) << m;
    EXPECT_NE(m.find("not a CVS checkpoint"), std::string::npos) << m;
  }
  // The CVS checkpoint loads with its EMA weights.
  auto m = load_cvs_model(ckpt);
  EXPECT_EQ(m->config().image_size, 16);
  EXPECT_TRUE(m->config().builtin_encoder);
}

TEST(CvsGenerate, WritesViewsCamerasAndFittedGaussians) {
  fresnel::test::TempDir tmp;
  const auto c = train_one_epoch(tmp);
  GenerateOptions g;
  g.image = tmp.file("data/images/obj_00000.png");
  g.checkpoint = tmp.file("out/cvs_epoch1.pt");
  g.out_dir = tmp.file("gen");
  g.cameras.num_views = 3;
  g.num_steps = 2;
  g.seed = 4;
  g.optimize_3dgs = true;
  g.gs_iterations = 20;
  g.progress = false;
  auto r = generate_views(g);
  ASSERT_EQ(r.files.size(), 6u);  // input + 3 views + cameras.json + gaussians.ply
  for (const auto& f : r.files) EXPECT_TRUE(fs::exists(f)) << f;
  const auto cams = load_cameras_json(tmp.file("gen/cameras.json"));
  ASSERT_EQ(cams.size(), 4u);
  EXPECT_EQ(cams[0].width, 16);
  const auto a = fresnel::test::read_bytes(tmp.file("gen/view_002.png"));
  g.out_dir = tmp.file("gen2");
  g.optimize_3dgs = false;
  generate_views(g);
  EXPECT_EQ(fresnel::test::read_bytes(tmp.file("gen2/view_002.png")), a);  // same seed, same views
  // Fitting lowers the loss from the initial (unprojected) Gaussians.
  auto img = torch::rand({16, 16, 3}) * 0.5 + 0.25;
  ViewCameraOptions vo;
  vo.image_size = 16;
  vo.num_views = 2;
  auto all = generation_cameras(vo);
  auto init = unprojected_input(img, generation_input_camera(vo), vo.radius);
  auto targets = torch::stack({img, img.flip(1)});
  auto [g0, l0] = fit_gaussians(init, targets, all, 1, 0.01, false);
  auto [g1, l1] = fit_gaussians(init, targets, all, 40, 0.01, false);
  EXPECT_LT(l1, l0);
}

TEST(CvsGenerate, BadInputWritesNothing) {
  fresnel::test::TempDir tmp;
  GenerateOptions g;
  g.image = tmp.file("missing.png");
  g.checkpoint = tmp.file("missing.pt");
  g.out_dir = tmp.file("gen");
  try {
    generate_views(g);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pt"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(tmp.file("gen")));
}
