// CVS model (spec §9.1, §19): block shapes, the original's parameter counts, the noise schedule, EMA, seeded
// generation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "synthesis/cvs_model.hpp"

using namespace fresnel::synthesis;

namespace {
// A small configuration whose stages still have attention (16 and 8 are reached at 32²).
CVSConfig tiny() {
  CVSConfig c;
  c.image_size = 32;
  c.base_channels = 32;
  c.cross_attention_dim = 64;
  c.pose_embed_dim = 32;
  c.time_embed_dim = 32;
  c.image_embed_dim = 16;
  c.image_tokens = 8;
  c.pose_tokens = 4;
  return c;
}
at::Generator seeded(uint64_t seed) { return at::detail::createCPUGenerator(seed); }
}  // namespace

// The counts are those of the original's layer shapes (spec §9.1/§19), computed independently by summing each
// layer's weights and biases: adapter 1,511,808 + pose encoder 206,208 + U-Net 52,556,548 at 256²/base 128;
// the U-Net is 16,082,566 at 128²/base 64 (fast mode, attention at 16×16).
TEST(CvsModel, ParameterCountsEqualTheOriginals) {
  ConsistencyViewSynthesizer full(CVSConfig{});
  auto b = parameter_breakdown(*full);
  EXPECT_EQ(b["image_adapter"], 1511808);
  EXPECT_EQ(b["pose_encoder"], 206208);
  EXPECT_EQ(b["unet"], 52556548);
  EXPECT_EQ(b["total"], 54274564);
  ConsistencyViewSynthesizer fast(CVSConfig::fast());
  EXPECT_EQ(parameter_breakdown(*fast)["unet"], 16082566);
  EXPECT_EQ(count_parameters(*fast), 17800582);
}

TEST(CvsModel, AttentionStagesFollowTheStageTable) {
  ConsistencyUNet full(CVSConfig{});  // 256²: resolutions 256/128/64/32, no stage attention
  for (auto& a : full->encoder_attns) EXPECT_FALSE(a);
  for (auto& a : full->decoder_attns) EXPECT_FALSE(a);
  ConsistencyUNet fast(CVSConfig::fast());  // 128²: encoder stage 3 and decoder stage 0 at 16×16
  std::vector<bool> enc, dec;
  for (auto& a : fast->encoder_attns) enc.push_back(bool(a));
  for (auto& a : fast->decoder_attns) dec.push_back(bool(a));
  EXPECT_EQ(enc, (std::vector<bool>{false, false, false, true}));
  EXPECT_EQ(dec, (std::vector<bool>{true, false, false}));
}

TEST(CvsModel, BlockShapes) {
  torch::manual_seed(0);
  auto t_emb = torch::randn({2, 32});
  ResBlock same(32, 32, 32), wider(32, 64, 32);
  EXPECT_FALSE(same->skip);
  EXPECT_TRUE(wider->skip);
  auto x = torch::randn({2, 32, 8, 8});
  EXPECT_EQ(same(x, t_emb).sizes(), x.sizes());
  EXPECT_EQ(wider(x, t_emb).sizes(), (std::vector<int64_t>{2, 64, 8, 8}));
  auto ctx = torch::randn({2, 12, 64});
  CrossAttention cross(32, 64);
  EXPECT_EQ(cross(x, ctx).sizes(), x.sizes());
  FresnelWaveAttention wave(32);
  EXPECT_EQ(wave(x).sizes(), x.sizes());
  EXPECT_FLOAT_EQ(wave->wavelength.item<float>(), 0.1f);
  AttentionBlock block(32, 64);
  EXPECT_EQ(block(x, ctx).sizes(), x.sizes());
  ImageFeatureAdapter adapter(16, 64, 8);
  EXPECT_EQ(adapter(torch::randn({2, 37, 37, 16})).sizes(), (std::vector<int64_t>{2, 8, 64}));
  PluckerPoseEncoder pose(32, 64, 4);
  auto R = torch::eye(3).expand({2, 3, 3}).contiguous();
  auto t = torch::tensor({{0.f, 0.f, 2.f}, {1.f, 0.f, 0.f}});
  EXPECT_EQ(pose(R, t).sizes(), (std::vector<int64_t>{2, 4, 64}));
  EXPECT_EQ(sinusoidal_embedding(torch::tensor({0.f, 999.f}), 256).sizes(), (std::vector<int64_t>{2, 256}));
  ConsistencyUNet unet(tiny());
  auto img = torch::randn({2, 3, 32, 32});
  EXPECT_EQ(unet(img, torch::tensor({3.f, 900.f}), torch::randn({2, 8, 64}), torch::randn({2, 4, 64})).sizes(),
            img.sizes());
}

