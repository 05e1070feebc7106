#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "core/error.hpp"
#include "core/image_io.hpp"
#include "core/safetensors.hpp"
#include "data/synth_dataset.hpp"
#include "decode/pixel_aligned.hpp"
#include "evaluate/baselines.hpp"
#include "metrics/lpips.hpp"
#include "render/render.hpp"
#include "testutil/testutil.hpp"
#include "train/checkpoint.hpp"
#include "train/trainer.hpp"

using namespace fresnel;
using namespace fresnel::train;
namespace fs = std::filesystem;

namespace {

// In-memory samples: a coloured square at metric depth 2.5 on a black background. `nan_index` poisons one image.
class ToySource : public SampleSource {
 public:
  ToySource(int n, int size, int nan_index = -1) : n_(n), size_(size), nan_(nan_index) {}
  int64_t size() const override { return n_; }
  decode::DepthMode depth_mode() const override { return decode::DepthMode::Metric; }
  std::string describe() const override { return "toy"; }
  Sample load(int64_t i, uint64_t seed) const override {
    Sample s;
    s.name = "toy" + std::to_string(i);
    const int S = size_, a = S / 4, b = 3 * S / 4;
    s.image = torch::zeros({3, S, S});
    s.image.narrow(1, a, b - a).narrow(2, a, b - a).select(0, i % 3).fill_(0.9);
    s.image.narrow(1, a, b - a).narrow(2, a, S / 2 - a).select(0, (i + 1) % 3).fill_(0.6);
    if (static_cast<int>(i) == nan_) s.image[0][0][0] = std::numeric_limits<float>::quiet_NaN();
    s.depth = torch::zeros({1, S, S});
    s.depth.narrow(1, a, b - a).narrow(2, a, b - a).fill_(2.5);
    s.mask = (s.depth > 0).to(torch::kFloat32);
    s.intrinsics = torch::tensor({0.8f, 0.8f, 0.5f, 0.5f});
    return s;
  }

 private:
  int n_, size_, nan_;
};

TrainConfig tiny_config(const std::string& out, int64_t epochs) {
  TrainConfig c;
  c.model.kind = decode::DecoderKind::DirectPatch;
  c.model.encoder = "builtin";
  c.model.decoder.feature_dim = 8;
  c.model.decoder.hidden = {16};
  c.model.decoder.gaussians_per_patch = 1;
  c.model.decoder.dropout = 0.1;
  c.model.depth_mode = "metric";
  c.model.image_size = 24;
  c.image_size = 24;
  c.hfts.image_size = 24;
  c.hfts.base_k = 1;
  c.hfts.epochs = epochs;
  c.loop.epochs = epochs;
  c.batch_size = 2;
  c.loop.lr = 3e-3;
  c.loop.output_dir = out;
  c.num_workers = 2;
  c.loop.progress = false;
  c.loop.write_plot = true;
  c.loop.save_interval = 1;
  c.loop.seed = 5;
  return c;
}

// A `fresnel synth` set of `objects` objects with 3 other views each, all in the train split.
void write_train_only_synth(const std::string& dir, int64_t objects, int size) {
  synth::SynthOptions so;
  so.out_dir = dir;
  so.objects = objects;
  so.views = 3;
  so.image_size = size;
  so.supersample = 1;
  so.split = {1.0, 0.0, 0.0};
  synth::generate_dataset(so);
}

}  // namespace

TEST(Trainer, OverfitsOneImage) {
  torch::set_num_threads(1);
  test::TempDir dir;
  auto c = tiny_config(dir.path(), 80);
  c.batch_size = 1;
  c.loop.lr = 5e-3;
  c.model.decoder.dropout = 0.0;
  c.model.decoder.feature_dim = 16;
  c.model.decoder.hidden = {32};
  c.augment = false;
  // The threshold is on the photometric L1 term (a mean absolute pixel error).
  c.loss.ssim_weight = 0;
  c.loss.depth_weight = 0;
  c.loss.depth_head_weight = 1;  // the decoder sees the predicted depth: keep the head supervised
  c.loop.save_interval = 1000;
  c.loop.write_plot = false;
  Trainer t(c, std::make_unique<ToySource>(1, 24));
  t.run();
  const auto& steps = t.steps();
  ASSERT_EQ(steps.size(), 80u);
  const double first = steps.front().terms.at("rgb"), last = steps.back().terms.at("rgb");
  std::cout << "overfit rgb:";
  for (size_t i = 0; i < steps.size(); i += 10) std::cout << " " << steps[i].terms.at("rgb");
  std::cout << " last " << last << "\n";
  EXPECT_LT(last, 0.25 * first) << "first " << first << " last " << last;
  EXPECT_LT(last, 0.1);
}

