// 3DGS PLY: round trips, the exact written layout (checked by an independent reader), by-name reading of
// other layouts (shuffled, the original's 14 properties, TRELLIS's 17), ASCII, and clear errors on bad input.
#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/gaussian_io.hpp"
#include "core/sh_constants.hpp"
#include "formats_test_helpers.hpp"

using namespace fresnel;
using fresnel::test::expect_error;
using fresnel::test::make_ply;
using fresnel::test::PlyProp;

namespace {

// A deliberately separate, minimal binary PLY reader: header lines → (type, name) list, then raw floats.
struct MiniPly {
  std::string format;
  int64_t count = -1;
  std::vector<std::pair<std::string, std::string>> props;
  std::vector<float> data;  // count × props
};

MiniPly mini_read(const std::string& bytes) {
  MiniPly m;
  size_t pos = 0;
  while (true) {
    const size_t nl = bytes.find('\n', pos);
    if (nl == std::string::npos) throw std::runtime_error("no end_header");
    std::istringstream line(bytes.substr(pos, nl - pos));
    pos = nl + 1;
    std::string key;
    line >> key;
    if (key == "format") line >> m.format;
    if (key == "element") {
      std::string name;
      line >> name >> m.count;
    }
    if (key == "property") {
      std::string type, name;
      line >> type >> name;
      m.props.emplace_back(type, name);
    }
    if (key == "end_header") break;
  }
  const size_t body = bytes.size() - pos;
  if (body != size_t(m.count) * m.props.size() * 4) throw std::runtime_error("body size mismatch");
  m.data.resize(body / 4);
  std::memcpy(m.data.data(), bytes.data() + pos, body);
  return m;
}

std::vector<std::string> standard_names(int sh_coeffs) {
  std::vector<std::string> n = {"x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"};
  for (int i = 0; i < 3 * (sh_coeffs - 1); ++i) n.push_back("f_rest_" + std::to_string(i));
  for (const char* s : {"opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"}) n.push_back(s);
  return n;
}

// Raw (pre-activation) values of one hand-written Gaussian and the activated values they must give.
struct RawGaussian {
  double x = 0.25, y = -1.5, z = 3.0, s0 = -2.0, s1 = -3.0, s2 = -1.0, r0 = 2.0, r1 = 0.0, r2 = 0.0, r3 = 0.0,
         dc0 = 0.5, dc1 = -0.25, dc2 = 1.0, op = 0.7;
  double get(const std::string& n) const {
    if (n == "x") return x;
    if (n == "y") return y;
    if (n == "z") return z;
    if (n == "scale_0") return s0;
    if (n == "scale_1") return s1;
    if (n == "scale_2") return s2;
    if (n == "rot_0") return r0;
    if (n == "rot_1") return r1;
    if (n == "rot_2") return r2;
    if (n == "rot_3") return r3;
    if (n == "f_dc_0") return dc0;
    if (n == "f_dc_1") return dc1;
    if (n == "f_dc_2") return dc2;
    if (n == "opacity") return op;
    return 9.0;  // normals and unknown extras: any value, must be ignored
  }
};

std::vector<std::vector<double>> rows_for(const std::vector<PlyProp>& props, const std::vector<RawGaussian>& gs) {
  std::vector<std::vector<double>> rows;
  for (const auto& g : gs) {
    std::vector<double> r;
    for (const auto& p : props) r.push_back(g.get(p.name));
    rows.push_back(r);
  }
  return rows;
}

void expect_activated(const Gaussians& g, int64_t i, const RawGaussian& r) {
  auto m = g.means[i];
  EXPECT_FLOAT_EQ(m[0].item<float>(), float(r.x));
  EXPECT_FLOAT_EQ(m[1].item<float>(), float(r.y));
  EXPECT_FLOAT_EQ(m[2].item<float>(), float(r.z));
  EXPECT_NEAR(g.scales[i][0].item<float>(), std::exp(r.s0), 1e-6);
  EXPECT_NEAR(g.scales[i][1].item<float>(), std::exp(r.s1), 1e-6);
  EXPECT_NEAR(g.scales[i][2].item<float>(), std::exp(r.s2), 1e-6);
  EXPECT_NEAR(g.opacities[i].item<float>(), 1.0 / (1.0 + std::exp(-r.op)), 1e-6);
  const double qn = std::sqrt(r.r0 * r.r0 + r.r1 * r.r1 + r.r2 * r.r2 + r.r3 * r.r3);
  EXPECT_NEAR(g.quats[i][0].item<float>(), r.r0 / qn, 1e-6);
  EXPECT_NEAR(g.quats[i][1].item<float>(), r.r1 / qn, 1e-6);
  ASSERT_EQ(g.colors.dim(), 2);
  EXPECT_NEAR(g.colors[i][0].item<float>(), 0.5 + sh::kC0 * r.dc0, 1e-6);
  EXPECT_NEAR(g.colors[i][1].item<float>(), 0.5 + sh::kC0 * r.dc1, 1e-6);
  EXPECT_NEAR(g.colors[i][2].item<float>(), 0.5 + sh::kC0 * r.dc2, 1e-6);
}

std::vector<RawGaussian> two_raw() {
  RawGaussian a, b;
  b.x = -7.0;
  b.op = -2.0;
  b.r0 = 0.1;
  b.r1 = -0.3;
  b.r2 = 0.5;
  b.r3 = 0.7;
  b.dc0 = -1.0;
  return {a, b};
}

std::vector<PlyProp> float_props(const std::vector<std::string>& names) {
  std::vector<PlyProp> props;
  for (const auto& n : names) props.push_back({"float", n});
  return props;
}

// Writes two_raw() as a PLY with these properties (in this order), loads it and checks both Gaussians.
void expect_reads_back(const std::string& format, const std::vector<PlyProp>& props) {
  test::TempDir dir;
  const auto raw = two_raw();
  test::write_bytes(dir.file("g.ply"), make_ply(format, props, rows_for(props, raw)));
  const auto g = load_gaussians(dir.file("g.ply"));
  ASSERT_EQ(g.count(), 2);
  expect_activated(g, 0, raw[0]);
  expect_activated(g, 1, raw[1]);
}

}  // namespace

