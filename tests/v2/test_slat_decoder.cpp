// DirectSLatDecoder / MLPSLatDecoder (spec §10.3): parameter count, the original's init, the Gaussian head's
// activations, and attention chunking + query masks giving the unchunked result.
#include <gtest/gtest.h>
#include <cmath>
#include <torch/torch.h>

#include "core/error.hpp"
#include "testutil/testutil.hpp"
#include "v2/slat_decoder.hpp"

using namespace fresnel;
using v2::SlatDecoder;
using v2::SlatDecoderOptions;

namespace {
SlatDecoderOptions small_options() {
  SlatDecoderOptions o;
  o.feature_dim = 16;
  o.hidden_dim = 24;
  o.num_heads = 4;
  o.num_layers = 2;
  o.num_gaussians = 2;
  return o;
}

torch::Tensor random_coords(int64_t B, int64_t N) {
  auto c = torch::randint(0, 64, {B, N, 4}, torch::kInt32);
  c.select(-1, 0).zero_();
  return c;
}

std::map<std::string, torch::Tensor> params(const torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value();
  return out;
}
}  // namespace

TEST(SlatDecoder, DefaultParameterCountIsTheOriginals) {
  SlatDecoder d;
  EXPECT_EQ(v2::count_parameters(*d), 20193907);
  // The original's names, so its checkpoints load by name.
  auto p = params(*d);
  for (const char* name :
       {"feature_proj.weight", "pos_encoding.pos_embed_z.weight", "voxel_embed", "blocks.5.cross_attn.kv.weight",
        "blocks.0.mlp.3.bias", "blocks.0.norm3.weight", "norm.bias", "occupancy_head.mlp.2.weight",
        "gaussian_head.head.4.weight", "gaussian_head.position_offset_scale", "gaussian_head.scale_factor"})
    EXPECT_TRUE(p.count(name)) << name;
  EXPECT_EQ(p["pos_encoding.pos_embed_z.weight"].size(1), 172);
}

