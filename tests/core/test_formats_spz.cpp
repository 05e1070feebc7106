// .spz (Niantic): scalar codes on known values, files built byte by byte, round trips of v2/v3/v4 within the
// documented bounds, the RDF ↔ RUB axis flip, and clear errors for truncated or forged files.
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/gaussian_io.hpp"
#include "core/sh_constants.hpp"
#include "core/spz_format.hpp"
#include "formats_test_helpers.hpp"

using namespace fresnel;
using fresnel::test::expect_error;

namespace {

std::string gzip_bytes(const std::string& raw) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, uLong(raw.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = uInt(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(char(uint8_t(v >> (8 * i))));
}
void put_i24(std::string& s, int32_t v) {
  for (int i = 0; i < 3; ++i) s.push_back(char(uint8_t(uint32_t(v) >> (8 * i))));
}

std::string legacy_header(uint32_t version, uint32_t count, int sh_degree) {
  std::string s;
  put_u32(s, spz::kMagic);
  put_u32(s, version);
  put_u32(s, count);
  s += char(sh_degree);
  s += char(12);
  s += '\0';
  s += '\0';
  return s;
}

// Values stay inside the format's ranges (positions ±2048, SH within ±1) so that the bounds apply.
Gaussians in_range_gaussians(int64_t n, int sh_degree) {
  auto g = test::random_gaussians(n, sh_degree);
  if (sh_degree >= 0) g.colors = g.colors.clamp(-0.9, 0.9);
  return g;
}

double max_rotation_error(const torch::Tensor& a, const torch::Tensor& b) {  // up to the sign of q
  return torch::min((a - b).norm(2, -1), (a + b).norm(2, -1)).max().item<double>();
}

}  // namespace

TEST(FormatsSpz, ScalarCodesOnKnownValues) {
  EXPECT_EQ(spz::encode_position(1.0, 12), 4096);
  EXPECT_EQ(spz::encode_position(-0.5, 12), -2048);
  EXPECT_EQ(spz::encode_position(1.0 / 8192 * 1.01, 12), 1);  // rounds to nearest
  EXPECT_EQ(spz::encode_log_scale(1.0), 160);                 // (0 + 10)·16
  EXPECT_EQ(spz::encode_log_scale(std::exp(-10.0)), 0);
  EXPECT_EQ(spz::encode_log_scale(1e-9), 0);  // clamped, not wrapped
  EXPECT_DOUBLE_EQ(spz::decode_log_scale(160), 1.0);
  EXPECT_EQ(spz::encode_dc(0.0), 128);  // 127.5 rounds up
  EXPECT_EQ(spz::encode_dc(1.0), 166);  // 0.15·255 + 127.5 = 165.75
  EXPECT_NEAR(spz::decode_dc(166), (166 / 255.0 - 0.5) / 0.15, 1e-12);
  EXPECT_EQ(spz::encode_sh(0.0, 5), 128);   // 0 is a bucket centre
  EXPECT_EQ(spz::encode_sh(0.5, 8), 192);   // 64 + 128
  EXPECT_EQ(spz::encode_sh(0.03, 5), 136);  // 132 → bucket of 8 → 136
  EXPECT_EQ(spz::encode_sh(0.03, 4), 128);  // 132 → bucket of 16 → 128
  EXPECT_EQ(spz::encode_sh(5.0, 8), 255);   // clamped
  EXPECT_DOUBLE_EQ(spz::decode_sh(192), 0.5);
  // Smallest three: the identity keeps only the index of w (3) in the top two bits.
  const float identity[4] = {0, 0, 0, 1};
  EXPECT_EQ(spz::encode_quaternion_smallest_three(identity), 0xC0000000u);
  // All equal: the first is "largest"; each other magnitude is round(511·0.5/√½) = 361, sign bits clear.
  const float half[4] = {0.5f, 0.5f, 0.5f, 0.5f};
  EXPECT_EQ(spz::encode_quaternion_smallest_three(half), (361u << 20) | (361u << 10) | 361u);
  // A negative largest component flips the whole quaternion (−q is the same rotation).
  const float neg[4] = {0, 0, -0.6f, -0.8f};
  float back[4];
  spz::decode_quaternion_smallest_three(spz::encode_quaternion_smallest_three(neg), back);
  EXPECT_NEAR(back[2], 0.6f, 2e-3);
  EXPECT_NEAR(back[3], 0.8f, 2e-3);
  uint8_t b3[3];
  spz::encode_quaternion_first_three(neg, b3);  // w < 0 → negated so that w can be rebuilt as ≥ 0
  EXPECT_EQ(int(b3[0]), 128);
  EXPECT_EQ(int(b3[2]), 204);  // 0.6·127.5 + 127.5 = 204
  spz::decode_quaternion_first_three(b3, back);
  EXPECT_NEAR(back[3], 0.8f, 0.01);
}

TEST(FormatsSpz, ReadsAHandBuiltVersion2FileAndFlipsRubToRdf) {
  // One Gaussian at RUB (1, 0.5, −2): in OpenCV axes that is (1, −0.5, 2), 2 units in front of the camera.
  std::string raw = legacy_header(2, 1, 1);
  put_i24(raw, 4096);
  put_i24(raw, 2048);
  put_i24(raw, -8192);
  raw += char(255);                                            // alpha
  raw += char(166), raw += char(128), raw += char(0);          // colour DC codes
  raw += char(160), raw += char(144), raw += char(176);        // log scales 0, −1, +1
  raw += char(128), raw += char(128), raw += char(218);        // xyz ≈ (0, 0, 0.71) in RUB
  for (int k = 0; k < 9; ++k) raw += char(k < 3 ? 192 : 128);  // SH band 1: first coefficient 0.5 (odd in y)
  test::TempDir dir;
  test::write_bytes(dir.file("one.spz"), gzip_bytes(raw));
  const auto g = load_gaussians(dir.file("one.spz"));
  ASSERT_EQ(g.count(), 1);
  EXPECT_TRUE(torch::allclose(g.means, torch::tensor({{1.f, -0.5f, 2.f}})));
  EXPECT_TRUE(torch::allclose(g.scales, torch::tensor({{1.f, float(std::exp(-1.0)), float(std::exp(1.0))}})));
  EXPECT_FLOAT_EQ(g.opacities[0].item<float>(), 1.f);
  ASSERT_EQ(g.sh_degree(), 1);
  EXPECT_NEAR(g.colors[0][0][0].item<float>(), (166 / 255.0 - 0.5) / 0.15, 1e-6);
  EXPECT_NEAR(g.colors[0][0][2].item<float>(), (0 / 255.0 - 0.5) / 0.15, 1e-6);
  EXPECT_NEAR(g.colors[0][1][0].item<float>(), -0.5f, 1e-6);  // SH_1,−1 ∝ y changes sign
  EXPECT_NEAR(g.colors[0][1][1].item<float>(), -0.5f, 1e-6);
  // RUB quaternion (x,y,z,w) = (0,0,0.71,0.70) → ours (w,x,−y,−z).
  const double z = 218 / 127.5 - 1;
  EXPECT_NEAR(g.quats[0][0].item<float>(), std::sqrt(1 - z * z), 1e-3);
  EXPECT_NEAR(g.quats[0][3].item<float>(), -z, 1e-3);
}

TEST(FormatsSpz, RoundTripsEveryVersionWithinTheDocumentedBounds) {
  test::TempDir dir;
  for (int version : {2, 3, 4}) {
    SCOPED_TRACE("version " + std::to_string(version));
    for (int degree : {-1, 0, 3}) {
      SCOPED_TRACE("SH degree " + std::to_string(degree));
      const auto g = in_range_gaussians(200, degree);
      const std::string path = dir.file("g" + std::to_string(version) + ".spz");
      GaussianSaveOptions options;
      options.spz_version = version;
      save_gaussians(path, g, options);
      const auto r = load_gaussians(path);
      ASSERT_EQ(r.count(), 200);  // order is kept
      EXPECT_LE(test::max_abs_diff(r.means, g.means), kSpzPositionMaxError + 1e-6);
      EXPECT_LE(test::max_abs_diff(r.scales.log(), g.scales.log()), kSpzLogScaleMaxError + 1e-6);
      EXPECT_LE(test::max_abs_diff(r.opacities, g.opacities), kSpzAlphaMaxError + 1e-6);
      EXPECT_LE(max_rotation_error(r.quats, g.quats), version >= 3 ? kSpzRotationMaxErrorV3 : kSpzRotationMaxErrorV2);
      if (degree <= 0) {  // DC only is read back as RGB, as PLY files with f_dc only are
        EXPECT_FALSE(r.has_sh());
        EXPECT_LE(test::max_abs_diff(r.colors, g.base_rgb()), kSpzDcMaxError * sh::kC0 + 1e-6);
      } else {
        ASSERT_EQ(r.sh_degree(), degree);
        const auto dc = [](const torch::Tensor& c) { return c.select(-2, 0); };
        EXPECT_LE(test::max_abs_diff(dc(r.colors), dc(g.colors)), kSpzDcMaxError + 1e-6);
        if (degree > 0) {
          // Band 1 keeps 5 bits (buckets of 8 codes), bands 2 and 3 keep 4 (buckets of 16).
          const auto band1 = r.colors.slice(-2, 1, 4) - g.colors.slice(-2, 1, 4);
          const auto rest = r.colors.slice(-2, 4) - g.colors.slice(-2, 4);
          EXPECT_LE(band1.abs().max().item<double>(), 4.5 / 128 + 1e-6);
          EXPECT_LE(rest.abs().max().item<double>(), 8.5 / 128 + 1e-6);
        }
      }
    }
  }
}

TEST(FormatsSpz, Version4LayoutIsAPlainHeaderATableOfContentsAndZstdFrames) {
  test::TempDir dir;
  GaussianSaveOptions v4;
  v4.spz_version = 4;
  save_gaussians(dir.file("v4.spz"), in_range_gaussians(50, -1), v4);
  const std::string b = test::read_bytes(dir.file("v4.spz"));
  ASSERT_GE(b.size(), 32u + 5 * 16);
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return v;
  };
  auto u64 = [&](size_t at) {
    uint64_t v;
    std::memcpy(&v, b.data() + at, 8);
    return v;
  };
  EXPECT_EQ(b.substr(0, 4), "NGSP");
  EXPECT_EQ(u32(4), 4u);
  EXPECT_EQ(u32(8), 50u);
  EXPECT_EQ(int(b[12]), 0);   // SH degree
  EXPECT_EQ(int(b[13]), 12);  // fractional bits
  EXPECT_EQ(int(b[15]), 5);   // five streams: no SH stream at degree 0
  EXPECT_EQ(u32(16), 32u);    // TOC right after the header
  const uint64_t expected_raw[5] = {50 * 9, 50, 50 * 3, 50 * 3, 50 * 4};
  uint64_t compressed = 0;
  for (int s = 0; s < 5; ++s) {
    EXPECT_EQ(u64(32 + s * 16 + 8), expected_raw[s]) << "stream " << s;
    compressed += u64(32 + s * 16);
  }
  EXPECT_EQ(32 + 5 * 16 + compressed, b.size());
  // Version 3 (the default) is one gzip stream.
  save_gaussians(dir.file("v3.spz"), in_range_gaussians(50, -1));
  const std::string g3 = test::read_bytes(dir.file("v3.spz"));
  EXPECT_EQ(uint8_t(g3[0]), 0x1f);
  EXPECT_EQ(uint8_t(g3[1]), 0x8b);
}