TEST(FormatsPly, RoundTripRgbKeepsValues) {
  test::TempDir dir;
  const auto g = test::random_gaussians(50);
  save_gaussians(dir.file("a.ply"), g);
  const auto r = load_gaussians(dir.file("a.ply"));
  ASSERT_EQ(r.count(), 50);
  EXPECT_TRUE(torch::equal(r.means, g.means));  // stored verbatim
  EXPECT_TRUE(torch::equal(r.quats, g.quats));  // unit quaternions are not renormalised
  EXPECT_LT(((r.scales - g.scales) / g.scales).abs().max().item<double>(), 1e-6);
  EXPECT_LT(test::max_abs_diff(r.opacities, g.opacities), 1e-6);
  EXPECT_LT(test::max_abs_diff(r.colors, g.colors), 1e-6);
  EXPECT_FALSE(r.has_sh());
  EXPECT_FALSE(r.has_phases());
}

TEST(FormatsPly, RoundTripShDegree3IsBitExactForCoefficients) {
  test::TempDir dir;
  const auto g = test::random_gaussians(20, 3, /*phases=*/true);
  save_gaussians(dir.file("sh.ply"), g);
  const auto r = load_gaussians(dir.file("sh.ply"));
  ASSERT_EQ(r.sh_degree(), 3);
  EXPECT_TRUE(torch::equal(r.colors, g.colors));
  EXPECT_TRUE(torch::equal(r.means, g.means));
  ASSERT_TRUE(r.has_phases());
  EXPECT_TRUE(torch::equal(r.phases, g.phases));
}

