// {stem}_dinov2.bin (37,37,C) HWC and {stem}_depth.bin (S,S): exact round trips, layout, shape inference, errors.
#include <filesystem>

#include "core/feature_files.hpp"
#include "formats_test_helpers.hpp"

using namespace fresnel;
using fresnel::test::expect_error;

TEST(FormatsFeatures, Dinov2RoundTripIsBitExactAndHwcOnDisk) {
  test::TempDir dir;
  const auto f = torch::randn({384, 37, 37});
  save_dinov2_features(dir.file("img_dinov2.bin"), f);
  EXPECT_EQ(std::filesystem::file_size(dir.file("img_dinov2.bin")), 37u * 37 * 384 * 4);
  const auto r = load_dinov2_features(dir.file("img_dinov2.bin"), 384);
  ASSERT_EQ(r.sizes(), f.sizes());
  EXPECT_TRUE(torch::equal(r, f));
  // HWC row-major: value (c, h, w) sits at float index (h·37 + w)·C + c.
  const std::string bytes = test::read_bytes(dir.file("img_dinov2.bin"));
  float v;
  std::memcpy(&v, bytes.data() + ((5 * 37 + 11) * 384 + 200) * 4, 4);
  EXPECT_EQ(v, f[200][5][11].item<float>());
}

TEST(FormatsFeatures, ChannelCountIsInferredFromTheSize) {
  test::TempDir dir;
  for (int64_t c : {768, 1024, 7}) {
    const auto f = torch::rand({c, 37, 37});
    save_dinov2_features(dir.file("x.bin"), f);
    EXPECT_EQ(load_dinov2_features(dir.file("x.bin")).size(0), c);
  }
  expect_error([&] { load_dinov2_features(dir.file("x.bin"), 384); }, {"x.bin", "7 feature channels", "384"});
}

TEST(FormatsFeatures, Dinov2WrongSizeIsAnError) {
  test::TempDir dir;
  test::write_bytes(dir.file("bad_dinov2.bin"), std::string(37 * 37 * 4 * 2 + 4, '\0'));
  expect_error([&] { load_dinov2_features(dir.file("bad_dinov2.bin")); }, {"bad_dinov2.bin", "37·37·C·4"});
  test::write_bytes(dir.file("empty_dinov2.bin"), "");
  expect_error([&] { load_dinov2_features(dir.file("empty_dinov2.bin")); }, {"empty_dinov2.bin", "empty"});
  expect_error([&] { load_dinov2_features(dir.file("none_dinov2.bin")); }, {"none_dinov2.bin", "cannot open"});
  expect_error([&] { save_dinov2_features(dir.file("s.bin"), torch::zeros({384, 36, 37})); }, {"s.bin", "(C,37,37)"});
}

TEST(FormatsFeatures, DepthRoundTripAndNonSquareError) {
  test::TempDir dir;
  const auto d = torch::rand({64, 64});
  save_depth_bin(dir.file("img_depth.bin"), d);
  const auto r = load_depth_bin(dir.file("img_depth.bin"));
  ASSERT_EQ(r.sizes(), d.sizes());
  EXPECT_TRUE(torch::equal(r, d));
  save_depth_bin(dir.file("one_depth.bin"), d.unsqueeze(0));
  EXPECT_TRUE(torch::equal(load_depth_bin(dir.file("one_depth.bin")), d));
  test::write_bytes(dir.file("rect_depth.bin"), std::string(4 * 64 * 63, '\0'));
  expect_error([&] { load_depth_bin(dir.file("rect_depth.bin")); }, {"rect_depth.bin", "not a square"});
  test::write_bytes(dir.file("odd_depth.bin"), std::string(4 * 16 + 2, '\0'));
  expect_error([&] { load_depth_bin(dir.file("odd_depth.bin")); }, {"odd_depth.bin", "float32"});
  auto nan = d.clone();
  nan[3][4] = NAN;
  save_depth_bin(dir.file("nan_depth.bin"), nan);
  expect_error([&] { load_depth_bin(dir.file("nan_depth.bin")); }, {"nan_depth.bin", "NaN"});
}

TEST(FormatsFeatures, OriginalFileNames) {
  EXPECT_EQ(dinov2_file_name("cat", "small"), "cat_dinov2.bin");
  EXPECT_EQ(dinov2_file_name("cat", "base"), "cat_dinov2_base.bin");
  EXPECT_EQ(dinov2_file_name("cat", "large"), "cat_dinov2_large.bin");
  EXPECT_EQ(depth_file_name("cat"), "cat_depth.bin");
  EXPECT_EQ(dinov2_channels("base"), 768);
  EXPECT_THROW(dinov2_file_name("cat", "giant"), UsageError);
}