TEST(Trainer, ResumeEqualsUninterrupted) {
  torch::set_num_threads(1);
  test::TempDir a, b;
  auto ca = tiny_config(a.path(), 4);
  std::vector<double> full;
  {
    Trainer t(ca, std::make_unique<ToySource>(4, 24));
    t.run();
    for (auto& s : t.steps()) full.push_back(s.total);
  }
  auto cb = tiny_config(b.path(), 4);
  cb.loop.stop_after_epoch = 2;
  std::vector<double> resumed;
  {
    Trainer t(cb, std::make_unique<ToySource>(4, 24));
    t.run();
    for (auto& s : t.steps()) resumed.push_back(s.total);
  }
  ASSERT_TRUE(fs::exists(fs::path(b.path()) / checkpoint_name(2, 2)));
  auto cr = tiny_config(b.path(), 4);
  cr.loop.resume = (fs::path(b.path()) / checkpoint_name(2, 2)).string();
  cr.loop.seed = 5;
  {
    Trainer t(cr, std::make_unique<ToySource>(4, 24));
    EXPECT_EQ(t.state().epochs_done, 2);
    t.run();
    for (auto& s : t.steps()) resumed.push_back(s.total);
  }
  ASSERT_EQ(full.size(), resumed.size());
  for (size_t i = 0; i < full.size(); ++i) EXPECT_NEAR(full[i], resumed[i], 1e-6) << "step " << i;
  // History and plot written.
  EXPECT_TRUE(fs::exists(fs::path(a.path()) / "training_history_exp2.json"));
  EXPECT_TRUE(fs::exists(fs::path(a.path()) / "training_history_exp2.csv"));
  EXPECT_TRUE(fs::exists(fs::path(a.path()) / "training_metrics_exp2.png"));
  EXPECT_TRUE(fs::exists(fs::path(a.path()) / best_checkpoint_name(2)));
}

TEST(Trainer, ItsCheckpointRebuildsTheSameModel) {
  torch::set_num_threads(1);
  test::TempDir dir;
  Trainer t(tiny_config(dir.path(), 1), std::make_unique<ToySource>(2, 24));
  t.run();
  auto loaded = load_model((fs::path(dir.path()) / checkpoint_name(2, 1)).string());
  auto trained = t.model();
  trained->eval();
  ModelInputs in;
  in.images = ToySource(1, 24).load(0, 0).image.unsqueeze(0);
  torch::NoGradGuard ng;
  auto a = trained->forward(in).decoded.gaussians, b = loaded->forward(in).decoded.gaussians;
  EXPECT_TRUE(torch::equal(a.means, b.means));
  EXPECT_TRUE(torch::equal(a.colors, b.colors));
  EXPECT_EQ(read_model_config((fs::path(dir.path()) / best_checkpoint_name(2)).string()).to_json(),
            trained->config().to_json());
}

TEST(Trainer, ResumingAnotherModelNamesTheConfigDifference) {
  torch::set_num_threads(1);
  test::TempDir dir;
  Trainer(tiny_config(dir.path(), 1), std::make_unique<ToySource>(2, 24)).run();
  auto c = tiny_config(dir.path(), 2);
  c.model.decoder.feature_dim = 12;  // its weights would not fit: the config check must speak first
  c.loop.resume = (fs::path(dir.path()) / checkpoint_name(2, 1)).string();
  try {
    Trainer t(c, std::make_unique<ToySource>(2, 24));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model config differs"), std::string::npos) << e.what();
  }
}