TEST(SlatDecoder, OriginalInitRunsLast) {
  torch::manual_seed(0);
  SlatDecoder d;
  auto p = params(*d);
  // Xavier-uniform bound a = gain·√(6/(fan_in+fan_out)); the uniform's std is a/√3.
  auto check = [&](const std::string& name, double gain) {
    auto w = p[name];
    const double a = gain * std::sqrt(6.0 / static_cast<double>(w.size(0) + w.size(1)));
    EXPECT_LE(w.abs().max().item<double>(), a + 1e-7) << name;
    EXPECT_NEAR(w.std().item<double>(), a / std::sqrt(3.0), 0.05 * a) << name;
  };
  check("feature_proj.weight", 0.1);  // 'proj' substring
  check("blocks.0.cross_attn.q.weight", 0.1);
  check("blocks.3.cross_attn.proj.weight", 0.1);
  check("blocks.0.mlp.0.weight", 0.5);
  check("occupancy_head.mlp.2.weight", 0.5);  // overrides the head's own N(0, 0.01)
  check("gaussian_head.head.4.weight", 0.5);
  EXPECT_EQ(p["gaussian_head.head.4.bias"].abs().max().item<float>(), 0.f);
  EXPECT_NEAR(p["pos_encoding.pos_embed_x.weight"].std().item<double>(), 0.02, 0.002);
  EXPECT_FLOAT_EQ(p["gaussian_head.position_offset_scale"].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(p["gaussian_head.scale_factor"].item<float>(), 0.01f);
}

TEST(SlatDecoder, SinusoidalPositionInitIsASmoothCodeOfTheIndex) {
  SlatDecoderOptions o = small_options();  // hidden 24: tables of width 8, 8, 8 → 4 frequencies, π/64 … π/2
  SlatDecoder d(o);
  const auto before = params(*d);
  d->pos_encoding->init_sinusoidal();
  const auto w = d->pos_encoding->pos_embed_y->weight;
  ASSERT_EQ(w.sizes(), (std::vector<int64_t>{64, 8}));
  for (const int64_t i : {0, 1, 17, 63}) {
    const double lowest = M_PI / 64 * i, highest = M_PI / 2 * i;
    EXPECT_NEAR(w[i][0].item<double>(), std::sin(lowest), 1e-6) << i;
    EXPECT_NEAR(w[i][1].item<double>(), std::cos(lowest), 1e-6) << i;
    EXPECT_NEAR(w[i][2].item<double>(), std::sin(M_PI / 64 * std::pow(32.0, 1.0 / 3) * i), 1e-5) << i;
    EXPECT_NEAR(w[i][6].item<double>(), std::sin(highest), 1e-5) << i;
    EXPECT_NEAR(w[i][7].item<double>(), std::cos(highest), 1e-5) << i;
  }
  // Neighbouring indices get similar codes, far ones do not (the point of it); nothing else changed.
  auto distance = [&](int64_t a, int64_t b) { return (w[a] - w[b]).norm().item<double>(); };
  EXPECT_LT(distance(20, 21), distance(20, 40));
  const auto after = params(*d);
  for (const auto& [name, value] : before)
    if (name.find("pos_embed") == std::string::npos) EXPECT_TRUE(torch::equal(value, after.at(name))) << name;
}

TEST(SlatDecoder, ReinitAttentionRedrawsOnlyTheSmallGainGroup) {
  torch::manual_seed(0);
  SlatDecoder d;  // default widths: the std test below needs many weights
  const auto before = params(*d);
  d->reinit_attention(1.0);
  const auto after = params(*d);
  for (const char* name : {"feature_proj.weight", "blocks.0.cross_attn.q.weight", "blocks.2.cross_attn.kv.weight",
                           "blocks.5.cross_attn.proj.weight"}) {
    const auto& w = after.at(name);
    const double a = std::sqrt(6.0 / static_cast<double>(w.size(0) + w.size(1)));  // gain 1
    EXPECT_NEAR(w.std().item<double>(), a / std::sqrt(3.0), 0.05 * a) << name;
  }
  for (const char* name : {"blocks.0.mlp.0.weight", "gaussian_head.head.4.weight", "feature_proj.bias",
                           "pos_encoding.pos_embed_x.weight", "occupancy_head.mlp.2.weight"})
    EXPECT_TRUE(torch::equal(before.at(name), after.at(name))) << name;
}

TEST(SlatDecoder, GaussianHeadActivationsAtZeroOutput) {
  SlatDecoder d(small_options());
  torch::NoGradGuard no_grad;
  auto last = d->gaussian_head->head->ptr<torch::nn::LinearImpl>(4);
  last->weight.zero_();
  last->bias.zero_();
  auto coords = torch::tensor({0, 0, 32, 63}, torch::kInt32).view({1, 1, 4});
  auto out = d->forward(torch::randn({1, 5, 16}), coords, {});
  auto g = out.gaussians[0];  // (2,14)
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{2, 14}));
  // Position: the voxel corner v/64·2 − 1; scale softplus(0)·0.01; colour and opacity ½.
  EXPECT_NEAR(g[0][0].item<float>(), -1.0, 1e-6);
  EXPECT_NEAR(g[0][1].item<float>(), 0.0, 1e-6);
  EXPECT_NEAR(g[0][2].item<float>(), 63.0 / 32 - 1, 1e-6);
  EXPECT_NEAR(g[1][3].item<float>(), std::log(2.0) * 0.01, 1e-7);
  EXPECT_NEAR(g[1][10].item<float>(), 0.5, 1e-6);
  EXPECT_NEAR(g[1][13].item<float>(), 0.5, 1e-6);
  EXPECT_EQ(out.occupancy_logits.sizes(), (std::vector<int64_t>{1, 1}));
}

