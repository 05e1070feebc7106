// DINOv2 and Depth Anything V2: tiny configurations with random weights saved under the official names are
// loaded back and compared with a straightforward re-implementation written here from plain tensor ops; the
// full-size name/shape tables and parameter counts are checked against the published architectures.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <dlfcn.h>

#include <cmath>
#include <regex>

#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "encode/depth_anything.hpp"
#include "encode/dinov2.hpp"
#include "encode/vit_inference.hpp"
#include "encode/weights.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;
using namespace fresnel::encode;
using TMap = std::map<std::string, torch::Tensor>;

namespace {

// Random values for every parameter of the architecture (LayerNorm weights and LayerScale too, so that a wrongly
// wired tensor changes the output).
TMap random_weights(const ShapeTable& table, uint64_t seed) {
  torch::manual_seed(seed);
  TMap m;
  for (const auto& [n, s] : table) m[n] = torch::randn(s) * 0.3;
  return m;
}

// ---- reference implementation (plain tensor ops, reading weights by name) ----
torch::Tensor ref_linear(const TMap& w, const std::string& p, const torch::Tensor& x) {
  return torch::matmul(x, w.at(p + ".weight").t()) + w.at(p + ".bias");
}
torch::Tensor ref_layernorm(const TMap& w, const std::string& p, const torch::Tensor& x) {
  auto mu = x.mean(-1, true);
  auto var = (x - mu).pow(2).mean(-1, true);
  return (x - mu) / torch::sqrt(var + 1e-6) * w.at(p + ".weight") + w.at(p + ".bias");
}

// Keys cubic convolution (A = −0.75) with clamped borders, align_corners = false: PyTorch's bicubic.
torch::Tensor ref_bicubic(const torch::Tensor& img /*(C,H,W)*/, int64_t oh, int64_t ow) {
  const int64_t c = img.size(0), h = img.size(1), w = img.size(2);
  auto cubic = [](double x) {
    const double a = -0.75;
    x = std::abs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0.0;
  };
  auto weights = [&](int64_t in, int64_t out) {
    auto m = torch::zeros({out, in}, torch::kDouble);
    for (int64_t o = 0; o < out; ++o) {
      const double src = (o + 0.5) * static_cast<double>(in) / out - 0.5;
      const auto f = static_cast<int64_t>(std::floor(src));
      for (int64_t k = -1; k <= 2; ++k) {
        const int64_t idx = std::min(std::max<int64_t>(f + k, 0), in - 1);
        m[o][idx] += cubic(src - (f + k));
      }
    }
    return m.to(torch::kFloat);
  };
  auto wy = weights(h, oh), wx = weights(w, ow);
  std::vector<torch::Tensor> chans;
  for (int64_t i = 0; i < c; ++i) chans.push_back(torch::matmul(torch::matmul(wy, img[i]), wx.t()));
  return torch::stack(chans);
}

// DINOv2 with facebookresearch names (fused qkv), written from the published description.
struct RefVit {
  TMap w;
  int64_t dim, heads, layers, patch, registers;
  bool swiglu;
  std::string pre;       // "" or "pretrained."
  bool prenorm = false;  // return the tokens before the final LayerNorm (facebookresearch's x_prenorm)