TEST(Trainer, NanBatchIsSkippedAndCounted) {
  torch::set_num_threads(1);
  test::TempDir dir;
  auto c = tiny_config(dir.path(), 1);
  c.batch_size = 1;
  c.loop.save_interval = 1000;
  Trainer t(c, std::make_unique<ToySource>(3, 24, /*nan_index=*/1));
  const auto& st = t.run();
  EXPECT_EQ(st.skipped_batches, 1);
  int skipped = 0;
  for (auto& s : t.steps()) skipped += s.skipped;
  EXPECT_EQ(skipped, 1);
  for (auto& p : t.model()->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
}

TEST(TrainingData, MultiViewSourceLoadsViewsRelativeToTheInputCamera) {
  test::TempDir dir;
  write_train_only_synth(dir.path(), 3, 24);
  SourceOptions o;
  o.data_dir = dir.path();
  o.image_size = 16;
  o.load_features = false;
  o.novel_views = 2;
  auto src = open_source(o);
  ASSERT_EQ(src->size(), 3);
  EXPECT_EQ(src->depth_mode(), decode::DepthMode::Metric);
  EXPECT_TRUE(src->has_extra_views());
  auto s = src->load(1, 42);
  EXPECT_EQ(s.image.sizes(), (std::vector<int64_t>{3, 16, 16}));
  EXPECT_EQ(s.depth.sizes(), (std::vector<int64_t>{1, 16, 16}));
  ASSERT_EQ(s.views.size(), 2u);
  EXPECT_EQ(s.views[0].camera.width, 16);
  // Same seed, same views and jitter; the input camera is the identity frame so other views are not.
  auto again = src->load(1, 42);
  EXPECT_TRUE(torch::equal(s.views[1].rgb, again.views[1].rgb));
  EXPECT_GT(std::abs(s.views[0].camera.world_to_camera[3]) + std::abs(s.views[0].camera.world_to_camera[11]), 1e-6);
  // Batches stack the views.
  auto b = collate({s, again});
  EXPECT_EQ(b.view_images.sizes(), (std::vector<int64_t>{2, 2, 3, 16, 16}));
  ASSERT_TRUE(b.view_depths.defined());  // the views' depth maps, for --depth_all_views
  EXPECT_EQ(b.view_depths.sizes(), (std::vector<int64_t>{2, 2, 1, 16, 16}));
  EXPECT_TRUE(torch::equal(b.view_depths[0][1], s.views[1].depth));
  // Asking for more views than the dataset has is a usage error.
  o.novel_views = 5;
  EXPECT_THROW(open_source(o), UsageError);
}

TEST(TrainingData, SingleViewLayoutErrorsNameTheFile) {
  test::TempDir dir;
  SourceOptions o;
  o.data_dir = dir.path();
  EXPECT_THROW(open_source(o), Error);  // no images
  auto img = torch::rand({8, 8, 3});
  save_image(dir.file("a.png"), img);
  o.image_size = 8;
  auto src = open_source(o);
  try {
    src->load(0, 0);
    FAIL() << "expected a missing-features error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a_dinov2.bin"), std::string::npos) << e.what();
  }
}

TEST(Geometry, DecoderGaussiansRenderOntoTheirPixels) {
  // Zero raw outputs put Gaussian (i,j) on the ray through patch centre (i,j); give each the colour of an image
  // pattern at that patch and render with the input camera: the render must reproduce the pattern (not flipped).
  decode::DirectPatchDecoderOptions o;
  o.feature_dim = 4;
  o.hidden = {8};
  o.gaussians_per_patch = 1;
  o.depth_mode = decode::DepthMode::Metric;
  decode::DirectPatchDecoder dec(o);
  {
    torch::NoGradGuard ng;
    auto ps = dec->mlp->parameters();
    ps.back().zero_();
    ps[ps.size() - 2].zero_();
  }
  decode::DecoderInputs in;
  in.features = torch::zeros({1, 4, 37, 37});
  in.depth = torch::full({1, 1, 74, 74}, 2.5);
  auto g = dec->forward(in).gaussians.batch(0).detach();
  const int R = 37;
  auto ii = torch::arange(R).view({R, 1}).expand({R, R}), jj = torch::arange(R).view({1, R}).expand({R, R});
  auto pattern = torch::stack({(jj < 10).to(torch::kFloat), (ii < 8).to(torch::kFloat), torch::zeros({R, R})}, -1);
  g.colors = pattern.reshape({-1, 3});
  g.opacities = torch::ones({R * R}) * 0.99;
  g.scales = torch::full({R * R, 3}, 2.5 / (0.8 * R) * 0.5);  // half a pixel
  Camera cam;
  cam.fx = cam.fy = 0.8 * R;
  cam.cx = cam.cy = R / 2.0;
  cam.width = cam.height = R;
  auto img = render(g, {cam}).rgb[0];  // (R,R,3)
  EXPECT_LT((img - pattern).abs().mean().item<float>(), 0.05);
  // Top-left is red+green, bottom-right is black: no vertical or horizontal flip.
  EXPECT_GT(img[2][2][0].item<float>(), 0.8);
  EXPECT_GT(img[2][2][1].item<float>(), 0.8);
  EXPECT_LT(img[30][30][0].item<float>(), 0.2);
}

