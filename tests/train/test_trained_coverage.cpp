// Issue 18 "no dots at any display resolution", on a model that was actually trained: a tiny pixel-aligned model
// trained for a few seconds with train --antialias (3D filter with opacity compensation, 2D Mip filter) covers
// its object when rendered at 2× the training resolution: no pixel inside the object mask with α < 0.5.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "render/render.hpp"
#include "testutil/testutil.hpp"
#include "train/trainer.hpp"

using namespace fresnel;
using namespace fresnel::train;

namespace {

constexpr int kSize = 16;

// One object: a shaded disc (radius 6 px) at metric depth 2.5 on black, with its mask.
class DiscSource : public SampleSource {
 public:
  int64_t size() const override { return 1; }
  decode::DepthMode depth_mode() const override { return decode::DepthMode::Metric; }
  std::string describe() const override { return "disc"; }
  Sample load(int64_t, uint64_t) const override {
    Sample s;
    s.name = "disc";
    s.mask = disc_mask(kSize).unsqueeze(0);
    const auto ramp = torch::linspace(0.3, 0.9, kSize);
    s.image = torch::stack({ramp.view({1, -1}).expand({kSize, kSize}), ramp.view({-1, 1}).expand({kSize, kSize}),
                            torch::full({kSize, kSize}, 0.5)}) *
              s.mask;
    s.depth = s.mask * 2.5;
    s.intrinsics = torch::tensor({0.8f, 0.8f, 0.5f, 0.5f});
    return s;
  }
  // Pixels of a size² image whose centre lies within radius_frac·size of the image centre.
  static torch::Tensor disc_mask(int size, double radius_frac = 6.0 / kSize) {
    const auto c = torch::arange(size, torch::kFloat32) + 0.5 - size / 2.0;
    const auto r2 = c.view({-1, 1}).square() + c.view({1, -1}).square();
    return (r2 <= std::pow(radius_frac * size, 2)).to(torch::kFloat32);
  }
};

// Trains the tiny model for 60 steps (a few seconds), with or without what train --antialias 0.2 sets
// (tests/cli/test_train_flags.cpp checks the flag's resolution), and returns its α at 1×, 2×, 4× of the training
// size, rendered from the input camera with the model's own screen filter.
struct TrainedAlpha {
  torch::Tensor at[3];
  ScreenFilter filter;
};
TrainedAlpha train_and_render(bool antialias) {
  torch::set_num_threads(1);
  test::TempDir dir;
  TrainConfig c;
  c.model.kind = decode::DecoderKind::DirectPatch;
  c.model.encoder = "builtin";
  c.model.decoder.feature_dim = 16;
  c.model.decoder.hidden = {32};
  c.model.decoder.gaussians_per_patch = 1;
  c.model.decoder.dropout = 0.0;
  c.model.decoder.pixel_aligned = true;
  c.model.feature_grid = kSize;
  c.model.depth_mode = "metric";
  c.model.image_size = c.image_size = c.hfts.image_size = kSize;
  if (antialias) {
    c.model.smoothing_variance_px2 = 0.2;
    c.model.smoothing_compensates_opacity = true;
    c.model.mip_filter_px2 = 0.1;
  }
  c.hfts.base_k = 1;
  c.hfts.epochs = c.loop.epochs = 60;
  c.batch_size = 1;
  c.loop.lr = 5e-3;
  c.loop.output_dir = dir.path();
  c.loop.progress = false;
  c.loop.write_plot = false;
  c.loop.save_interval = 1000;
  c.loop.seed = 3;
  c.augment = false;
  c.loss.depth_head_weight = 1;
  Trainer t(c, std::make_unique<DiscSource>());
  t.run();

  FresnelModel model = t.model();
  model->eval();
  const Sample s = DiscSource().load(0, 0);
  ModelInputs in;
  in.images = s.image.unsqueeze(0);
  torch::NoGradGuard ng;
  const Gaussians g = model->forward(in).decoded.gaussians.batch(0);
  TrainedAlpha out;
  RenderOptions ro;
  ro.screen_filter = out.filter = model->config().screen_filter();
  for (int i = 0; i < 3; ++i) {
    const int k = 1 << i;
    Camera cam;
    cam.width = cam.height = k * kSize;
    cam.fx = cam.fy = 0.8 * k * kSize;
    cam.cx = cam.cy = k * kSize / 2.0;
    out.at[i] = render(g, {cam}, ro).alpha[0];
  }
  return out;
}

// The object's pixels one pixel (of the training size) inside its silhouette, at k× (edges are soft by design).
torch::Tensor inside(int k) { return DiscSource::disc_mask(k * kSize, 5.0 / kSize) > 0.5; }
int64_t holes(const torch::Tensor& alpha, int k) {
  return (alpha.masked_select(inside(k)) < 0.5).sum().item<int64_t>();
}

}  // namespace

TEST(AntiAliasing, ATrainedTinyModelCoversItsObjectAt2xWithTheFilters) {
  const TrainedAlpha aa = train_and_render(true);
  ASSERT_TRUE(aa.filter.is_mip());
  std::cout << "trained tiny model, --antialias: min alpha inside the object 1x "
            << aa.at[0].masked_select(inside(1)).min().item<double>() << ", 2x "
            << aa.at[1].masked_select(inside(2)).min().item<double>() << ", 4x "
            << aa.at[2].masked_select(inside(4)).min().item<double>() << "\n";
  EXPECT_EQ(holes(aa.at[0], 1), 0) << "covered at the training size";
  EXPECT_EQ(holes(aa.at[1], 2), 0) << "no pixel inside the object with alpha < 0.5 at 2x";
  EXPECT_EQ(holes(aa.at[2], 4), 0) << "nor at 4x";
  // And it learnt the object: outside the disc its 1x alpha stays mostly clear.
  EXPECT_LT(aa.at[0].masked_select(DiscSource::disc_mask(kSize, 7.5 / kSize) < 0.5).mean().item<double>(), 0.3);
  // The same training without the filters leaves dots: holes inside the object at 4× (measured: 3 at 2×, 824 at 4×).
  const TrainedAlpha plain = train_and_render(false);
  std::cout << "without: holes at 1x " << holes(plain.at[0], 1) << ", 2x " << holes(plain.at[1], 2) << ", 4x "
            << holes(plain.at[2], 4) << "\n";
  EXPECT_GT(holes(plain.at[2], 4), 0) << "the contrast: without the filters the trained model falls apart at 4x";
}
