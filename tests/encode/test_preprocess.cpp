// Image preparation (PIL-exact resampling, ImageNet normalisation), background removal and cropping, and the
// preprocess batch (outputs, skipping, sharding, failures) with tiny random-weight models.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/error.hpp"
#include "core/feature_files.hpp"
#include "core/image_io.hpp"
#include "core/safetensors.hpp"
#include "encode/background_removal.hpp"
#include "encode/image_preprocess.hpp"
#include "encode/preprocess.hpp"
#include "encode/weights.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;
using namespace fresnel::encode;
namespace fs = std::filesystem;

namespace {

// Same generator as scripts/make_pil_resize_golden.py.
torch::Tensor lcg_image(int64_t h, int64_t w, int64_t c) {
  auto t = torch::empty({h, w, c}, torch::kUInt8);
  uint64_t s = 12345;
  uint8_t* p = t.data_ptr<uint8_t>();
  for (int64_t i = 0; i < h * w * c; ++i) {
    s = (s * 1103515245ull + 12345ull) % (1ull << 31);
    p[i] = static_cast<uint8_t>((s >> 16) & 255);
  }
  return t;
}

double iou(const torch::Tensor& a, const torch::Tensor& b) {
  auto i = (a & b).sum().item<double>(), u = (a | b).sum().item<double>();
  return u > 0 ? i / u : 0;
}

// An object (textured ellipse) on a plain, slightly noisy background, and its true mask.
std::pair<torch::Tensor, torch::Tensor> synthetic_object(int64_t h, int64_t w) {
  torch::manual_seed(4);
  auto ys = torch::arange(h, torch::kFloat).view({h, 1}).expand({h, w});
  auto xs = torch::arange(w, torch::kFloat).view({1, w}).expand({h, w});
  auto inside = ((xs - w * 0.55) / (w * 0.22)).pow(2) + ((ys - h * 0.5) / (h * 0.3)).pow(2) < 1.0;
  auto bg = torch::full({h, w, 3}, 0.85f) + torch::randn({h, w, 3}) * 0.02f;
  auto stripes = (torch::sin(xs * 0.5f) > 0).to(torch::kFloat).unsqueeze(-1);
  auto fg = torch::stack(
      {0.8f + 0.1f * stripes.squeeze(-1), 0.15f + 0.1f * stripes.squeeze(-1), 0.1f + 0.3f * stripes.squeeze(-1)}, -1);
  auto img = torch::where(inside.unsqueeze(-1), fg, bg).clamp(0, 1);
  return {to_u8(img), inside};
}

// Tiny models with the production widths where files demand it (384-d features on a 37×37 grid).
void write_tiny_weights(const std::string& dino_path, const std::string& depth_path) {
  torch::manual_seed(9);
  auto vit = Dinov2Config::preset("small");
  vit.layers = 1;
  std::map<std::string, torch::Tensor> w;
  for (const auto& [n, s] : dinov2_parameter_shapes(vit)) w[n] = torch::randn(s) * 0.05;
  save_safetensors(dino_path, w);
  DepthAnythingConfig da = DepthAnythingConfig::preset("small");
  da.backbone = vit;
  da.features = 8, da.out_channels = {4, 4, 4, 4}, da.layer_indices = {0, 0, 0, 0}, da.head_hidden = 4;
  std::map<std::string, torch::Tensor> d;
  for (const auto& [n, s] : depth_anything_parameter_shapes(da)) d[n] = torch::randn(s) * 0.2;
  save_safetensors(depth_path, d, {{"layer_indices", "0,0,0,0"}});
}

}  // namespace

