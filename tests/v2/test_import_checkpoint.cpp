// `import-checkpoint` on checkpoints written by re-creations of the original's modules with python3-torch
// (tests/v2/data/make_original_checkpoints.py, committed): the converted experiment-2 model predicts the
// original's Gaussians on the same features and depth, up to the documented convention changes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "core/error.hpp"
#include "core/torch_pt.hpp"
#include "decode/saag_decoders.hpp"
#include "testutil/testutil.hpp"
#include "train/checkpoint.hpp"
#include "v2/import_checkpoint.hpp"
#include "v2/trainer.hpp"

using namespace fresnel;

namespace {
const std::string kData = std::string(FRESNEL_SOURCE_DIR) + "/tests/v2/data/";

torch::Tensor get(const PtFile& f, const std::string& key) { return f.tensor(f.at(f.root(), key), key); }
}  // namespace

TEST(ImportCheckpoint, Experiment2PredictsTheOriginalsGaussians) {
  test::TempDir dir;
  const std::string out = dir.path() + "/decoder_exp2_imported.pt";
  auto summary = v2::import_checkpoint(kData + "orig_decoder_exp2_epoch3.pt", out);
  EXPECT_EQ(summary.original_epoch, 3);
  auto model = train::load_model(out);
  const auto& cfg = model->config();
  EXPECT_EQ(cfg.decoder.feature_dim, 8);
  EXPECT_EQ(cfg.decoder.hidden, (std::vector<int64_t>{16, 16}));
  EXPECT_TRUE(cfg.decoder.use_depth_fusion);
  EXPECT_TRUE(cfg.decoder.use_phase_output);
  EXPECT_EQ(cfg.decoder.gaussians_per_patch, 2);

  auto ref = PtFile::open(kData + "orig_decoder_exp2_outputs.pt");
  decode::DecoderInputs in;
  in.features = get(ref, "features");
  in.depth = get(ref, "depth");
  torch::NoGradGuard no_grad;
  auto g = model->forward(in).decoded.gaussians;
  // Unchanged conventions: equal.
  EXPECT_LT(test::max_abs_diff(g.scales, get(ref, "scales")), 1e-5);
  EXPECT_LT(test::max_abs_diff(g.colors, get(ref, "colors")), 1e-5);
  EXPECT_LT(test::max_abs_diff(g.opacities, get(ref, "opacities")), 1e-5);
  EXPECT_LT(test::max_abs_diff(g.phases, get(ref, "phases")), 1e-4);
  // Rotations in our axes: q' = (w, x, −y, −z) of the original's, up to the sign of q.
  auto q = get(ref, "rotations") * torch::tensor({1.f, 1.f, -1.f, -1.f});
  auto sign = (g.quats * q).sum(-1, true).sign();
  EXPECT_LT(test::max_abs_diff(g.quats * sign, q), 1e-4);
  // Positions: the same offsets from each patch centre (the original's x − grid_x = 0.25·raw = 2·(u − u_centre)),
  // and z = −depth_offset + 2·(1 − d) where the original had depth_offset − 2·d (d: depth on the grid).
  const auto pos = get(ref, "positions");  // (1, 37·37·2, 3)
  const auto d = get(ref, "depth_grid");
  const double offset = pos[0][0][2].item<double>() + 2 * d[0][0].item<double>();  // the original's depth_offset
  EXPECT_NEAR(offset, -1.5, 1e-3);                                                 // −1.5 before the optimizer step
  EXPECT_LT(test::max_abs_diff(g.means.select(-1, 2), -offset + 2 * (1 - d)), 1e-5);
  auto idx = torch::arange(37 * 37 * 2);
  auto col = idx.div(2, "floor").remainder(37), row = idx.div(74, "floor");
  auto u = 0.8 * g.means.select(-1, 0) / g.means.select(-1, 2) + 0.5;
  auto v = 0.8 * g.means.select(-1, 1) / g.means.select(-1, 2) + 0.5;
  auto orig_dx = pos.select(-1, 0) - (-1 + 2.0 * col / 36.0);
  auto orig_dy = pos.select(-1, 1) - (-1 + 2.0 * row / 36.0);
  EXPECT_LT(test::max_abs_diff(2 * (u - (col + 0.5) / 37.0), orig_dx), 1e-4);
  EXPECT_LT(test::max_abs_diff(2 * (v - (row + 0.5) / 37.0), orig_dy), 1e-4);
}

