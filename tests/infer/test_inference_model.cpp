// InferenceModel: a checkpoint written by `fresnel train` loads, predicts like the model that was saved, and
// reports a bad file by name.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "core/error.hpp"
#include "infer/inference_model.hpp"
#include "infer_test_support.hpp"
#include "testutil/testutil.hpp"
#include "train/checkpoint.hpp"

using namespace fresnel;
using namespace fresnel::infer;

TEST(InferenceModel, LoadsACheckpointAndPredictsLikeTheSavedModel) {
  torch::set_num_threads(1);
  test::TempDir dir;
  const std::string path = test::save_tiny_checkpoint(dir, "builtin", 8);
  auto m = InferenceModel::load(path);
  EXPECT_EQ(m.config().decoder.feature_dim, 8);
  EXPECT_FALSE(m.needs_features());
  torch::manual_seed(7);
  const auto img = torch::rand({3, 24, 24});
  const auto p = m.predict(img);
  EXPECT_EQ(p.gaussians.count(), 37 * 37 * 2);
  p.gaussians.validate("prediction");
  // The same weights loaded the trainer's way: identical predictions.
  InferenceModel same(train::load_model(path));
  const auto q = same.predict(img);
  EXPECT_TRUE(torch::allclose(p.gaussians.means, q.gaussians.means, 1e-6, 1e-6));
  const auto cam = m.input_camera(48, 48);
  EXPECT_DOUBLE_EQ(cam.fx, 0.8 * 48);
  EXPECT_DOUBLE_EQ(cam.cx, 24.0);
}

TEST(InferenceModel, BadCheckpointsNameTheFile) {
  test::TempDir dir;
  const std::string bad = dir.file("bad.pt");
  { std::ofstream(bad) << "not a checkpoint"; }
  try {
    InferenceModel::load(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.pt"), std::string::npos) << e.what();
  }
  EXPECT_THROW(InferenceModel::load(dir.file("missing.pt")), Error);
}