TEST(FormatsPly, WrittenLayoutMatchesTheStandardPerIndependentReader) {
  test::TempDir dir;
  const auto g = test::random_gaussians(6, 2);  // 9 coefficients → 24 f_rest
  save_gaussians(dir.file("l.ply"), g);
  const MiniPly m = mini_read(test::read_bytes(dir.file("l.ply")));
  EXPECT_EQ(m.format, "binary_little_endian");
  EXPECT_EQ(m.count, 6);
  const auto names = standard_names(9);
  ASSERT_EQ(m.props.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(m.props[i].first, "float") << names[i];
    EXPECT_EQ(m.props[i].second, names[i]);
  }
  const size_t P = names.size();
  for (int64_t i = 0; i < 6; ++i) {
    const float* row = &m.data[i * P];
    EXPECT_EQ(row[0], g.means[i][0].item<float>());
    EXPECT_EQ(row[3], 0.f);                              // normals are zero
    EXPECT_EQ(row[6], g.colors[i][0][0].item<float>());  // f_dc_0 = R coefficient 0
    // Channel-major f_rest: index c·8 + (k−1) holds coefficient k of channel c.
    EXPECT_EQ(row[9 + 0], g.colors[i][1][0].item<float>());
    EXPECT_EQ(row[9 + 7], g.colors[i][8][0].item<float>());
    EXPECT_EQ(row[9 + 8], g.colors[i][1][1].item<float>());
    EXPECT_EQ(row[9 + 23], g.colors[i][8][2].item<float>());
    const double o = g.opacities[i].item<float>();
    EXPECT_NEAR(row[33], std::log(o / (1 - o)), 1e-5);
    EXPECT_NEAR(row[34], std::log(g.scales[i][0].item<float>()), 1e-5);
    EXPECT_EQ(row[37], g.quats[i][0].item<float>());  // rot_0 = w
    EXPECT_EQ(row[40], g.quats[i][3].item<float>());
  }
}

TEST(FormatsPly, RgbColoursAreStoredAsDcCoefficients) {
  test::TempDir dir;
  auto g = test::random_gaussians(3);
  save_gaussians(dir.file("c.ply"), g);
  const MiniPly m = mini_read(test::read_bytes(dir.file("c.ply")));
  ASSERT_EQ(m.props.size(), 17u);
  EXPECT_NEAR(m.data[6], (g.colors[0][0].item<float>() - 0.5) / sh::kC0, 1e-5);
}

TEST(FormatsPly, ReadsPropertiesByNameInAnyOrderWithExtrasAndDoubles) {
  expect_reads_back("binary_little_endian", {{"float", "rot_2"},
                                             {"double", "opacity"},
                                             {"float", "f_dc_1"},
                                             {"uchar", "red"},
                                             {"float", "scale_1"},
                                             {"float", "z"},
                                             {"float", "rot_0"},
                                             {"double", "x"},
                                             {"float", "f_dc_0"},
                                             {"float", "scale_0"},
                                             {"float", "rot_3"},
                                             {"float", "f_dc_2"},
                                             {"float", "y"},
                                             {"int", "segment"},
                                             {"float", "scale_2"},
                                             {"float", "rot_1"}});
}

TEST(FormatsPly, ReadsTheOriginals14PropertyLayout) {
  expect_reads_back("binary_little_endian",
                    float_props({"x", "y", "z", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3",
                                 "f_dc_0", "f_dc_1", "f_dc_2", "opacity"}));
}

TEST(FormatsPly, ReadsTrellis17PropertyLayout) {
  expect_reads_back("binary_little_endian",
                    float_props({"x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0",
                                 "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"}));
}

TEST(FormatsPly, ReadsAsciiPly) { expect_reads_back("ascii", float_props(standard_names(1))); }