// --pixel_colour_residual: at zero head output each Gaussian has the colour its voxel sees (clamped to
// [0.02, 0.98]), and the option needs pixel_aligned.
TEST(SlatDecoder, PixelColourResidualStartsAtTheSeenColour) {
  auto o = small_options();
  o.pixel_aligned = true;
  o.pixel_colour_residual = true;
  SlatDecoder d(o);
  torch::NoGradGuard no_grad;
  auto last = d->gaussian_head->head->ptr<torch::nn::LinearImpl>(4);
  last->weight.zero_();
  last->bias.zero_();
  auto coords = torch::tensor({0, 0, 32, 63, 0, 5, 6, 7}, torch::kInt32).view({1, 2, 4});
  v2::PixelQuery q{torch::zeros({1, 2, 2}), torch::tensor({0.25f, 0.5f, 0.9f, 0.0f, 1.0f, 0.4f}).view({1, 2, 3})};
  auto g = d->forward(torch::randn({1, 16, 16}), coords, {}, q).gaussians[0];  // (2 voxels · 2, 14)
  const float want[2][3] = {{0.25f, 0.5f, 0.9f}, {0.02f, 0.98f, 0.4f}};
  for (int voxel = 0; voxel < 2; ++voxel)
    for (int k = 0; k < 2; ++k)
      for (int c = 0; c < 3; ++c) EXPECT_NEAR(g[voxel * 2 + k][10 + c].item<float>(), want[voxel][c], 1e-5);
  o.pixel_aligned = false;
  EXPECT_THROW(SlatDecoder{o}, Error);
}

TEST(SlatDecoder, ChunkedMaskedEqualsUnchunked) {
  torch::manual_seed(3);
  auto o = small_options();
  SlatDecoder whole(o);
  o.chunk_size = 7;  // 37 queries → 6 chunks, the last partial
  SlatDecoder chunked(o);
  torch::NoGradGuard no_grad;
  {
    auto src = params(*whole);
    for (auto& p : chunked->named_parameters()) p.value().copy_(src[p.key()]);
  }
  whole->eval();
  chunked->eval();
  auto features = torch::randn({2, 9, 16});
  auto coords = random_coords(2, 37);
  auto mask = torch::rand({2, 37}) > 0.3;
  auto a = whole->forward(features, coords, mask);
  auto b = chunked->forward(features, coords, mask);
  EXPECT_LT(test::max_abs_diff(a.gaussians, b.gaussians), 1e-5);
  EXPECT_LT(test::max_abs_diff(a.occupancy_logits, b.occupancy_logits), 1e-5);
  // A valid query's output depends on its own coordinates and the image only: padded (masked) queries may hold
  // anything, and the valid ones predict what they predict alone.
  auto valid = mask[0].nonzero().squeeze(1);
  auto alone = whole->forward(features.narrow(0, 0, 1), coords.narrow(0, 0, 1).index_select(1, valid), {});
  auto g = a.gaussians[0].view({37, 2, 14}).index_select(0, valid).reshape({-1, 14});
  EXPECT_LT(test::max_abs_diff(alone.gaussians[0], g), 1e-5);
  // occupied_gaussians keeps voxels above the threshold that the mask keeps.
  auto kept = whole->occupied_gaussians(a, mask, 0);
  const auto expected = (torch::sigmoid(a.occupancy_logits[0]) > 0.5).logical_and(mask[0]).sum().item<int64_t>();
  EXPECT_EQ(kept.size(0), expected * 2);
}

TEST(SlatDecoder, MlpVariantAndBadOptions) {
  auto o = small_options();
  o.decoder_type = "mlp";
  SlatDecoder d(o);
  EXPECT_EQ(params(*d).count("voxel_embed"), 0u);
  EXPECT_TRUE(params(*d).count("mlp.3.weight"));  // [Linear, LN, GELU] × layers: the second Linear
  auto out = d->forward(torch::randn({1, 4, 16}), random_coords(1, 5), {});
  EXPECT_EQ(out.gaussians.sizes(), (std::vector<int64_t>{1, 10, 14}));
  EXPECT_FALSE(out.occupancy_logits.defined());
  o.decoder_type = "cnn";
  EXPECT_THROW(SlatDecoder{o}, Error);
  o = small_options();
  o.num_heads = 5;
  EXPECT_THROW(SlatDecoder{o}, Error);
  SlatDecoder ok(small_options());
  EXPECT_THROW(ok->forward(torch::randn({1, 4, 15}), random_coords(1, 5), {}), Error);
}