TEST(PilResize, MatchesPillowBitForBit) {
  const std::string golden =
      test::read_bytes(std::string(FRESNEL_SOURCE_DIR) + "/tests/encode/data/pil_resize_golden.bin");
  auto rgba = lcg_image(83, 97, 4);
  auto rgb = rgba.slice(2, 0, 3).contiguous();
  size_t off = 0;
  auto expect_u8 = [&](const torch::Tensor& got, const char* what) {
    const size_t n = got.numel();
    ASSERT_LE(off + n, golden.size()) << what;
    auto want = torch::from_blob(const_cast<char*>(golden.data() + off), got.sizes().vec(), torch::kUInt8);
    EXPECT_TRUE(torch::equal(got, want)) << what << ": max diff "
                                         << (got.to(torch::kInt) - want.to(torch::kInt)).abs().max().item<int>();
    off += n;
  };
  expect_u8(pil_resize(rgb, 37, 29, PilFilter::Bilinear), "bilinear down");
  expect_u8(pil_resize(rgb, 130, 111, PilFilter::Bilinear), "bilinear up");
  expect_u8(pil_resize(rgb, 37, 29, PilFilter::Lanczos), "lanczos down");
  expect_u8(pil_resize(rgb, 130, 111, PilFilter::Lanczos), "lanczos up");
  expect_u8(pil_resize(rgb, 97, 40, PilFilter::Bilinear), "vertical only");
  expect_u8(pil_resize_rgba(rgba, 60, 50, PilFilter::Lanczos), "rgba lanczos");
  auto gray = rgba.select(2, 0).to(torch::kFloat) / 255.0f;
  auto got = pil_resize(gray.contiguous(), 40, 40, PilFilter::Bilinear);
  ASSERT_EQ(off + got.numel() * 4, golden.size());
  auto want = torch::from_blob(const_cast<char*>(golden.data() + off), {40, 40}, torch::kFloat);
  EXPECT_LT(test::max_abs_diff(got, want), 1e-7);
}

TEST(EncoderInput, ImagenetNormalisationAndChwLayout) {
  auto img = torch::zeros({518, 518, 3}, torch::kUInt8);
  img.select(2, 0).fill_(255);
  img.select(2, 2).fill_(51);
  img[10][20][1] = 200;
  auto x = encoder_input(img);
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{1, 3, 518, 518}));
  EXPECT_NEAR(x[0][0][0][0].item<float>(), (1.0 - 0.485) / 0.229, 1e-5);
  EXPECT_NEAR(x[0][1][0][0].item<float>(), (0.0 - 0.456) / 0.224, 1e-5);
  EXPECT_NEAR(x[0][2][0][0].item<float>(), (0.2 - 0.406) / 0.225, 1e-5);
  EXPECT_NEAR(x[0][1][10][20].item<float>(), (200 / 255.0 - 0.456) / 0.224, 1e-5);  // row 10, column 20
  // Other sizes go through PIL's BILINEAR to 518² first.
  auto small = lcg_image(60, 90, 3);
  auto y = encoder_input(small);
  auto z = encoder_input(pil_resize(small, 518, 518, PilFilter::Bilinear));
  EXPECT_TRUE(torch::equal(y, z));
}

TEST(BackgroundRemoval, CropBoxFollowsTheOriginalArithmetic) {
  auto alpha = torch::zeros({100, 200}, torch::kUInt8);
  alpha.slice(0, 30, 70).slice(1, 40, 60).fill_(255);
  // x 40..59, y 30..69 → centre (49.5, 49.5), size int(39·1.2) = 46 → [26, 72).
  EXPECT_EQ(foreground_crop_box(alpha).value(), (std::array<int, 4>{26, 26, 72, 72}));
  alpha.zero_();
  alpha.slice(0, 0, 10).slice(1, 0, 10).fill_(255);  // int(4.5 − 5) truncates to 0 as in Python
  EXPECT_EQ(foreground_crop_box(alpha).value(), (std::array<int, 4>{0, 0, 9, 9}));
  alpha.zero_();
  alpha.slice(0, 40, 80).slice(1, 2, 42).fill_(255);  // left = int(−1.5) = −1 → shifted right by one
  EXPECT_EQ(foreground_crop_box(alpha).value(),
            (std::array<int, 4>{0, 36, 45, 82}));  // top int(36.5), bottom int(82.5)
  alpha.zero_();
  alpha.slice(0, 10, 20).slice(1, 10, 20).fill_(204);  // α must exceed 0.8·255 = 204
  EXPECT_FALSE(foreground_crop_box(alpha).has_value());
}

TEST(BackgroundRemoval, GrabCutFindsAnObjectOnAPlainBackground) {
  auto [img, truth] = synthetic_object(120, 160);
  auto mask = grabcut_mask(img);
  ASSERT_EQ(mask.sizes(), (std::vector<int64_t>{120, 160}));
  EXPECT_GT(iou(mask > 127, truth), 0.8);
  // Larger images run on a reduced copy; the mask comes back at full size.
  auto [big, big_truth] = synthetic_object(300, 400);
  EXPECT_GT(iou(grabcut_mask(big) > 127, big_truth), 0.8);
}