TEST(FormatsPly, AsciiAndBinaryOfTheSameDataAgree) {
  test::TempDir dir;
  std::vector<PlyProp> props = float_props(standard_names(4));
  std::vector<std::vector<double>> rows;
  for (int i = 0; i < 5; ++i) {
    std::vector<double> r;
    for (size_t p = 0; p < props.size(); ++p) r.push_back(float(std::sin(1.0 + i * 31 + p)));
    rows.push_back(r);
  }
  test::write_bytes(dir.file("a.ply"), make_ply("ascii", props, rows));
  test::write_bytes(dir.file("b.ply"), make_ply("binary_little_endian", props, rows));
  const auto a = load_gaussians(dir.file("a.ply")), b = load_gaussians(dir.file("b.ply"));
  EXPECT_EQ(a.sh_degree(), 1);
  EXPECT_TRUE(torch::equal(a.means, b.means));
  EXPECT_TRUE(torch::equal(a.colors, b.colors));
  EXPECT_TRUE(torch::equal(a.scales, b.scales));
}

// ---- bad input: one clear error naming the file, never a crash ----

namespace {
std::string good_binary_ply(int64_t declared) {
  std::vector<PlyProp> props = float_props(standard_names(1));
  return make_ply("binary_little_endian", props, rows_for(props, two_raw()), declared);
}
}  // namespace

TEST(FormatsPlyErrors, TruncatedBody) {
  test::TempDir dir;
  auto bytes = good_binary_ply(2);
  bytes.resize(bytes.size() - 10);
  test::write_bytes(dir.file("trunc.ply"), bytes);
  expect_error([&] { load_gaussians(dir.file("trunc.ply")); }, {"trunc.ply", "truncated"});
}

TEST(FormatsPlyErrors, VertexCountLargerThanBody) {
  test::TempDir dir;
  test::write_bytes(dir.file("more.ply"), good_binary_ply(3));
  expect_error([&] { load_gaussians(dir.file("more.ply")); }, {"more.ply", "truncated"});
}

TEST(FormatsPlyErrors, VertexCountSmallerThanBody) {
  test::TempDir dir;
  test::write_bytes(dir.file("less.ply"), good_binary_ply(1));
  expect_error([&] { load_gaussians(dir.file("less.ply")); }, {"less.ply", "element count"});
}

TEST(FormatsPlyErrors, AsciiVertexCountWrongBothWays) {
  test::TempDir dir;
  std::vector<PlyProp> props = float_props(standard_names(1));
  test::write_bytes(dir.file("a3.ply"), make_ply("ascii", props, rows_for(props, two_raw()), 3));
  expect_error([&] { load_gaussians(dir.file("a3.ply")); }, {"a3.ply", "truncated"});
  test::write_bytes(dir.file("a1.ply"), make_ply("ascii", props, rows_for(props, two_raw()), 1));
  expect_error([&] { load_gaussians(dir.file("a1.ply")); }, {"a1.ply", "element count"});
}

TEST(FormatsPlyErrors, BigEndianAndUnknownFormats) {
  test::TempDir dir;
  auto be = good_binary_ply(2);
  be.replace(be.find("binary_little_endian"), 20, "binary_big_endian");
  test::write_bytes(dir.file("be.ply"), be);
  expect_error([&] { load_gaussians(dir.file("be.ply")); }, {"be.ply", "big-endian"});
  auto odd = good_binary_ply(2);
  odd.replace(odd.find("binary_little_endian"), 20, "binary_middle_endian");
  test::write_bytes(dir.file("odd.ply"), odd);
  expect_error([&] { load_gaussians(dir.file("odd.ply")); }, {"odd.ply", "unknown PLY format"});
  test::write_bytes(dir.file("notply.ply"), "hello world\n");
  expect_error([&] { load_gaussians(dir.file("notply.ply")); }, {"notply.ply", "not a PLY"});
  test::write_bytes(dir.file("noend.ply"), "ply\nformat ascii 1.0\nelement vertex 1\n");
  expect_error([&] { load_gaussians(dir.file("noend.ply")); }, {"noend.ply", "end_header"});
}