  torch::Tensor tokens_after(const torch::Tensor& x, int64_t upto, std::vector<torch::Tensor>* per_block) const {
    const int64_t b = x.size(0), gh = x.size(2) / patch, gw = x.size(3) / patch;
    auto pe = torch::conv2d(x, w.at(pre + "patch_embed.proj.weight"), w.at(pre + "patch_embed.proj.bias"), patch);
    auto t = pe.reshape({b, dim, gh * gw}).permute({0, 2, 1});
    auto pos = w.at(pre + "pos_embed");
    const auto m = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(pos.size(1) - 1))));
    auto grid_pos = pos.slice(1, 1);
    if (gh != m || gw != m) {
      auto g = grid_pos[0].t().reshape({dim, m, m});
      grid_pos = ref_bicubic(g, gh, gw).reshape({dim, gh * gw}).t().unsqueeze(0);
    }
    t = torch::cat({w.at(pre + "cls_token").expand({b, 1, dim}) + pos.slice(1, 0, 1), t + grid_pos}, 1);
    if (registers)
      t = torch::cat({t.slice(1, 0, 1), w.at(pre + "register_tokens").expand({b, registers, dim}), t.slice(1, 1)}, 1);
    for (int64_t i = 0; i < upto; ++i) {
      const std::string p = pre + "blocks." + std::to_string(i) + ".";
      auto h = ref_layernorm(w, p + "norm1", t);
      auto qkv = ref_linear(w, p + "attn.qkv", h);
      const int64_t n = t.size(1), hd = dim / heads;
      auto q = qkv.slice(2, 0, dim).reshape({b, n, heads, hd}).permute({0, 2, 1, 3});
      auto k = qkv.slice(2, dim, 2 * dim).reshape({b, n, heads, hd}).permute({0, 2, 1, 3});
      auto v = qkv.slice(2, 2 * dim).reshape({b, n, heads, hd}).permute({0, 2, 1, 3});
      auto a = torch::softmax(torch::matmul(q, k.transpose(2, 3)) / std::sqrt(static_cast<double>(hd)), -1);
      auto o = torch::matmul(a, v).permute({0, 2, 1, 3}).reshape({b, n, dim});
      t = t + ref_linear(w, p + "attn.proj", o) * w.at(p + "ls1.gamma");
      h = ref_layernorm(w, p + "norm2", t);
      torch::Tensor f;
      if (swiglu) {
        auto x12 = ref_linear(w, p + "mlp.w12", h);
        const int64_t hid = x12.size(2) / 2;
        auto x1 = x12.slice(2, 0, hid), x2 = x12.slice(2, hid);
        f = ref_linear(w, p + "mlp.w3", x1 * torch::sigmoid(x1) * x2);
      } else {
        auto z = ref_linear(w, p + "mlp.fc1", h);
        z = 0.5 * z * (1 + torch::erf(z / std::sqrt(2.0)));
        f = ref_linear(w, p + "mlp.fc2", z);
      }
      t = t + f * w.at(p + "ls2.gamma");
      if (per_block) per_block->push_back(ref_layernorm(w, pre + "norm", t).slice(1, 1 + registers));
    }
    return prenorm ? t : ref_layernorm(w, pre + "norm", t);
  }
};

// transformers names → facebookresearch names (q,k,v fused), written independently of weights.cpp.
TMap to_original_vit(const TMap& hf, const std::string& in_pre, const std::string& out_pre, int64_t layers) {
  TMap o;
  auto g = [&](const std::string& n) { return hf.at(in_pre + n); };
  o[out_pre + "cls_token"] = g("embeddings.cls_token");
  o[out_pre + "mask_token"] = g("embeddings.mask_token");
  o[out_pre + "pos_embed"] = g("embeddings.position_embeddings");
  if (hf.count(in_pre + "embeddings.register_tokens")) o[out_pre + "register_tokens"] = g("embeddings.register_tokens");
  o[out_pre + "patch_embed.proj.weight"] = g("embeddings.patch_embeddings.projection.weight");
  o[out_pre + "patch_embed.proj.bias"] = g("embeddings.patch_embeddings.projection.bias");
  o[out_pre + "norm.weight"] = g("layernorm.weight");
  o[out_pre + "norm.bias"] = g("layernorm.bias");
  for (int64_t i = 0; i < layers; ++i) {
    const std::string s = "encoder.layer." + std::to_string(i) + ".", d = out_pre + "blocks." + std::to_string(i) + ".";
    for (const char* wb : {"weight", "bias"}) {
      const std::string x = wb;
      o[d + "norm1." + x] = g(s + "norm1." + x);
      o[d + "norm2." + x] = g(s + "norm2." + x);
      o[d + "attn.qkv." + x] =
          torch::cat({g(s + "attention.attention.query." + x), g(s + "attention.attention.key." + x),
                      g(s + "attention.attention.value." + x)});
      o[d + "attn.proj." + x] = g(s + "attention.output.dense." + x);
      if (hf.count(in_pre + s + "mlp.fc1.weight")) {
        o[d + "mlp.fc1." + x] = g(s + "mlp.fc1." + x);
        o[d + "mlp.fc2." + x] = g(s + "mlp.fc2." + x);
      } else {
        o[d + "mlp.w12." + x] = g(s + "mlp.weights_in." + x);
        o[d + "mlp.w3." + x] = g(s + "mlp.weights_out." + x);
      }
    }
    o[d + "ls1.gamma"] = g(s + "layer_scale1.lambda1");
    o[d + "ls2.gamma"] = g(s + "layer_scale2.lambda1");
  }
  return o;
}

