// .splat (quantised, importance-sorted) and the original's 14-float .bin (lossless, axis-converted).
// Also the conversions between every pair of formats in the table (including .spz).
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/gaussian_io.hpp"
#include "core/legacy_bin_format.hpp"
#include "core/splat_format.hpp"
#include "core/spz_format.hpp"
#include "formats_test_helpers.hpp"

using namespace fresnel;
using fresnel::test::expect_error;

namespace {

// Matches rows of b to rows of a by position (the .splat writer reorders; positions are exact).
torch::Tensor match_order(const Gaussians& a, const Gaussians& b) {
  const auto d = torch::cdist(a.means, b.means);  // (N,N)
  return std::get<1>(d.min(1));                   // for each row of a, the row of b at the same position
}

std::string raw_bin(const std::vector<std::array<float, 14>>& rows) {
  std::string s;
  for (const auto& r : rows) s.append(reinterpret_cast<const char*>(r.data()), 56);
  return s;
}

}  // namespace

TEST(FormatsSplat, RoundTripWithinDocumentedBounds) {
  test::TempDir dir;
  auto g = test::random_gaussians(300);
  save_gaussians(dir.file("a.splat"), g);
  EXPECT_EQ(std::filesystem::file_size(dir.file("a.splat")), 300u * 32);
  const auto r = load_gaussians(dir.file("a.splat"));
  ASSERT_EQ(r.count(), 300);
  const auto idx = match_order(g, r);
  const auto rr = r.index_select(idx);
  EXPECT_TRUE(torch::equal(rr.means, g.means));    // float32, exact
  EXPECT_TRUE(torch::equal(rr.scales, g.scales));  // linear float32, exact
  EXPECT_LE(test::max_abs_diff(rr.colors, g.colors), kSplatColorMaxError + 1e-7);
  EXPECT_LE(test::max_abs_diff(rr.opacities, g.opacities), kSplatColorMaxError + 1e-7);
  EXPECT_LE((rr.quats - g.quats).norm(2, -1).max().item<double>(), kSplatRotationMaxError);
}

TEST(FormatsSplat, RotationBoundHoldsAtTheWorstCaseOfClipping) {
  // q = (1,0,0,0) quantises w to 255 (clipped from 256); axis-aligned halves hit rounding boundaries.
  test::TempDir dir;
  auto g = test::random_gaussians(4);
  g.quats =
      torch::tensor({{1.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 1.f}, {0.5f, 0.5f, 0.5f, 0.5f}, {0.f, -1.f, 0.f, 0.f}});
  save_gaussians(dir.file("q.splat"), g);
  const auto r = load_gaussians(dir.file("q.splat"));
  const auto rr = r.index_select(match_order(g, r));
  EXPECT_LE((rr.quats - g.quats).norm(2, -1).max().item<double>(), kSplatRotationMaxError);
}

TEST(FormatsSplat, RecordsAreSortedByImportanceAndLaidOutAsTheViewer) {
  test::TempDir dir;
  auto g = test::random_gaussians(40);
  save_gaussians(dir.file("s.splat"), g);
  const std::string bytes = test::read_bytes(dir.file("s.splat"));
  double prev = INFINITY;
  for (int i = 0; i < 40; ++i) {
    float f[6];
    std::memcpy(f, bytes.data() + i * 32, 24);
    const auto* u = reinterpret_cast<const unsigned char*>(bytes.data() + i * 32);
    const double importance = double(f[3]) * f[4] * f[5] * (u[27] / 255.0);
    EXPECT_LE(importance, prev * (1 + 0.01) + 1e-12);  // descending (opacity quantisation aside)
    prev = importance;
  }
  // Record 0 is the most important Gaussian of the input.
  const auto imp = g.scales.prod(1) * g.opacities;
  const int64_t top = imp.argmax().item<int64_t>();
  float pos[3];
  std::memcpy(pos, bytes.data(), 12);
  EXPECT_EQ(pos[0], g.means[top][0].item<float>());
  const auto* u = reinterpret_cast<const unsigned char*>(bytes.data());
  EXPECT_EQ(int(u[24]), int(std::lround(g.colors[top][0].item<float>() * 255)));
  EXPECT_EQ(int(u[28]), int(std::clamp(std::lround(g.quats[top][0].item<float>() * 128 + 128), 0L, 255L)));
}

TEST(FormatsSplat, ShColoursUseTheDcTermAndBadLengthIsAnError) {
  test::TempDir dir;
  auto g = test::random_gaussians(10, 2);
  save_gaussians(dir.file("sh.splat"), g);
  const auto r = load_gaussians(dir.file("sh.splat"));
  const auto rr = r.index_select(match_order(g, r));
  EXPECT_LE(test::max_abs_diff(rr.colors, g.base_rgb()), kSplatColorMaxError + 1e-7);
  test::write_bytes(dir.file("bad.splat"), std::string(70, '\0'));
  expect_error([&] { load_gaussians(dir.file("bad.splat")); }, {"bad.splat", "multiple of 32"});
}

TEST(FormatsLegacyBin, RoundTripIsBitExact) {
  test::TempDir dir;
  const auto g = test::random_gaussians(123);
  save_gaussians(dir.file("g.bin"), g);
  EXPECT_EQ(std::filesystem::file_size(dir.file("g.bin")), 123u * 56);
  const auto r = load_gaussians(dir.file("g.bin"));
  EXPECT_TRUE(torch::equal(r.means, g.means));
  EXPECT_TRUE(torch::equal(r.quats, g.quats));
  EXPECT_TRUE(torch::equal(r.scales, g.scales));
  EXPECT_TRUE(torch::equal(r.opacities, g.opacities));
  EXPECT_TRUE(torch::equal(r.colors, g.colors));
}