TEST(CvsModel, PluckerFeaturesAreRotationColumnsTranslationAndDirection) {
  auto R = torch::tensor({{0.f, -1.f, 0.f}, {1.f, 0.f, 0.f}, {0.f, 0.f, 1.f}}).unsqueeze(0);
  auto t = torch::tensor({{0.f, 3.f, 4.f}});
  auto f = plucker_pose_features(R, t)[0];
  std::vector<float> want = {0, -1, 1, 0, 0, 0, 0, 3, 4, 0, 0.6f, 0.8f, 0, 0, 0};
  for (int i = 0; i < 15; ++i) EXPECT_NEAR(f[i].item<float>(), want[i], 1e-6) << i;
}

TEST(CvsModel, SinusoidalEmbeddingKnownValues) {
  auto e = sinusoidal_embedding(torch::tensor({2.f}), 8)[0];  // half 4, freqs exp(−k·ln 1e4 / 3)
  for (int k = 0; k < 4; ++k) {
    const double f = std::exp(-k * std::log(1e4) / 3.0);
    EXPECT_NEAR(e[k].item<double>(), std::sin(2 * f), 1e-6);
    EXPECT_NEAR(e[4 + k].item<double>(), std::cos(2 * f), 1e-6);
  }
}

// ᾱ_t = Π(1 − β_i) with β_i = clamp(1 − f(i+1)/f(i), 1e-4, 0.9999), f(t) = cos²((t/T + s)/(1 + s)·π/2);
// values from a float64 evaluation of that product.
TEST(CvsModel, CosineScheduleValues) {
  auto ac = cosine_alphas_cumprod(1000).to(torch::kDouble);
  auto f = [](double t) { return std::pow(std::cos((t / 1000.0 + 0.008) / 1.008 * M_PI / 2), 2); };
  auto expected = [&](int t) {
    double p = 1;
    for (int i = 0; i <= t; ++i) p *= 1 - std::clamp(1 - f(i + 1) / f(i), 1e-4, 0.9999);
    return p;
  };
  for (int t : {0, 500, 999}) EXPECT_NEAR(ac[t].item<double>(), expected(t), 2e-6 + 1e-4 * expected(t)) << t;
  EXPECT_NEAR(ac[0].item<double>(), 0.9999, 1e-7);  // 1 − f(1)/f(0) ≈ 4.1e-5 is clamped up to β_0 = 1e-4
  EXPECT_NEAR(ac[500].item<double>(), 0.492096, 2e-5);
  EXPECT_LT(ac[999].item<double>(), 1e-6);
  ConsistencyViewSynthesizer m(tiny());
  EXPECT_NEAR(m->sqrt_alphas_cumprod[500].item<double>(), std::sqrt(expected(500)), 1e-4);
  EXPECT_NEAR(m->sqrt_one_minus_alphas_cumprod[0].item<double>(), std::sqrt(1 - expected(0)), 1e-4);
}