Dinov2Config tiny_vit(bool swiglu = false, int64_t registers = 0) {
  Dinov2Config c;
  c.name = "custom";
  c.hidden = 32, c.layers = 2, c.heads = 2, c.patch = 14, c.image_size = 56, c.swiglu = swiglu, c.registers = registers;
  return c;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Dinov2, ModuleParametersEqualTheDeclaredTable) {
  for (auto c : {tiny_vit(), tiny_vit(true), tiny_vit(false, 4), Dinov2Config::preset("small")}) {
    Dinov2 m(c);
    ShapeTable have;
    for (const auto& p : m->named_parameters()) have.push_back({p.key(), p.value().sizes().vec()});
    auto want = dinov2_parameter_shapes(c);
    std::sort(want.begin(), want.end());
    std::sort(have.begin(), have.end());
    EXPECT_EQ(have, want) << c.name;
  }
}

TEST(Dinov2, FullSizeTablesMatchThePublishedCheckpoints) {
  // Built here from the published numbers (transformers config.json of facebook/dinov2-*):
  // hidden, layers, intermediate size, SwiGLU; 518² input with patch 14 → 1370 positions.
  struct P {
    const char* size;
    int64_t d, layers, mlp;
    bool swiglu;
    int64_t params;
  };
  for (const P p : {P{"small", 384, 12, 1536, false, 22056576}, P{"base", 768, 12, 3072, false, 86580480},
                    P{"large", 1024, 24, 4096, false, 304368640}, P{"giant", 1536, 40, 4096, true, 1136480768}}) {
    ShapeTable want = {{"embeddings.cls_token", {1, 1, p.d}},
                       {"embeddings.mask_token", {1, p.d}},
                       {"embeddings.position_embeddings", {1, 1370, p.d}},
                       {"embeddings.patch_embeddings.projection.weight", {p.d, 3, 14, 14}},
                       {"embeddings.patch_embeddings.projection.bias", {p.d}},
                       {"layernorm.weight", {p.d}},
                       {"layernorm.bias", {p.d}}};
    for (int64_t i = 0; i < p.layers; ++i) {
      const std::string l = "encoder.layer." + std::to_string(i) + ".";
      for (std::string n : {"norm1", "norm2"})
        want.push_back({l + n + ".weight", {p.d}}), want.push_back({l + n + ".bias", {p.d}});
      for (std::string n : {"attention.attention.query", "attention.attention.key", "attention.attention.value",
                            "attention.output.dense"})
        want.push_back({l + n + ".weight", {p.d, p.d}}), want.push_back({l + n + ".bias", {p.d}});
      want.push_back({l + "layer_scale1.lambda1", {p.d}});
      want.push_back({l + "layer_scale2.lambda1", {p.d}});
      const std::string a = p.swiglu ? "mlp.weights_in" : "mlp.fc1", b = p.swiglu ? "mlp.weights_out" : "mlp.fc2";
      const int64_t in_rows = p.swiglu ? 2 * p.mlp : p.mlp;
      want.push_back({l + a + ".weight", {in_rows, p.d}});
      want.push_back({l + a + ".bias", {in_rows}});
      want.push_back({l + b + ".weight", {p.d, p.mlp}});
      want.push_back({l + b + ".bias", {p.d}});
    }
    auto have = dinov2_parameter_shapes(Dinov2Config::preset(p.size));
    std::sort(want.begin(), want.end());
    std::sort(have.begin(), have.end());
    EXPECT_EQ(have, want) << p.size;
    int64_t count = 0;
    for (const auto& [n, s] : have) {
      int64_t k = 1;
      for (auto d : s) k *= d;
      count += k;
    }
    EXPECT_EQ(count, p.params) << p.size;  // transformers reports 22.1M / 86.6M / 304M / 1.14B
  }
}

TEST(Dinov2, LoadedHfCheckpointMatchesReferenceImplementation) {
  test::TempDir dir;
  for (auto cfg : {tiny_vit(), tiny_vit(true), tiny_vit(false, 3)}) {
    auto w = random_weights(dinov2_parameter_shapes(cfg), 7);
    save_safetensors(dir.file("vit.safetensors"), w, {{"format", "pt"}, {"num_attention_heads", "2"}});
    auto model = load_dinov2(dir.file("vit.safetensors"));
    EXPECT_EQ(model->config.hidden, 32);
    EXPECT_EQ(model->config.layers, 2);
    EXPECT_EQ(model->config.swiglu, cfg.swiglu);
    EXPECT_EQ(model->config.registers, cfg.registers);
    RefVit ref{to_original_vit(w, "", "", 2), 32, 2, 2, 14, cfg.registers, cfg.swiglu, ""};
    torch::NoGradGuard ng;
    auto x = torch::randn({2, 3, 56, 56});
    auto out = model->forward(x);
    auto expect = ref.tokens_after(x, 2, nullptr);
    ASSERT_EQ(out.sizes(), expect.sizes());
    EXPECT_LT(test::max_abs_diff(out, expect), 2e-4);
    // Patch features: CLS and registers dropped, token t ↔ (t / 4, t % 4).
    auto pf = model->patch_features(x);
    ASSERT_EQ(pf.sizes(), (std::vector<int64_t>{2, 4, 4, 32}));
    EXPECT_LT(test::max_abs_diff(pf[1][2][3], expect[1][1 + cfg.registers + 2 * 4 + 3]), 2e-4);
  }
}