TEST(FormatsLegacyBin, ConvertsTheOriginalsMinusZAxes) {
  test::TempDir dir;
  // One Gaussian 2 units in front of the original's camera (z = −2), above the axis (y = +0.5), rotated 90°
  // about its y axis: q = (cos45°, 0, sin45°, 0).
  const float h = float(std::sqrt(0.5));
  test::write_bytes(dir.file("orig.bin"),
                    raw_bin({{0.25f, 0.5f, -2.f, 0.1f, 0.2f, 0.3f, h, 0.f, h, 0.f, 1.f, 0.5f, 0.f, 0.8f}}));
  const auto g = load_gaussians(dir.file("orig.bin"));
  // OpenCV: in front is +z, above is −y.
  EXPECT_TRUE(torch::equal(g.means, torch::tensor({{0.25f, -0.5f, 2.f}})));
  EXPECT_TRUE(torch::equal(g.quats, torch::tensor({{h, 0.f, -h, 0.f}})));
  EXPECT_TRUE(torch::equal(g.scales, torch::tensor({{0.1f, 0.2f, 0.3f}})));
  EXPECT_TRUE(torch::equal(g.colors, torch::tensor({{1.f, 0.5f, 0.f}})));
  EXPECT_FLOAT_EQ(g.opacities[0].item<float>(), 0.8f);
  // The rotation maps vectors consistently: R' = F R F with F = diag(1,−1,−1).
  auto rot = [](const torch::Tensor& q) {
    const double w = q[0].item<float>(), x = q[1].item<float>(), y = q[2].item<float>(), z = q[3].item<float>();
    return torch::tensor({{1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
                          {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
                          {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)}},
                         torch::kFloat64);
  };
  const auto F = torch::diag(torch::tensor({1.0, -1.0, -1.0}, torch::kFloat64));
  const auto R_orig = rot(torch::tensor({h, 0.f, h, 0.f}));
  EXPECT_LT(test::max_abs_diff(rot(g.quats[0]), F.mm(R_orig).mm(F)), 1e-6);
  // Writing converts back to the original's file bit for bit.
  save_gaussians(dir.file("back.bin"), g);
  EXPECT_EQ(test::read_bytes(dir.file("back.bin")), test::read_bytes(dir.file("orig.bin")));
}

TEST(FormatsLegacyBin, LengthNotMultipleOf56IsAnError) {
  test::TempDir dir;
  test::write_bytes(dir.file("odd.bin"), std::string(56 * 3 + 8, '\0'));
  expect_error([&] { load_gaussians(dir.file("odd.bin")); }, {"odd.bin", "176", "multiple of 56"});
}

TEST(FormatsLegacyBin, NaNInAnOriginalFileIsNamed) {
  test::TempDir dir;
  test::write_bytes(dir.file("nan.bin"), raw_bin({{0, 0, 0, 0.1f, 0.1f, 0.1f, 1, 0, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f},
                                                  {0, 0, 0, 0.1f, 0.1f, 0.1f, 1, 0, 0, 0, 0.5f, NAN, 0.5f, 0.5f}}));
  expect_error([&] { load_gaussians(dir.file("nan.bin")); }, {"nan.bin", "Gaussian 1", "color", "NaN"});
}

TEST(FormatsConvert, EveryFormatToEveryOtherKeepsPositions) {
  test::TempDir dir;
  const auto g = test::random_gaussians(25);
  for (const auto& fa : gaussian_formats()) {
    const std::string& a = fa.extension;
    save_gaussians(dir.file("src" + a), g);
    const auto ga = load_gaussians(dir.file("src" + a));
    for (const auto& fb : gaussian_formats()) {
      const std::string& b = fb.extension;
      save_gaussians(dir.file("dst" + b), ga);
      const auto gb = load_gaussians(dir.file("dst" + b));
      ASSERT_EQ(gb.count(), 25) << a << " → " << b;
      const auto m = gb.index_select(match_order(ga, gb));
      if (fb.name == "spz")  // the one format that quantises positions (24-bit fixed point)
        EXPECT_LE(test::max_abs_diff(m.means, ga.means), kSpzPositionMaxError + 1e-7) << a << " → " << b;
      else
        EXPECT_TRUE(torch::equal(m.means, ga.means)) << a << " → " << b;
      EXPECT_LE(test::max_abs_diff(m.opacities, ga.opacities), kSplatColorMaxError + 1e-6) << a << " → " << b;
    }
  }
}

TEST(FormatsConvert, BatchOfOneIsSavedAndLargerBatchesAreRefused) {
  test::TempDir dir;
  auto g = test::random_gaussians(5);
  const Gaussians b1 = Gaussians::stack({g});
  save_gaussians(dir.file("b1.bin"), b1);
  EXPECT_TRUE(torch::equal(load_gaussians(dir.file("b1.bin")).means, g.means));
  const Gaussians two = Gaussians::stack({g, g});
  expect_error([&] { save_gaussians(dir.file("b2.ply"), two); }, {"b2.ply", "batch of 2"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("b2.ply")));
}