TEST(PixelAligned, UntrainedModelWithDataDepthReproducesTheInputView) {
  // The built-in encoder on its fine grid + the pixel-aligned decoder, placing Gaussians with the given depth:
  // before any training it renders the input view like the unprojected-pixels baseline.
  torch::manual_seed(4);
  ModelConfig mc;
  mc.kind = decode::DecoderKind::DirectPatch;
  mc.encoder = "builtin";
  mc.decoder.feature_dim = 8;
  mc.decoder.hidden = {16};
  mc.decoder.gaussians_per_patch = 2;
  mc.decoder.dropout = 0.0;
  mc.depth_mode = "metric";
  mc.image_size = 24;
  mc.decoder.pixel_aligned = true;
  mc.feature_grid = 24;
  mc.decoder_depth = "data";
  FresnelModel model(mc);
  model->eval();
  auto s = ToySource(3, 24).load(1, 0);
  ModelInputs in;
  in.images = s.image.unsqueeze(0);
  in.depth = s.depth.unsqueeze(0);
  torch::NoGradGuard ng;
  auto out = model->forward(in);
  ASSERT_EQ(out.decoded.gaussians.means.size(1), 24 * 24 * 2);
  EXPECT_TRUE(torch::equal(out.depth_used, in.depth));  // the data depth, not the untrained depth head's
  Camera cam;
  cam.fx = cam.fy = 0.8 * 24;
  cam.cx = cam.cy = 12;
  cam.width = cam.height = 24;
  auto img = render(out.decoded.gaussians.batch(0), {cam}).rgb[0].permute({2, 0, 1});
  auto psnr = [&](const torch::Tensor& x) { return -10.0 * std::log10((x - s.image).pow(2).mean().item<double>()); };
  ViewData view;
  view.rgb = s.image.permute({1, 2, 0});
  view.depth = s.depth[0];
  view.mask = s.mask[0];
  view.camera = cam;
  // Slot 0 alone is the unprojected-pixels baseline with the same footprint; the faint hidden slots (behind the
  // surface, free to learn what the input view hides) cost little.
  auto base = render(unprojected_gaussians(view, decode::kPixelScaleFactor), {cam}).rgb[0].permute({2, 0, 1});
  const auto& g = out.decoded.gaussians;
  auto slot0 = [&](const torch::Tensor& t) { return t[0].view({24 * 24, 2, -1}).select(1, 0).squeeze(-1); };
  Gaussians front;
  front.means = slot0(g.means);
  front.quats = slot0(g.quats);
  front.scales = slot0(g.scales);
  front.colors = slot0(g.colors);
  front.opacities = slot0(g.opacities.unsqueeze(-1));
  auto img0 = render(front, {cam}).rgb[0].permute({2, 0, 1});
  std::cout << "untrained pixel-aligned: slot 0 " << psnr(img0) << " dB, all slots " << psnr(img)
            << " dB, unprojected baseline " << psnr(base) << " dB\n";
  EXPECT_GT(psnr(img0), psnr(base) - 0.1);
  EXPECT_GT(psnr(img), psnr(base) - 3.0);
  // With predicted depth (the default) the decoder sees the depth head instead.
  mc.decoder_depth = "predicted";
  FresnelModel model2(mc);
  auto out2 = model2->forward(in);
  EXPECT_FALSE(torch::equal(out2.depth_used, in.depth));
}