TEST(FormatsSpz, TruncatedForgedAndForeignFilesAreClearErrors) {
  test::TempDir dir;
  const auto g = in_range_gaussians(300, 1);
  GaussianSaveOptions v4;
  v4.spz_version = 4;
  save_gaussians(dir.file("a3.spz"), g);
  save_gaussians(dir.file("a4.spz"), g, v4);
  const std::string b3 = test::read_bytes(dir.file("a3.spz"));
  const std::string b4 = test::read_bytes(dir.file("a4.spz"));
  test::write_bytes(dir.file("t3.spz"), b3.substr(0, b3.size() / 2));
  expect_error([&] { load_gaussians(dir.file("t3.spz")); }, {"t3.spz", "truncated"});
  test::write_bytes(dir.file("t4.spz"), b4.substr(0, b4.size() - 10));
  expect_error([&] { load_gaussians(dir.file("t4.spz")); }, {"t4.spz", "truncated"});
  test::write_bytes(dir.file("h4.spz"), b4.substr(0, 20));
  expect_error([&] { load_gaussians(dir.file("h4.spz")); }, {"h4.spz", "32-byte header"});
  // A header claiming four billion Gaussians is refused before anything is allocated.
  std::string forged = b4;
  forged[8] = forged[9] = forged[10] = forged[11] = char(0xff);
  test::write_bytes(dir.file("f4.spz"), forged);
  expect_error([&] { load_gaussians(dir.file("f4.spz")); }, {"f4.spz", "4294967295 Gaussians", "more than a file"});
  test::write_bytes(dir.file("f3.spz"), gzip_bytes(legacy_header(3, 100000000, 0) + std::string(100, '\0')));
  expect_error([&] { load_gaussians(dir.file("f3.spz")); }, {"f3.spz", "100000000 Gaussians"});
  test::write_bytes(dir.file("v1.spz"), gzip_bytes(legacy_header(1, 1, 0) + std::string(16, '\0')));
  expect_error([&] { load_gaussians(dir.file("v1.spz")); }, {"v1.spz", "version 1"});
  test::write_bytes(dir.file("text.spz"), "hello, not a splat file");
  expect_error([&] { load_gaussians(dir.file("text.spz")); }, {"text.spz", "not a .spz file"});
  std::string bad_toc = b4;
  bad_toc[32 + 8] = char(bad_toc[32 + 8] + 1);  // positions stream: wrong uncompressed size
  test::write_bytes(dir.file("toc.spz"), bad_toc);
  expect_error([&] { load_gaussians(dir.file("toc.spz")); }, {"toc.spz", "stream 0", "uncompressed"});
}

TEST(FormatsSpz, PositionsOutsideTheFixedPointRangeAreRefusedOnWriting) {
  test::TempDir dir;
  auto g = in_range_gaussians(3, -1);
  g.means[1][2] = 3000.f;
  expect_error([&] { save_gaussians(dir.file("far.spz"), g); }, {"Gaussian 1", "outside", "2048"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("far.spz")));
}