TEST(FormatsPlyErrors, MissingPropertiesAreListed) {
  test::TempDir dir;
  std::vector<PlyProp> props = {{"float", "x"}, {"float", "y"}, {"float", "z"}, {"float", "opacity"}};
  test::write_bytes(dir.file("miss.ply"), make_ply("binary_little_endian", props, {{1, 2, 3, 0}}));
  expect_error([&] { load_gaussians(dir.file("miss.ply")); }, {"miss.ply", "scale_0", "rot_3", "f_dc_2"});
}

TEST(FormatsPlyErrors, NaNValuesNameFileAndGaussian) {
  test::TempDir dir;
  std::vector<PlyProp> props = float_props(standard_names(1));
  auto rows = rows_for(props, two_raw());
  rows[1][1] = std::nan("");  // y of Gaussian 1
  test::write_bytes(dir.file("nan.ply"), make_ply("binary_little_endian", props, rows));
  expect_error([&] { load_gaussians(dir.file("nan.ply")); }, {"nan.ply", "Gaussian 1", "NaN"});
  // Reading for inspection keeps the NaN instead of failing.
  GaussianLoadOptions lenient;
  lenient.allow_invalid = true;
  const auto g = load_gaussians(dir.file("nan.ply"), lenient);
  EXPECT_TRUE(std::isnan(g.means[1][1].item<float>()));
}

TEST(FormatsPlyErrors, MalformedAsciiValueAndIncompleteShRest) {
  test::TempDir dir;
  std::vector<PlyProp> props = float_props(standard_names(1));
  auto text = make_ply("ascii", props, rows_for(props, two_raw()));
  text.replace(text.rfind("0.25"), 4, "abcd");
  test::write_bytes(dir.file("bad.ply"), text);
  expect_error([&] { load_gaussians(dir.file("bad.ply")); }, {"bad.ply", "malformed ASCII", "abcd"});
  props.push_back({"float", "f_rest_0"});
  props.push_back({"float", "f_rest_2"});
  test::write_bytes(dir.file("rest.ply"), make_ply("binary_little_endian", props, rows_for(props, two_raw())));
  expect_error([&] { load_gaussians(dir.file("rest.ply")); }, {"rest.ply", "f_rest_1"});
}

TEST(FormatsPlyErrors, MissingFileAndUnknownExtension) {
  test::TempDir dir;
  expect_error([&] { load_gaussians(dir.file("nothere.ply")); }, {"nothere.ply", "cannot open"});
  expect_error([&] { load_gaussians(dir.file("x.obj")); }, {"x.obj", "unknown Gaussian file extension"});
  expect_error([&] { save_gaussians(dir.file("x.txt"), test::random_gaussians(2)); }, {"x.txt", ".ply"});
}

TEST(FormatsPlyErrors, SavingInvalidGaussiansWritesNothing) {
  test::TempDir dir;
  auto g = test::random_gaussians(4);
  g.scales[2][1] = std::nan("");
  expect_error([&] { save_gaussians(dir.file("out.ply"), g); }, {"out.ply", "scales"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.ply")));
}

TEST(FormatsPlyErrors, HugeDeclaredCountFailsBeforeAllocating) {
  test::TempDir dir;
  test::write_bytes(dir.file("huge.ply"), good_binary_ply(1000000000000LL));
  expect_error([&] { load_gaussians(dir.file("huge.ply")); }, {"huge.ply", "truncated", "1000000000000"});
  // A binary file without any newline is rejected at once, not read whole as a header line.
  test::write_bytes(dir.file("blob.ply"), std::string(1 << 21, 'x'));
  expect_error([&] { load_gaussians(dir.file("blob.ply")); }, {"blob.ply", "not a PLY"});
}