TEST(Dinov2, OriginalNamesLoadToTheSameModel) {
  test::TempDir dir;
  auto cfg = tiny_vit();
  auto w = random_weights(dinov2_parameter_shapes(cfg), 3);
  save_safetensors(dir.file("hf.safetensors"), w, {{"num_attention_heads", "2"}});
  auto orig = to_original_vit(w, "", "", 2);
  orig.erase("mask_token");  // unused at inference: a file without it still loads
  save_safetensors(dir.file("orig.safetensors"), orig, {{"num_attention_heads", "2"}});
  EXPECT_EQ(detect_checkpoint(SafetensorsFile::open(dir.file("orig.safetensors"))), CheckpointKind::Dinov2Original);
  auto a = load_dinov2(dir.file("hf.safetensors"));
  auto b = load_dinov2(dir.file("orig.safetensors"));
  torch::NoGradGuard ng;
  auto x = torch::randn({1, 3, 56, 56});
  EXPECT_LT(test::max_abs_diff(a->forward(x), b->forward(x)), 1e-6);
  EXPECT_DOUBLE_EQ(b->config.interpolate_offset, 0.1);  // the original's interpolation rule travels with its names
}

TEST(Dinov2, PositionEmbeddingIsInterpolatedBicubicallyForOtherGrids) {
  auto cfg = tiny_vit();
  auto w = random_weights(dinov2_parameter_shapes(cfg), 11);
  Dinov2 model(cfg);
  load_strict(*model, w, "memory");
  model->eval();
  RefVit ref{to_original_vit(w, "", "", 2), 32, 2, 2, 14, 0, false, ""};
  torch::NoGradGuard ng;
  auto x = torch::randn({1, 3, 84, 42});  // 6×3 grid from a 4×4 trained grid
  auto out = model->forward(x);
  auto expect = ref.tokens_after(x, 2, nullptr);
  ASSERT_EQ(out.sizes(), expect.sizes());
  EXPECT_LT(test::max_abs_diff(out, expect), 2e-4);
}

TEST(Dinov2, TrellisConditionFeaturesAreThePrenormTokensNormalisedWithoutAffine) {
  // TRELLIS's features.pt: ViT-*/14 with 4 registers at 518² → CLS + 4 registers + 37×37 patches.
  test::TempDir dir;
  auto cfg = tiny_vit(false, 4);
  cfg.image_size = 518;
  auto w = random_weights(dinov2_parameter_shapes(cfg), 13);
  save_safetensors(dir.file("reg.safetensors"), w, {{"num_attention_heads", "2"}});
  auto model = load_dinov2(dir.file("reg.safetensors"));
  ASSERT_EQ(model->config.registers, 4);
  auto rgb = torch::rand({518, 518, 3});
  auto f = trellis_condition_features(*model, rgb);
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{1, 1374, 32}));
  // Reference: ImageNet mean/std, the reference ViT's pre-norm tokens, LayerNorm without weight or bias (eps 1e-5).
  auto x = ((rgb - torch::tensor({0.485f, 0.456f, 0.406f})) / torch::tensor({0.229f, 0.224f, 0.225f}))
               .permute({2, 0, 1})
               .unsqueeze(0);
  RefVit ref{to_original_vit(w, "", "", 2), 32, 2, 2, 14, 4, false, "", true};
  torch::NoGradGuard ng;
  auto t = ref.tokens_after(x, 2, nullptr);
  auto mu = t.mean(-1, true);
  auto expect = (t - mu) / torch::sqrt((t - mu).pow(2).mean(-1, true) + 1e-5);
  EXPECT_LT(test::max_abs_diff(f, expect), 1e-3);
  EXPECT_GT(test::max_abs_diff(f, model->forward(x.contiguous())), 0.1);  // not the checkpoint's affine final norm
  EXPECT_NE(trellis_condition_description(model->config).find("(1, 1374, 32)"), std::string::npos);
  EXPECT_NE(error_of([&] {
              trellis_condition_features(*model, torch::rand({512, 512, 3}));
            }).find("518"),
            std::string::npos);
}