TEST(ImportCheckpoint, SaagExperimentsMapEveryParameter) {
  test::TempDir dir;
  auto s1 = v2::import_checkpoint(kData + "orig_decoder_exp1_epoch1.pt", dir.path() + "/e1.pt");
  auto m1 = train::load_model(dir.path() + "/e1.pt");
  EXPECT_EQ(m1->config().experiment(), 1);
  auto orig = PtFile::open(kData + "orig_decoder_exp1_epoch1.pt");
  const auto& sd = orig.at(orig.root(), "model_state_dict");
  auto params = m1->named_parameters();
  EXPECT_FLOAT_EQ(params["decoder.pos_scale"].item<float>(), orig.tensor(orig.at(sd, "pos_scale")).item<float>());
  // Unconjugated inputs (features, scales) are copied as they are; the SAAG position's y column is negated.
  auto w_orig = orig.tensor(orig.at(sd, "mlp.net.0.weight"));
  auto w = params["decoder.mlp.0.weight"];
  EXPECT_TRUE(torch::equal(w.narrow(1, 0, 9), w_orig.narrow(1, 0, 9)));
  EXPECT_TRUE(torch::equal(w.select(1, 9), -w_orig.select(1, 9)));
  EXPECT_EQ(s1.parameters, (22 * 256 + 256) + (256 * 128 + 128) + (128 * 16 + 16) + 4);

  v2::import_checkpoint(kData + "orig_decoder_exp3_epoch0.pt", dir.path() + "/e3.pt");
  auto m3 = train::load_model(dir.path() + "/e3.pt");
  EXPECT_EQ(m3->config().experiment(), 3);
  auto o3 = PtFile::open(kData + "orig_decoder_exp3_epoch0.pt");
  EXPECT_TRUE(torch::equal(m3->named_parameters()["decoder.head.2.bias"],
                           o3.tensor(o3.at(o3.at(o3.root(), "model_state_dict"), "net.2.bias"))));
}

TEST(ImportCheckpoint, RejectsWhatHasNoCounterpart) {
  test::TempDir dir;
  // A plain tensor file is not a checkpoint.
  save_pt(dir.path() + "/t.pt", PtValue(torch::ones({2})));
  EXPECT_THROW(v2::import_checkpoint(dir.path() + "/t.pt", dir.path() + "/o.pt"), Error);
  // Experiment 4 (Fibonacci) has no decoder here: the message says so.
  save_pt(
      dir.path() + "/e4.pt",
      PtValue::of_dict({{"model_state_dict", PtValue::of_dict({{"mlp.net.0.weight", PtValue(torch::ones({2, 2}))}})},
                        {"config", PtValue::of_dict({{"experiment", PtValue::integer(4)}})}}));
  try {
    v2::import_checkpoint(dir.path() + "/e4.pt", dir.path() + "/o.pt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("FibonacciPatchDecoder"), std::string::npos) << e.what();
  }
  // An extra tensor (e.g. a physics decoder's wavelength) is named, not dropped.
  auto f = PtFile::open(kData + "orig_decoder_exp3_epoch0.pt");
  std::vector<std::pair<std::string, PtValue>> sd;
  for (auto& [k, t] : f.tensors(f.at(f.root(), "model_state_dict"), "sd")) sd.emplace_back(k, PtValue(t));
  sd.emplace_back("raw_wavelength", PtValue(torch::ones({1})));
  save_pt(dir.path() + "/extra.pt",
          PtValue::of_dict({{"model_state_dict", PtValue::of_dict(sd)},
                            {"config", PtValue::of_dict({{"experiment", PtValue::integer(3)}})}}));
  EXPECT_THROW(v2::import_checkpoint(dir.path() + "/extra.pt", dir.path() + "/o.pt"), Error);
  EXPECT_FALSE(std::ifstream(dir.path() + "/o.pt").good());  // nothing written on failure
}

TEST(ImportCheckpoint, V2CheckpointLoadsByName) {
  // An original-style v2 checkpoint: the original's parameter names are the module's (test_slat_decoder checks them).
  v2::SlatDecoderOptions o;
  o.feature_dim = 12;
  o.hidden_dim = 24;
  o.num_heads = 4;
  o.num_layers = 2;
  o.num_gaussians = 3;
  torch::manual_seed(5);
  v2::SlatDecoder original(o);
  std::vector<std::pair<std::string, PtValue>> sd;
  for (const auto& p : original->named_parameters()) sd.emplace_back(p.key(), PtValue(p.value().detach().clone()));
  test::TempDir dir;
  save_pt(dir.path() + "/best.pt",
          PtValue::of_dict({{"epoch", PtValue::integer(9)},
                            {"model_state_dict", PtValue::of_dict(sd)},
                            {"config", PtValue::of_dict({{"num_heads", PtValue::integer(4)},
                                                         {"decoder_type", PtValue::str("transformer")}})}}));
  auto s = v2::import_checkpoint(dir.path() + "/best.pt", dir.path() + "/ours.pt");
  EXPECT_EQ(s.kind, "v2 transformer decoder");
  auto model = v2::load_v2_model(dir.path() + "/ours.pt");
  EXPECT_EQ(model->options().num_layers, 2);
  EXPECT_EQ(model->options().num_gaussians, 3);
  original->eval();
  torch::NoGradGuard no_grad;
  auto features = torch::randn({1, 5, 12});
  auto coords = torch::randint(0, 64, {1, 9, 4}, torch::kInt32);
  auto a = original->forward(features, coords, {});
  auto b = model->forward(features, coords, {});
  EXPECT_TRUE(torch::equal(a.gaussians, b.gaussians));
  EXPECT_TRUE(torch::equal(a.occupancy_logits, b.occupancy_logits));
}
