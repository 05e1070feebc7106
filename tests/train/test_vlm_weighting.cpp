// VLM-weighted L1 end to end on a known density: `{stem}_vlm_density.npy` as preprocess writes it → the single-view
// source (0.5 + density) → vlm_pixel_weights → compute_losses' "rgb" term, which must equal
// mean(|r − t| · w) with w = (1 − vlm_weight) + vlm_weight·(0.5 + density) (fresnel_spec.md §6.5).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/image_io.hpp"
#include "core/npy.hpp"
#include "testutil/testutil.hpp"
#include "train/losses.hpp"
#include "train/training_data.hpp"

namespace fresnel::train {
namespace {

TEST(VlmWeighting, WeightedL1EqualsTheFormulaOnAKnownDensity) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("features"));
  torch::manual_seed(5);
  save_image(dir.file("a.png"), torch::rand({8, 8, 3}));
  // A known 8×8 density: 0 on the left half, 1 on the right half, 0.25 on the top row.
  auto density = torch::zeros({8, 8});
  density.index_put_({torch::indexing::Slice(), torch::indexing::Slice(4, 8)}, 1.0);
  density.index_put_({0}, 0.25);
  save_npy(dir.file("features/a_vlm_density.npy"), density);

  SourceOptions so;
  so.data_dir = dir.path();
  so.image_size = 8;  // same size as the grid: the loaded density is 0.5 + grid exactly
  so.load_features = false;
  so.augment = false;
  const auto source = open_source(so);
  const Batch batch = collate({source->load(0, 1)});
  ASSERT_TRUE(batch.vlm_density.defined());
  EXPECT_LT((batch.vlm_density - (0.5 + density).view({1, 1, 8, 8})).abs().max().item<double>(), 1e-6);

  const double vlm_weight = 0.3;
  LossConfig config;
  config.use_vlm = true;
  config.vlm_weight = vlm_weight;
  config.rgb_weight = 1.0;
  LossInputs in;
  in.target = batch.images;
  in.rendered = torch::rand({1, 3, 8, 8});
  in.pixel_weights = vlm_pixel_weights(batch.vlm_density, config.vlm_weight);  // as the trainer does
  const auto terms = compute_losses(config, in);

  double expected = 0;
  auto r = in.rendered.accessor<float, 4>();
  auto t = in.target.accessor<float, 4>();
  auto d = density.accessor<float, 2>();
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x)
        expected += std::abs(r[0][c][y][x] - t[0][c][y][x]) * ((1 - vlm_weight) + vlm_weight * (0.5 + d[y][x]));
  expected /= 3 * 8 * 8;
  EXPECT_NEAR(terms.terms.at("rgb").item<double>(), expected, 1e-6);
  // And it differs from the unweighted L1 (the weighting does something).
  EXPECT_GT(std::abs(terms.terms.at("rgb").item<double>() - pixel_l1_loss(in.rendered, in.target).item<double>()),
            1e-4);
}

}  // namespace
}  // namespace fresnel::train