TEST(BackgroundRemoval, GrabCutPathCropsAndCompositesOnBlack) {
  auto [img, truth] = synthetic_object(120, 160);
  BackgroundRemover remover;
  auto p = remover.prepare(img);
  EXPECT_EQ(p.method, "grabcut");
  ASSERT_TRUE(p.cropped);
  ASSERT_EQ(p.rgb.sizes(), (std::vector<int64_t>{518, 518, 3}));
  // The object (centre x = 88, y = 60, half-size ~35×36) lies inside the crop, which is square and padded.
  EXPECT_LE(p.box[0], 88 - 30);
  EXPECT_GE(p.box[2], 88 + 30);
  EXPECT_EQ(p.box[2] - p.box[0], p.box[3] - p.box[1]);
  EXPECT_EQ(p.rgb[5][5].sum().item<int>(), 0);     // background corner → black
  EXPECT_GT(p.rgb[259][259][0].item<int>(), 150);  // object centre keeps its red
}

TEST(BackgroundRemoval, AlphaChannelIsPremultipliedWithoutCrop) {
  auto rgba = torch::full({40, 50, 4}, 200, torch::kUInt8);
  rgba.select(2, 3).slice(1, 0, 25).fill_(0);
  rgba.select(2, 3).slice(1, 25, 50).fill_(128);
  BackgroundRemover remover;
  auto p = remover.prepare(rgba);
  EXPECT_EQ(p.method, "alpha");
  EXPECT_FALSE(p.cropped);
  ASSERT_EQ(p.rgb.sizes(), (std::vector<int64_t>{518, 518, 3}));
  EXPECT_EQ(p.rgb[100][10][0].item<int>(), 0);
  EXPECT_EQ(p.rgb[100][500][0].item<int>(), 100);  // trunc(200/255 · 128/255 · 255) = 100
  // A fully opaque alpha channel means "no transparency": the image goes to the mask path instead.
  auto [img, truth] = synthetic_object(120, 160);
  auto opaque = torch::cat({img, torch::full({120, 160, 1}, 255, torch::kUInt8)}, -1);
  EXPECT_EQ(remover.prepare(opaque).method, "grabcut");
}

TEST(BackgroundRemoval, U2NetPreAndPostProcessingFollowRembg) {
  auto img = torch::full({50, 70, 3}, 100, torch::kUInt8);
  img.select(2, 0).fill_(50);
  auto x = U2NetMasker::model_input(img);
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{1, 3, 320, 320}));
  // Divided by the brightest value (100), not by 255: G = B = 1.0 and R = 0.5 before mean/std.
  EXPECT_NEAR(x[0][0][200][40].item<float>(), (0.5 - 0.485) / 0.229, 1e-5);
  EXPECT_NEAR(x[0][2][200][300].item<float>(), (1.0 - 0.406) / 0.225, 1e-5);
  auto pred = torch::linspace(2.0, 4.0, 320 * 320).view({320, 320});
  auto m = U2NetMasker::mask_from_prediction(pred, 64, 48);
  ASSERT_EQ(m.sizes(), (std::vector<int64_t>{48, 64}));
  EXPECT_LE(m.min().item<int>(), 5);  // min-max normalised: the full 8-bit range (less Lanczos edge ringing)
  EXPECT_GE(m.max().item<int>(), 250);
  EXPECT_LT(m[24][2].item<int>(), m[24][60].item<int>());
  test::TempDir dir;
  test::write_bytes(dir.file("u2net.onnx"), "not a model");
  try {
    BackgroundRemover r(dir.file("u2net.onnx"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("u2net.onnx"), std::string::npos) << e.what();
  }
}