// `v2 infer --image`: the occupied voxels of the full grid are exactly those whose occupancy probability (from one
// unchunked pass over every voxel) exceeds the threshold, and the Gaussians are exactly theirs; the cap and the
// models that cannot do it are clear errors.
TEST(SlatDecoder, PredictOccupiedGridKeepsExactlyTheOccupiedVoxels) {
  torch::manual_seed(5);
  auto o = small_options();
  o.max_resolution = 8;  // 512 voxels
  SlatDecoder model(o);
  model->eval();
  auto features = torch::randn({1, 10, o.feature_dim});
  const int64_t R = o.max_resolution, G = o.num_gaussians;
  auto id = torch::arange(R * R * R, torch::kInt64);
  auto xyz = torch::stack({id.div(R * R, "floor"), id.div(R, "floor").remainder(R), id.remainder(R)}, 1);
  auto all = torch::cat({torch::zeros({R * R * R, 1}, torch::kInt64), xyz}, 1).unsqueeze(0);
  torch::NoGradGuard no_grad;
  auto full = model->forward(features, all, torch::Tensor());
  auto prob = torch::sigmoid(full.occupancy_logits[0]);
  const double threshold = prob.median().item<double>();
  auto keep = prob > threshold;
  const int64_t K = keep.sum().item<int64_t>();
  ASSERT_GT(K, 10);
  ASSERT_LT(K, R * R * R - 10);

  auto pred = v2::predict_occupied_grid(model, features, threshold, K, /*voxels_per_pass=*/37);
  ASSERT_EQ(pred.voxels.size(0), K);
  EXPECT_TRUE(torch::equal(pred.voxels, xyz.index({keep})));
  auto expected = full.gaussians[0].view({-1, G, v2::kSlatGaussianParams}).index({keep}).reshape({-1, 14});
  ASSERT_EQ(pred.gaussians.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(pred.gaussians, expected, 1e-5, 1e-6));

  EXPECT_THROW(
      {
        try {
          v2::predict_occupied_grid(model, features, threshold, K - 1, 37);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("--max_voxels"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  EXPECT_THROW(v2::predict_occupied_grid(model, torch::randn({1, 10, o.feature_dim + 1}), 0.5, 100), Error);
  EXPECT_THROW(v2::predict_occupied_grid(model, features, 1.5, 100), Error);
  auto no_occ = o;
  no_occ.predict_occupancy = false;
  SlatDecoder without(no_occ);
  EXPECT_THROW(v2::predict_occupied_grid(without, features, 0.5, 100), Error);
}

// Pixel-aligned queries: the token grid is sampled bilinearly at grid_sample coordinates (token centres give the
// token itself, a midpoint the mean of two, outside the image zero), TRELLIS's 5 leading tokens are skipped, and
// a grid that is not square is a clear error.
TEST(SlatDecoder, SampleImageTokensReadsTheTokenGridBilinearly) {
  const int64_t P = 4;
  auto tokens = torch::zeros({1, P * P, 2});
  for (int64_t r = 0; r < P; ++r)
    for (int64_t c = 0; c < P; ++c) tokens[0][r * P + c] = torch::tensor({float(r), float(c)});
  auto centre = [&](double col, double row) {  // token (row, col)'s centre, in grid_sample coordinates
    return std::vector<float>{float((col + 0.5) / P * 2 - 1), float((row + 0.5) / P * 2 - 1)};
  };
  const auto a = centre(1, 2), b = centre(2.5, 0), out = std::vector<float>{3.f, 0.f};
  auto uv = torch::tensor({a[0], a[1], b[0], b[1], out[0], out[1]}).view({1, 3, 2});
  auto s = v2::sample_image_tokens(tokens, uv);
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{1, 3, 2}));
  EXPECT_NEAR(s[0][0][0].item<float>(), 2, 1e-5);  // row 2
  EXPECT_NEAR(s[0][0][1].item<float>(), 1, 1e-5);  // column 1
  EXPECT_NEAR(s[0][1][0].item<float>(), 0, 1e-5);
  EXPECT_NEAR(s[0][1][1].item<float>(), 2.5, 1e-5);  // halfway between columns 2 and 3
  EXPECT_NEAR(s[0][2].abs().sum().item<float>(), 0, 1e-6);
  // TRELLIS's layout: CLS + 4 register tokens first.
  auto trellis = torch::cat({torch::full({1, 5, 2}, 99.f), tokens}, 1);
  EXPECT_TRUE(torch::allclose(v2::sample_image_tokens(trellis, uv), s));
  EXPECT_THROW(v2::sample_image_tokens(tokens.narrow(1, 0, 15), uv), Error);
  EXPECT_THROW(v2::sample_image_tokens(tokens, uv.narrow(2, 0, 1)), Error);
}

// A pixel-aligned decoder adds pixel_embed ((C + 3)·D + D parameters), needs the pixel query, and each voxel's
// prediction follows what it is given: the MLP variant learns a colour that only the sampled token tells (or only the
// sampled colour) in 300 steps, which the same decoder without pixel alignment cannot (random per voxel and step).
TEST(SlatDecoder, PixelAlignedQueriesLearnWhatTheirPixelShows) {
  auto o = small_options();
  o.decoder_type = "mlp";
  o.feature_dim = 4;
  const auto train = [&](bool aligned, bool from_rgb) {
    torch::manual_seed(3);
    auto opt = o;
    opt.pixel_aligned = aligned;
    SlatDecoder d(opt);
    torch::optim::Adam adam(d->parameters(), torch::optim::AdamOptions(1e-2));
    double last = 0;
    for (int step = 0; step < 300; ++step) {
      auto tokens = torch::rand({2, 16, 4}) * 2 - 1;  // a 4×4 grid
      auto coords = random_coords(2, 32);
      v2::PixelQuery q{torch::rand({2, 32, 2}) * 2 - 1, torch::rand({2, 32, 3})};
      auto want = from_rgb ? q.rgb.select(-1, 1) * 0.8 + 0.1
                           : v2::sample_image_tokens(tokens, q.uv).select(-1, 0).mul(0.4).add(0.5);  // in [0.1, 0.9]
      auto out = d->forward(tokens, coords, {}, q);
      auto colour = out.gaussians.view({2, 32, 2, 14}).select(-1, 10);  // red of each voxel's 2 Gaussians
      auto loss = (colour - want.unsqueeze(-1)).pow(2).mean();
      adam.zero_grad();
      loss.backward();
      adam.step();
      last = loss.item<double>();
    }
    return std::pair<double, int64_t>{last, v2::count_parameters(*d)};
  };
  for (const bool from_rgb : {false, true}) {
    SCOPED_TRACE(from_rgb ? "colour" : "token");
    const auto [plain_loss, plain_params] = train(false, from_rgb);
    const auto [aligned_loss, aligned_params] = train(true, from_rgb);
    EXPECT_EQ(aligned_params - plain_params, (o.feature_dim + 3) * o.hidden_dim + o.hidden_dim);
    EXPECT_GT(plain_loss, 0.01);  // the target colour's variance is ~0.03–0.05
    EXPECT_LT(aligned_loss, plain_loss / 4);
  }
  auto aligned = o;
  aligned.pixel_aligned = true;
  SlatDecoder d(aligned);
  EXPECT_THROW(d->forward(torch::randn({1, 16, 4}), random_coords(1, 5), {}), Error);
  EXPECT_THROW(d->forward(torch::randn({1, 16, 4}), random_coords(1, 5), {}, {torch::zeros({1, 4, 2}), torch::zeros({1, 4, 3})}),
               Error);
  auto transformer = small_options();
  transformer.feature_dim = 4;
  transformer.max_resolution = 4;
  transformer.pixel_aligned = true;
  SlatDecoder t(transformer);
  EXPECT_THROW(
      {
        try {
          v2::predict_occupied_grid(t, torch::randn({1, 16, 4}), 0.5, 100);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("pixel-aligned"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  // With a projection every pass gets its voxels' pixel query: the result is the one-pass forward's.
  torch::NoGradGuard no_grad;
  t->eval();
  auto features = torch::randn({1, 16, 4});
  auto project = [](const torch::Tensor& xyz, const torch::Tensor& occupied) {
    auto f = xyz.to(torch::kFloat32);
    v2::PixelQuery q{f.narrow(1, 0, 2) / 2 - 0.75, f / 3};
    // A stand-in visibility that depends on the occupied set, so a pass that ignored it would differ.
    if (occupied.defined())
      q.visibility = torch::stack({(f.select(1, 2) < 2).to(torch::kFloat32), f.select(1, 0) / occupied.size(0)}, 1);
    return q;
  };
  auto grid = v2::predict_occupied_grid(t, features, 0.01, 64, 7, project);
  ASSERT_EQ(grid.voxels.size(0), 64);
  auto coords = torch::cat({torch::zeros({64, 1}, torch::kInt64), grid.voxels}, 1).unsqueeze(0);
  const auto all = project(grid.voxels, {});
  auto whole = t->forward(features, coords, {}, {all.uv.unsqueeze(0), all.rgb.unsqueeze(0)});
  EXPECT_TRUE(torch::allclose(whole.gaussians[0], grid.gaussians, 1e-5, 1e-6));
  // With visibility: occupancy from a pass where every voxel is seen ([1, 0]), Gaussians from a second pass with the
  // visibility of each occupied voxel against the occupied set.
  transformer.pixel_visibility = true;
  SlatDecoder tv(transformer);
  tv->eval();
  auto seen = project(grid.voxels, {});
  seen.visibility = torch::stack({torch::ones({64}), torch::zeros({64})}, 1);
  auto first = tv->forward(features, coords, {}, {seen.uv.unsqueeze(0), seen.rgb.unsqueeze(0), seen.visibility.unsqueeze(0)});
  const double threshold = torch::sigmoid(first.occupancy_logits[0]).median().item<double>();
  auto visible_grid = v2::predict_occupied_grid(tv, features, threshold, 64, 7, project);
  const auto keep = torch::sigmoid(first.occupancy_logits[0]) > threshold;
  ASSERT_GT(visible_grid.voxels.size(0), 0);
  ASSERT_TRUE(torch::equal(visible_grid.voxels, grid.voxels.index({keep})));
  const int64_t K = visible_grid.voxels.size(0);
  const auto kept = project(visible_grid.voxels, visible_grid.voxels);
  auto kept_coords = torch::cat({torch::zeros({K, 1}, torch::kInt64), visible_grid.voxels}, 1).unsqueeze(0);
  auto second = tv->forward(features, kept_coords, {},
                            {kept.uv.unsqueeze(0), kept.rgb.unsqueeze(0), kept.visibility.unsqueeze(0)});
  EXPECT_TRUE(torch::allclose(second.gaussians[0], visible_grid.gaussians, 1e-5, 1e-6));
  EXPECT_GT(test::max_abs_diff(first.gaussians[0].view({64, -1}).index({keep}).reshape({-1, 14}), visible_grid.gaussians),
            1e-5);  // the second pass's visibility reached the Gaussians
}

TEST(SlatDecoder, PixelVisibilityGatesTheColourPrior) {
  auto o = small_options();
  o.pixel_aligned = true;
  o.pixel_colour_residual = true;
  const int64_t without = v2::count_parameters(*SlatDecoder(o));
  o.pixel_visibility = true;
  SlatDecoder d(o);
  EXPECT_EQ(v2::count_parameters(*d) - without, 2 * o.hidden_dim);  // two more inputs to pixel_embed
  torch::NoGradGuard no_grad;
  auto last = d->gaussian_head->head->ptr<torch::nn::LinearImpl>(4);
  last->weight.zero_();
  last->bias.zero_();
  auto coords = torch::tensor({0, 0, 32, 63, 0, 5, 6, 7}, torch::kInt32).view({1, 2, 4});
  auto rgb = torch::tensor({0.25f, 0.5f, 0.9f, 0.1f, 0.7f, 0.4f}).view({1, 2, 3});
  auto vis = torch::tensor({1.0f, 0.0f, 0.0f, 0.6f}).view({1, 2, 2});  // voxel 0 seen, voxel 1 behind the surface
  auto g = d->forward(torch::randn({1, 16, 16}), coords, {}, {torch::zeros({1, 2, 2}), rgb, vis}).gaussians[0];
  for (int k = 0; k < 2; ++k)
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(g[k][10 + c].item<float>(), rgb[0][0][c].item<float>(), 1e-5);  // the seen colour
      EXPECT_NEAR(g[2 + k][10 + c].item<float>(), 0.5f, 1e-5);                    // its own (sigmoid 0)
    }
  EXPECT_THROW(d->forward(torch::randn({1, 16, 16}), coords, {}, {torch::zeros({1, 2, 2}), rgb}), Error);
  EXPECT_THROW(d->forward(torch::randn({1, 16, 16}), coords, {}, {torch::zeros({1, 2, 2}), rgb, vis.narrow(2, 0, 1)}),
               Error);
  o.pixel_aligned = false;
  o.pixel_colour_residual = false;
  EXPECT_THROW(SlatDecoder{o}, Error);
}