TEST(ModelConfigJson, PixelAlignedFieldsRoundTripAndOldConfigsKeepDefaults) {
  ModelConfig c;
  c.decoder.pixel_aligned = true;
  c.feature_grid = 128;
  c.decoder_depth = "data";
  auto back = ModelConfig::from_json(c.to_json());
  EXPECT_TRUE(back.decoder.pixel_aligned);
  EXPECT_EQ(back.feature_grid, 128);
  EXPECT_EQ(back.decoder_depth, "data");
  auto j = c.to_json();
  j.erase("pixel_aligned");
  j.erase("feature_grid");
  j.erase("decoder_depth");
  auto old = ModelConfig::from_json(j);  // checkpoints written before these fields existed
  EXPECT_FALSE(old.decoder.pixel_aligned);
  EXPECT_EQ(old.feature_grid, 37);
  EXPECT_EQ(old.decoder_depth, "predicted");
  auto bad = c.to_json();
  bad["decoder_depth"] = "guess";
  EXPECT_THROW(ModelConfig::from_json(bad), Error);
}

TEST(Trainer, LpipsTermUsesTheGivenWeightsAndNeedsThem) {
  torch::set_num_threads(1);
  test::TempDir dir;
  // Random LPIPS weights under the official names (lin weights ≥ 0), as a user-supplied file would hold.
  torch::manual_seed(9);
  std::map<std::string, torch::Tensor> w;
  for (const auto& [name, shape] : Lpips::expected_tensors(LpipsNet::Alex)) w[name] = torch::rand(shape) * 0.05;
  const auto weights = dir.file("lpips_alex.safetensors");
  save_safetensors(weights, w);
  auto c = tiny_config(dir.file("run"), 1);
  c.image_size = c.model.image_size = c.hfts.image_size = 64;  // AlexNet's pooling needs ≥ ~48 px
  c.loss.lpips_weight = 0.5;
  c.loop.write_plot = false;
  EXPECT_THROW(Trainer(c, std::make_unique<ToySource>(2, 64)), UsageError);  // no weights file: a clear error
  c.lpips_weights = weights;
  Trainer t(c, std::make_unique<ToySource>(2, 64));
  t.run();
  ASSERT_FALSE(t.steps().empty());
  for (const auto& s : t.steps()) {
    ASSERT_TRUE(s.terms.count("lpips")) << "the LPIPS term is part of the loss";
    EXPECT_TRUE(std::isfinite(s.terms.at("lpips")));
    EXPECT_GT(s.terms.at("lpips"), 0.0);
  }
  c.lpips_weights = dir.file("absent.safetensors");
  try {
    Trainer bad(c, std::make_unique<ToySource>(2, 64));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.safetensors"), std::string::npos) << e.what();
  }
}

TEST(Trainer, DepthAllViewsSupervisesTheDepthHeadOnEveryLoadedView) {
  // --depth_all_views: the depth-head term becomes the masked L1 over the input view and the other views together
  // (each view through the encoder); without it only the input view counts.
  test::TempDir dir;
  write_train_only_synth(dir.path(), 2, 16);
  auto config = tiny_config((fs::path(dir.path()) / "ck").string(), 1);
  config.data_dir = dir.path();
  config.image_size = config.model.image_size = config.hfts.image_size = 16;
  config.novel_views = 2;
  config.augment = false;
  SourceOptions o;
  o.data_dir = dir.path();
  o.image_size = 16;
  o.load_features = false;
  o.novel_views = 2;
  o.augment = false;
  auto batch = collate({open_source(o)->load(0, 1), open_source(o)->load(1, 1)});
  HftsStep step{16, 1, 0, true};
  auto depth_term = [&](bool all_views) {
    auto c = config;
    c.loss.depth_all_views = all_views;
    torch::manual_seed(9);
    Trainer trainer(c, open_source(o));
    torch::NoGradGuard ng;
    return std::make_pair(trainer.batch_losses(batch, step).terms.at("depth_head").item<double>(), trainer.model());
  };
  auto [input_only, model] = depth_term(false);
  auto [all, same_model] = depth_term(true);
  // The expected value from the (same, seeded) encoder on every view.
  torch::NoGradGuard ng;
  auto images = torch::cat({batch.images, batch.view_images.flatten(0, 1)});
  auto target = torch::cat({batch.depth, batch.view_depths.flatten(0, 1)});
  auto masks = torch::cat({batch.mask, batch.view_masks.flatten(0, 1)});
  auto valid = ((target > 0) & (masks > 0.5)).to(torch::kFloat32);
  auto predicted = same_model->encoder->forward(images).depth;
  const double expected = ((predicted - target).abs() * valid).sum().item<double>() / valid.sum().item<double>();
  EXPECT_NEAR(all, expected, 1e-4 * expected);
  EXPECT_GT(std::abs(all - input_only), 1e-6);
}