TEST(CvsModel, AddNoiseMixesBySchedule) {
  ConsistencyViewSynthesizer m(tiny());
  auto x0 = torch::full({1, 3, 4, 4}, 0.5), n = torch::full({1, 3, 4, 4}, -1.0);
  auto t = torch::tensor({500}, torch::kLong);
  const double a = m->sqrt_alphas_cumprod[500].item<double>(), s = m->sqrt_one_minus_alphas_cumprod[500].item<double>();
  EXPECT_NEAR(m->add_noise(x0, t, n)[0][0][0][0].item<double>(), 0.5 * a - s, 1e-6);
}

TEST(CvsModel, EmaUpdate) {
  torch::manual_seed(1);
  torch::nn::Linear a(3, 2), b(3, 2);
  auto before = b->weight.clone();
  ema_update(*b, *a, 0.9);
  EXPECT_TRUE(torch::allclose(b->weight, 0.9 * before + 0.1 * a->weight, 1e-6, 1e-7));
  ema_update(*b, *a, 0.0);
  EXPECT_TRUE(torch::equal(b->weight, a->weight));
  std::map<std::string, torch::Tensor> named = {{"weight", torch::ones({2, 3})}};
  EXPECT_THROW(load_named_parameters(*b, named), fresnel::Error);  // bias missing
  named["bias"] = torch::zeros({2});
  load_named_parameters(*b, named);
  EXPECT_TRUE(torch::equal(b->weight, torch::ones({2, 3})));
}

TEST(CvsModel, GenerationIsDeterministicWithASeed) {
  torch::manual_seed(3);
  auto c = tiny();
  ConsistencyViewSynthesizer m(c);
  m->eval();
  auto feats = torch::randn({1, 16, 37, 37});
  auto img = torch::zeros({1, 3, 32, 32});
  auto R = torch::eye(3).unsqueeze(0), t = torch::tensor({{0.3f, 0.f, 0.1f}});
  for (int steps : {1, 4}) {
    auto a = m->generate(img, feats, R, t, steps, seeded(7));
    auto b = m->generate(img, feats, R, t, steps, seeded(7));
    auto other = m->generate(img, feats, R, t, steps, seeded(8));
    EXPECT_EQ(a.sizes(), (std::vector<int64_t>{1, 3, 32, 32}));
    EXPECT_TRUE(torch::equal(a, b)) << steps;
    EXPECT_FALSE(torch::allclose(a, other)) << steps;
  }
  // The pose is an input: another pose, same noise → another view.
  auto moved = m->generate(img, feats, R, torch::tensor({{-0.3f, 0.f, 0.1f}}), 1, seeded(7));
  EXPECT_FALSE(torch::allclose(moved, m->generate(img, feats, R, t, 1, seeded(7))));
}

TEST(CvsModel, BuiltinEncoderConditionsOnTheInputView) {
  auto c = tiny();
  c.builtin_encoder = true;
  ConsistencyViewSynthesizer m(c);
  auto p = parameter_breakdown(*m);
  EXPECT_GT(p["encoder"], 0);
  EXPECT_EQ(p["total"], p["encoder"] + p["image_adapter"] + p["pose_encoder"] + p["unet"]);
  auto R = torch::eye(3).unsqueeze(0), t = torch::tensor({{0.3f, 0.f, 0.1f}});
  auto a = m->generate(torch::zeros({1, 3, 32, 32}), {}, R, t, 1, seeded(1));
  auto b = m->generate(torch::ones({1, 3, 32, 32}), {}, R, t, 1, seeded(1));
  EXPECT_FALSE(torch::allclose(a, b));
}

TEST(CvsModel, ConfigValidationAndJsonRoundTrip) {
  auto c = tiny();
  c.base_channels = 48;
  EXPECT_THROW(c.validate(), fresnel::UsageError);
  c = tiny();
  c.image_size = 36;
  EXPECT_THROW(c.validate(), fresnel::UsageError);
  c = tiny();
  auto back = CVSConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_THROW(CVSConfig::from_json(nlohmann::json{{"image_size", "big"}}), fresnel::Error);
}