TEST(Preprocess, WritesOutputsSkipsFinishedOnesAndCountsFailures) {
  test::TempDir dir;
  const auto data = dir.file("images");
  fs::create_directories(data);
  save_image(data + "/a.png", torch::rand({24, 32, 3}));
  save_image(data + "/b.jpg", torch::rand({30, 20, 3}));
  write_tiny_weights(dir.file("dino.safetensors"), dir.file("depth.safetensors"));
  PreprocessOptions o;
  o.data_dir = data;
  o.depth_size = 64;
  o.dinov2_weights = dir.file("dino.safetensors");
  o.depth_weights = dir.file("depth.safetensors");
  o.progress = false;
  auto s = run_preprocess(o);
  EXPECT_EQ(s.total, 2);
  EXPECT_EQ(s.processed, 2);
  EXPECT_EQ(s.failed, 0);
  const std::string out = data + "/features";
  EXPECT_EQ(fs::file_size(out + "/a_dinov2.bin"), 37u * 37u * 384u * 4u);
  auto depth = load_depth_bin(out + "/b_depth.bin");
  ASSERT_EQ(depth.sizes(), (std::vector<int64_t>{64, 64}));
  // Min-max normalised at 518² and then resized, as the original: within [0,1], not constant.
  EXPECT_GE(depth.min().item<float>(), 0.0);
  EXPECT_LE(depth.max().item<float>(), 1.0);
  EXPECT_GT((depth.max() - depth.min()).item<float>(), 0.05);
  // Not 8-bit quantised: values that are not multiples of 1/255 occur.
  auto q = (depth * 255).round() / 255;
  EXPECT_GT((depth - q).abs().max().item<float>(), 1e-4);
  auto feats = load_dinov2_features(out + "/a_dinov2.bin", 384);
  EXPECT_TRUE(torch::isfinite(feats).all().item<bool>());

  // Second run: everything present → skipped, and no weights are needed.
  o.dinov2_weights = o.depth_weights = dir.file("nowhere.safetensors");
  s = run_preprocess(o);
  EXPECT_EQ(s.skipped, 2);
  EXPECT_EQ(s.processed, 0);

  // A corrupt image is counted, the others still run; shards split the sorted list.
  test::write_bytes(data + "/c.png", "garbage");
  fs::remove(out + "/a_depth.bin");
  o.dinov2_weights = dir.file("dino.safetensors");
  o.depth_weights = dir.file("depth.safetensors");
  o.shard_index = 0, o.shard_count = 2;  // a.png, c.png
  s = run_preprocess(o);
  EXPECT_EQ(s.total, 2);
  EXPECT_EQ(s.processed, 1);
  EXPECT_EQ(s.failed, 1);
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_NE(s.failures[0].find("c.png"), std::string::npos);
  EXPECT_TRUE(fs::exists(out + "/a_depth.bin"));
}

TEST(Preprocess, BackgroundRemovalWritesTheCropTheEncodersSaw) {
  test::TempDir dir;
  const auto data = dir.file("images");
  fs::create_directories(data);
  auto [img, truth] = synthetic_object(120, 160);
  save_image(data + "/obj.png", img.to(torch::kFloat) / 255.0);
  write_tiny_weights(dir.file("dino.safetensors"), dir.file("depth.safetensors"));
  PreprocessOptions o;
  o.data_dir = data;
  o.output_dir = dir.file("out");
  o.depth_size = 32;
  o.dinov2_weights = dir.file("dino.safetensors");
  o.depth_weights = dir.file("depth.safetensors");
  o.remove_background = true;
  o.progress = false;
  auto s = run_preprocess(o);
  EXPECT_EQ(s.processed, 1);
  auto saved = to_u8(load_image(dir.file("out/obj_input.png")));
  BackgroundRemover remover;
  EXPECT_TRUE(torch::equal(saved, remover.prepare(img).rgb));
}

TEST(Preprocess, MissingWeightsExplainTheBuiltinPath) {
  test::TempDir dir;
  fs::create_directories(dir.file("images"));
  save_image(dir.file("images/a.png"), torch::rand({8, 8, 3}));
  PreprocessOptions o;
  o.data_dir = dir.file("images");
  o.progress = false;
  try {
    run_preprocess(o);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("built-in encoder"), std::string::npos) << e.what();
  }
  o.dinov2_weights = dir.file("missing.safetensors");
  try {
    run_preprocess(o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.safetensors"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_shard("2/2"), UsageError);
  EXPECT_THROW(parse_shard("x"), UsageError);
  EXPECT_EQ(parse_shard("1/3"), (std::pair<int, int>{1, 3}));
}