TEST(Dinov2, BadWeightFilesNameTheProblem) {
  test::TempDir dir;
  auto cfg = tiny_vit();
  auto w = random_weights(dinov2_parameter_shapes(cfg), 5);
  const auto path = dir.file("bad.safetensors");

  auto wrong = w;
  wrong["encoder.layer.1.mlp.fc1.weight"] = torch::zeros({100, 32});
  save_safetensors(path, wrong, {{"num_attention_heads", "2"}});
  auto msg = error_of([&] { load_dinov2(path); });
  EXPECT_NE(msg.find("encoder.layer.1.mlp.fc1.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;

  auto missing = w;
  missing.erase("encoder.layer.0.layer_scale2.lambda1");
  save_safetensors(path, missing, {{"num_attention_heads", "2"}});
  msg = error_of([&] { load_dinov2(path); });
  EXPECT_NE(msg.find("missing tensor 'encoder.layer.0.layer_scale2.lambda1'"), std::string::npos) << msg;

  auto extra = w;
  extra["classifier.weight"] = torch::zeros({2, 2});
  save_safetensors(path, extra, {{"num_attention_heads", "2"}});
  msg = error_of([&] { load_dinov2(path); });
  EXPECT_NE(msg.find("unexpected tensor 'classifier.weight'"), std::string::npos) << msg;

  save_safetensors(path, w, {{"num_attention_heads", "2"}});
  const std::string bytes = test::read_bytes(path);
  test::write_bytes(path, bytes.substr(0, bytes.size() - 100));
  msg = error_of([&] { load_dinov2(path); });
  EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  save_safetensors(path, {{"foo", torch::zeros({2})}});
  msg = error_of([&] { load_dinov2(path); });
  EXPECT_NE(msg.find("unrecognised checkpoint"), std::string::npos) << msg;

  save_safetensors(path, w, {{"num_attention_heads", "2"}});
  msg = error_of([&] { load_dinov2(path, "small"); });
  EXPECT_NE(msg.find("size 'small'"), std::string::npos) << msg;
}

// The CPU inference path (vit_inference.hpp) splits tokens into row blocks and query tiles and runs them on
// several threads; 16×16 patches + CLS (+ registers) give ragged last tiles, and two images share the buffers.
TEST(Dinov2, InferencePathOnManyTokensAndThreadsMatchesReference) {
  const int saved_threads = at::get_num_threads();
  at::set_num_threads(2);
  for (auto cfg : {tiny_vit(), tiny_vit(true, 3)}) {
    auto w = random_weights(dinov2_parameter_shapes(cfg), 21);
    Dinov2 model(cfg);
    load_strict(*model, w, "memory");
    RefVit ref{to_original_vit(w, "", "", 2), 32, 2, 2, 14, cfg.registers, cfg.swiglu, ""};
    auto x = torch::randn({2, 3, 224, 224});
    ASSERT_GT(1 + cfg.registers + 16 * 16, 2 * kVitQueryBlock);
    ASSERT_NE((1 + cfg.registers + 16 * 16) % kVitRowBlock, 0);
    torch::Tensor expect, with_grad_path;
    {
      torch::NoGradGuard ng;
      expect = ref.tokens_after(x, 2, nullptr);
    }
    with_grad_path = model->forward(x);  // autograd on: the plain module code
    ASSERT_TRUE(with_grad_path.requires_grad());
    c10::InferenceMode inference;  // thread-local: the worker threads must see it too
    auto out = model->forward(x);
    ASSERT_EQ(out.sizes(), expect.sizes());
    EXPECT_LT(test::max_abs_diff(out, expect), 2e-4);
    EXPECT_LT(test::max_abs_diff(out, with_grad_path.detach()), 2e-4);
    // A second pass reuses the fused q|k|v weights; changing a weight in place must invalidate them.
    EXPECT_LT(test::max_abs_diff(model->forward(x), out), 1e-6);
    {
      c10::InferenceMode off(false);
      torch::NoGradGuard ng;
      model->encoder->layer[1]->as<Dinov2LayerImpl>()->attention->attention->value->weight.mul_(2);
    }
    EXPECT_GT(test::max_abs_diff(model->forward(x), out), 1e-3);
  }
  at::set_num_threads(saved_threads);
}

TEST(Dinov2, ModelBuiltUnderInferenceModeRunsTheInferencePath) {
  c10::InferenceMode inference;
  auto cfg = tiny_vit();
  auto w = random_weights(dinov2_parameter_shapes(cfg), 9);
  Dinov2 model(cfg);  // inference-tensor parameters: no version counters
  load_strict(*model, w, "memory");
  RefVit ref{to_original_vit(w, "", "", 2), 32, 2, 2, 14, 0, false, ""};
  auto x = torch::randn({1, 3, 56, 56});
  const auto expect = ref.tokens_after(x, 2, nullptr);
  EXPECT_LT(test::max_abs_diff(model->forward(x), expect), 2e-4);
  model->encoder->layer[0]->as<Dinov2LayerImpl>()->attention->attention->query->bias.add_(1);
  EXPECT_GT(test::max_abs_diff(model->forward(x), expect), 1e-3);  // the fused weights followed the change
}

TEST(Dinov2, SingleThreadedBlasScopeRestoresTheThreadCount) {
  using Get = int (*)();
  const auto get = reinterpret_cast<Get>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  // Debian's libtorch links the system BLAS; on this project's machines that is OpenBLAS.
  ASSERT_NE(get, nullptr) << "OpenBLAS is not the BLAS in use";
  const int before = get();
  {
    SingleThreadedBlas scope;
    EXPECT_EQ(get(), 1);
    {
      SingleThreadedBlas nested;
      EXPECT_EQ(get(), 1);
    }
    EXPECT_EQ(get(), 1);
  }
  EXPECT_EQ(get(), before);
}

// ---------------- Depth Anything V2 ----------------
namespace {

DepthAnythingConfig tiny_da() {
  DepthAnythingConfig c;
  c.name = "custom";
  c.backbone = tiny_vit();
  c.backbone.layers = 4;
  c.features = 16;
  c.out_channels = {8, 12, 16, 20};
  c.layer_indices = {0, 1, 2, 3};
  c.head_hidden = 8;
  return c;
}

torch::Tensor ref_conv(const TMap& w, const std::string& p, const torch::Tensor& x, int64_t stride = 1, int64_t pad = 0,
                       bool bias = true) {
  return torch::conv2d(x, w.at(p + ".weight"), bias ? w.at(p + ".bias") : torch::Tensor(), stride, pad);
}
torch::Tensor ref_bilinear(const torch::Tensor& x, int64_t h, int64_t w, bool align) {
  return torch::upsample_bilinear2d(x, {h, w}, align);
}

// Depth-Anything-V2 repo's DPT head on original names (depth_head.*), written from the published structure.
torch::Tensor ref_depth(const TMap& w, const DepthAnythingConfig& c, const torch::Tensor& x) {
  RefVit vit{w, c.backbone.hidden, c.backbone.heads, c.backbone.layers, 14, 0, false, "pretrained."};
  std::vector<torch::Tensor> blocks;
  vit.tokens_after(x, c.backbone.layers, &blocks);
  const int64_t b = x.size(0), gh = x.size(2) / 14, gw = x.size(3) / 14;
  std::vector<torch::Tensor> rn(4);
  for (int i = 0; i < 4; ++i) {
    auto t = blocks[c.layer_indices[i]].permute({0, 2, 1}).reshape({b, c.backbone.hidden, gh, gw});
    t = ref_conv(w, "depth_head.projects." + std::to_string(i), t);
    const std::string r = "depth_head.resize_layers." + std::to_string(i);
    if (i == 0) t = torch::conv_transpose2d(t, w.at(r + ".weight"), w.at(r + ".bias"), 4);
    if (i == 1) t = torch::conv_transpose2d(t, w.at(r + ".weight"), w.at(r + ".bias"), 2);
    if (i == 3) t = ref_conv(w, r, t, 2, 1);
    rn[i] = ref_conv(w, "depth_head.scratch.layer" + std::to_string(i + 1) + "_rn", t, 1, 1, false);
  }
  auto rcu = [&](const std::string& p, const torch::Tensor& t) {
    auto y = ref_conv(w, p + ".conv1", torch::relu(t), 1, 1);
    return t + ref_conv(w, p + ".conv2", torch::relu(y), 1, 1);
  };
  auto fuse = [&](int n, torch::Tensor a, const torch::Tensor* skip, int64_t oh, int64_t ow) {
    const std::string p = "depth_head.scratch.refinenet" + std::to_string(n);
    if (skip) a = a + rcu(p + ".resConfUnit1", *skip);
    a = rcu(p + ".resConfUnit2", a);
    a = ref_bilinear(a, oh, ow, true);
    return ref_conv(w, p + ".out_conv", a);
  };
  auto p4 = fuse(4, rn[3], nullptr, rn[2].size(2), rn[2].size(3));
  auto p3 = fuse(3, p4, &rn[2], rn[1].size(2), rn[1].size(3));
  auto p2 = fuse(2, p3, &rn[1], rn[0].size(2), rn[0].size(3));
  auto p1 = fuse(1, p2, &rn[0], rn[0].size(2) * 2, rn[0].size(3) * 2);
  auto out = ref_conv(w, "depth_head.scratch.output_conv1", p1, 1, 1);
  out = ref_bilinear(out, gh * 14, gw * 14, true);
  out = torch::relu(ref_conv(w, "depth_head.scratch.output_conv2.0", out, 1, 1));
  out = torch::relu(ref_conv(w, "depth_head.scratch.output_conv2.2", out));
  return out.squeeze(1);
}

// transformers DA names → original repo names, written independently of weights.cpp.
TMap to_original_da(const TMap& hf, int64_t layers) {
  TMap o = to_original_vit(hf, "backbone.", "pretrained.", layers);
  for (const auto& [n, t] : hf) {
    std::smatch m;
    std::string out;
    static const std::regex re(R"(neck\.reassemble_stage\.layers\.(\d)\.(projection|resize)\.(\w+))");
    static const std::regex conv(R"(neck\.convs\.(\d)\.weight)");
    static const std::regex fus(R"(neck\.fusion_stage\.layers\.(\d)\.(.*))");
    static const std::regex head(R"(head\.conv(\d)\.(\w+))");
    if (std::regex_match(n, m, re)) {
      out = "depth_head." + std::string(m[2] == "projection" ? "projects." : "resize_layers.") + m[1].str() + "." +
            m[3].str();
    } else if (std::regex_match(n, m, conv)) {
      out = "depth_head.scratch.layer" + std::to_string(std::stoi(m[1]) + 1) + "_rn.weight";
    } else if (std::regex_match(n, m, fus)) {
      std::string rest = m[2].str();
      rest = std::regex_replace(rest, std::regex("^projection"), "out_conv");
      rest = std::regex_replace(rest, std::regex("^residual_layer(\\d)\\.convolution(\\d)"), "resConfUnit$1.conv$2");
      out = "depth_head.scratch.refinenet" + std::to_string(4 - std::stoi(m[1])) + "." + rest;
    } else if (std::regex_match(n, m, head)) {
      const std::string k = m[1] == "1" ? "output_conv1" : (m[1] == "2" ? "output_conv2.0" : "output_conv2.2");
      out = "depth_head.scratch." + k + "." + m[2].str();
    } else {
      continue;
    }
    o[out] = t;
  }
  return o;
}

}  // namespace

TEST(DepthAnything, ModuleParametersEqualTheDeclaredTable) {
  for (auto c : {tiny_da(), DepthAnythingConfig::preset("small")}) {
    DepthAnything m(c);
    ShapeTable have;
    for (const auto& p : m->named_parameters()) have.push_back({p.key(), p.value().sizes().vec()});
    auto want = depth_anything_parameter_shapes(c);
    std::sort(want.begin(), want.end());
    std::sort(have.begin(), have.end());
    EXPECT_EQ(have, want) << c.name;
  }
}

TEST(DepthAnything, FullSizeHeadsMatchThePublishedNumbers) {
  struct P {
    const char* size;
    int64_t f;
    std::array<int64_t, 4> oc;
    int64_t d;
  };
  for (const P p : {P{"small", 64, {48, 96, 192, 384}, 384}, P{"base", 128, {96, 192, 384, 768}, 768},
                    P{"large", 256, {256, 512, 1024, 1024}, 1024}}) {
    auto t = depth_anything_parameter_shapes(DepthAnythingConfig::preset(p.size));
    std::map<std::string, std::vector<int64_t>> m(t.begin(), t.end());
    EXPECT_EQ(m.at("backbone.embeddings.position_embeddings"), (std::vector<int64_t>{1, 1370, p.d}));
    EXPECT_EQ(m.at("neck.reassemble_stage.layers.0.resize.weight"), (std::vector<int64_t>{p.oc[0], p.oc[0], 4, 4}));
    EXPECT_EQ(m.at("neck.reassemble_stage.layers.1.resize.weight"), (std::vector<int64_t>{p.oc[1], p.oc[1], 2, 2}));
    EXPECT_EQ(m.count("neck.reassemble_stage.layers.2.resize.weight"), 0u);
    EXPECT_EQ(m.at("neck.reassemble_stage.layers.3.resize.weight"), (std::vector<int64_t>{p.oc[3], p.oc[3], 3, 3}));
    EXPECT_EQ(m.at("neck.convs.3.weight"), (std::vector<int64_t>{p.f, p.oc[3], 3, 3}));
    EXPECT_EQ(m.at("head.conv1.weight"), (std::vector<int64_t>{p.f / 2, p.f, 3, 3}));
    EXPECT_EQ(m.at("head.conv2.weight"), (std::vector<int64_t>{32, p.f / 2, 3, 3}));
    EXPECT_EQ(m.at("head.conv3.weight"), (std::vector<int64_t>{1, 32, 1, 1}));
  }
  // Depth-Anything-V2-Small: the paper and model card give 24.8M parameters.
  int64_t count = 0;
  for (const auto& [n, s] : depth_anything_parameter_shapes(DepthAnythingConfig::preset("small"))) {
    int64_t k = 1;
    for (auto d : s) k *= d;
    count += k;
  }
  EXPECT_NEAR(static_cast<double>(count) / 1e6, 24.8, 0.05) << count;
  EXPECT_EQ(DepthAnythingConfig::preset("large").layer_indices, (std::vector<int64_t>{4, 11, 17, 23}));
}

TEST(DepthAnything, HfAndOriginalCheckpointsMatchReferenceImplementation) {
  test::TempDir dir;
  auto cfg = tiny_da();
  auto w = random_weights(depth_anything_parameter_shapes(cfg), 21);
  const std::map<std::string, std::string> meta = {{"num_attention_heads", "2"}, {"layer_indices", "0,1,2,3"}};
  save_safetensors(dir.file("hf.safetensors"), w, meta);
  auto orig = to_original_da(w, 4);
  EXPECT_EQ(orig.size(), w.size() - 4 * 4);  // q/k/v fused: 6 tensors become 2 in each of 4 layers
  save_safetensors(dir.file("orig.safetensors"), orig, meta);
  auto a = load_depth_anything(dir.file("hf.safetensors"));
  auto b = load_depth_anything(dir.file("orig.safetensors"));
  EXPECT_EQ(a->config.features, 16);
  EXPECT_EQ(a->config.out_channels, (std::array<int64_t, 4>{8, 12, 16, 20}));
  torch::NoGradGuard ng;
  auto x = torch::randn({2, 3, 56, 56});
  auto da = a->forward(x), db = b->forward(x);
  auto expect = ref_depth(orig, cfg, x);
  ASSERT_EQ(da.sizes(), (std::vector<int64_t>{2, 56, 56}));
  EXPECT_GT(expect.abs().max().item<double>(), 0.0);
  const double scale = expect.abs().max().item<double>();
  EXPECT_LT(test::max_abs_diff(da, expect) / scale, 1e-4);
  EXPECT_LT(test::max_abs_diff(db, expect) / scale, 1e-4);
  EXPECT_GE(da.min().item<double>(), 0.0);  // relative depth head ends in ReLU
}

TEST(DepthAnything, BadWeightFilesNameTheProblem) {
  test::TempDir dir;
  auto cfg = tiny_da();
  auto w = random_weights(depth_anything_parameter_shapes(cfg), 2);
  const std::map<std::string, std::string> meta = {{"num_attention_heads", "2"}, {"layer_indices", "0,1,2,3"}};
  const auto path = dir.file("da.safetensors");
  auto bad = w;
  bad["neck.fusion_stage.layers.2.residual_layer1.convolution2.weight"] = torch::zeros({16, 16, 1, 1});
  save_safetensors(path, bad, meta);
  auto msg = error_of([&] { load_depth_anything(path); });
  EXPECT_NE(msg.find("neck.fusion_stage.layers.2.residual_layer1.convolution2.weight"), std::string::npos) << msg;
  auto orig = to_original_da(w, 4);
  orig.erase("depth_head.scratch.refinenet1.out_conv.bias");
  save_safetensors(path, orig, meta);
  msg = error_of([&] { load_depth_anything(path); });
  EXPECT_NE(msg.find("neck.fusion_stage.layers.3.projection.bias"), std::string::npos) << msg;
  orig = to_original_da(w, 4);
  orig["depth_head.scratch.mystery.weight"] = torch::zeros({1});
  save_safetensors(path, orig, meta);
  msg = error_of([&] { load_depth_anything(path); });
  EXPECT_NE(msg.find("depth_head.scratch.mystery.weight"), std::string::npos) << msg;
  // A DINOv2 file given where Depth Anything is expected.
  save_safetensors(path, random_weights(dinov2_parameter_shapes(tiny_vit()), 1), meta);
  msg = error_of([&] { load_depth_anything(path); });
  EXPECT_NE(msg.find("not a Depth Anything"), std::string::npos) << msg;
}
