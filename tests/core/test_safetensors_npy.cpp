// safetensors and .npy: round trips, files written by hand the way the reference writers lay them out,
// and one clear error for every kind of corruption.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "core/npy.hpp"
#include "core/safetensors.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;

namespace {

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

std::string floats_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// Expects fresnel::Error whose message contains every fragment.
template <typename F>
void expect_error(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    FAIL() << "no error thrown";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& frag : fragments)
      EXPECT_NE(msg.find(frag), std::string::npos) << "'" << frag << "' not in: " << msg;
  }
}

std::string st_file(const std::string& json, const std::string& data) { return le64(json.size()) + json + data; }

}  // namespace

TEST(Safetensors, RoundTripEveryDtypeAndMetadata) {
  test::TempDir dir;
  std::map<std::string, torch::Tensor> in = {
      {"f32", torch::randn({3, 4})},
      {"f64", torch::randn({2}, torch::kDouble)},
      {"f16", torch::randn({5}).to(torch::kHalf)},
      {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
      {"i64", torch::arange(7, torch::kLong)},
      {"i32", torch::arange(-3, 3, torch::kInt)},
      {"u8", torch::randint(0, 256, {4}, torch::kUInt8)},
      {"bool", torch::rand({6}) > 0.5},
      {"scalar", torch::tensor(2.5f).reshape({})},
      {"empty", torch::zeros({0, 3})},
      {"strided", torch::randn({4, 5}).t()},
  };
  save_safetensors(dir.file("a.safetensors"), in, {{"format", "pt"}, {"note", "x"}});
  auto f = SafetensorsFile::open(dir.file("a.safetensors"));
  EXPECT_EQ(f.keys().size(), in.size());
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.dtype("bf16"), "BF16");
  EXPECT_EQ(f.dtype("bool"), "BOOL");
  EXPECT_EQ(f.shape("strided"), (std::vector<int64_t>{5, 4}));
  for (const auto& [name, t] : in) {
    auto native = f.tensor(name, true);
    EXPECT_EQ(native.scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(native, t.contiguous())) << name;
    auto fl = f.tensor(name);
    EXPECT_EQ(fl.scalar_type(), torch::kFloat) << name;
    EXPECT_TRUE(torch::equal(fl, t.to(torch::kFloat))) << name;
  }
  // The data buffer starts 8-byte aligned, as the reference writer pads it.
  const std::string bytes = test::read_bytes(dir.file("a.safetensors"));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ((8 + n) % 8, 0u);
}

TEST(Safetensors, ReadsHandWrittenFileWithUnalignedOffsets) {
  test::TempDir dir;
  // A U8 tensor first makes the F32 tensor start at an odd offset; the reader must still copy it correctly.
  const std::string json =
      R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[3,11]},"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},)"
      R"("__metadata__":{"k":"v"}})";
  test::write_bytes(dir.file("h.safetensors"),
                    st_file(json, std::string("\x01\x02\x03", 3) + floats_bytes({1.5f, -2.f})));
  auto f = SafetensorsFile::open(dir.file("h.safetensors"));
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(torch::equal(f.tensor("b"), torch::tensor({1.5f, -2.f})));
  EXPECT_TRUE(torch::equal(f.tensor("a", true), torch::tensor({1, 2, 3}, torch::kUInt8)));
  EXPECT_FALSE(f.contains("c"));
  expect_error([&] { f.tensor("c"); }, {"h.safetensors", "'c'"});
}

TEST(Safetensors, UnsignedAndFloat8ConvertToFloat) {
  test::TempDir dir;
  const std::string json =
      R"({"u16":{"dtype":"U16","shape":[2],"data_offsets":[0,4]},"e4":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[4,6]},)"
      R"("e5":{"dtype":"F8_E5M2","shape":[1],"data_offsets":[6,7]}})";
  // u16 {1, 65535}; e4m3 0x38 = 1.0, 0xC0 = -2.0; e5m2 0x3C = 1.0
  test::write_bytes(dir.file("u.safetensors"), st_file(json, std::string("\x01\x00\xff\xff\x38\xc0\x3c", 7)));
  auto f = SafetensorsFile::open(dir.file("u.safetensors"));
  EXPECT_TRUE(torch::equal(f.tensor("u16"), torch::tensor({1.f, 65535.f})));
  EXPECT_TRUE(torch::equal(f.tensor("e4"), torch::tensor({1.f, -2.f})));
  EXPECT_TRUE(torch::equal(f.tensor("e5"), torch::tensor({1.f})));
}

TEST(Safetensors, CorruptHeadersGiveOneClearError) {
  test::TempDir dir;
  const auto path = dir.file("bad.safetensors");
  auto check = [&](const std::string& bytes, const std::vector<std::string>& fragments) {
    test::write_bytes(path, bytes);
    std::vector<std::string> all = fragments;
    all.push_back("bad.safetensors");
    expect_error([&] { SafetensorsFile::open(path); }, all);
  };
  const std::string data = floats_bytes({1, 2, 3, 4});
  check("", {"shorter than the 8-byte"});
  check(le64(1ull << 40) + "{}", {"exceeds"});
  check(le64(100) + "{}", {"past the end", "truncated"});
  check(st_file("{not json", ""), {"not valid JSON"});
  check(st_file("[1,2]", ""), {"not an object"});
  check(st_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data.substr(0, 10)),
        {"tensor 'w'", "truncated"});
  check(st_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data), {"tensor 'w'", "does not match"});
  check(st_file(R"({"w":{"dtype":"Q7","shape":[4],"data_offsets":[0,16]}})", data), {"tensor 'w'", "unknown dtype"});
  check(st_file(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", data), {"tensor 'w'", "negative"});
  check(st_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}})", data), {"tensor 'w'", "end < begin"});
  check(st_file(R"({"w":{"dtype":"F32","shape":[4]}})", data), {"tensor 'w'", "data_offsets"});
  check(
      st_file(
          R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
          data),
      {"'a'", "'b'", "overlap"});
  check(st_file(R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}})", data),
        {"tensor 'w'", "too large"});
  expect_error([&] { SafetensorsFile::open(dir.file("missing.safetensors")); }, {"missing.safetensors", "cannot open"});
}

TEST(Npy, RoundTripSupportedDtypes) {
  test::TempDir dir;
  std::vector<torch::Tensor> cases = {torch::randn({37, 37}),
                                      torch::randn({3}, torch::kDouble),
                                      torch::randint(0, 256, {2, 3, 4}, torch::kUInt8),
                                      torch::arange(10, torch::kLong).reshape({2, 5}),
                                      torch::arange(4, torch::kInt),
                                      torch::rand({5}) > 0.5,
                                      torch::tensor(3.0f).reshape({}),
                                      torch::zeros({0, 4})};
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto path = dir.file("a" + std::to_string(i) + ".npy");
    save_npy(path, cases[i]);
    auto back = load_npy(path);
    EXPECT_EQ(back.scalar_type(), cases[i].scalar_type()) << i;
    EXPECT_TRUE(torch::equal(back, cases[i])) << i;
    // Data starts 64-byte aligned, as numpy ≥ 1.?? writes it; the header line ends with '\n'.
    const std::string bytes = test::read_bytes(path);
    const size_t hl = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    EXPECT_EQ((10 + hl) % 64, 0u);
    EXPECT_EQ(bytes[10 + hl - 1], '\n');
  }
}

TEST(Npy, ReadsNumpyWrittenHeadersVersions1To3) {
  test::TempDir dir;
  // Byte layouts as numpy writes them (np.save of np.arange(6, dtype='<f4').reshape(2, 3)).
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const std::string data = floats_bytes({0, 1, 2, 3, 4, 5});
  auto padded = [&](size_t prefix) {
    std::string d = dict;
    d.append((64 - (prefix + d.size() + 1) % 64) % 64, ' ');
    return d + "\n";
  };
  const std::string d1 = padded(10);
  test::write_bytes(dir.file("v1.npy"),
                    std::string("\x93NUMPY\x01\x00", 8) + char(d1.size() & 0xff) + char(d1.size() >> 8) + d1 + data);
  const std::string d2 = padded(12);
  for (char major : {'\x02', '\x03'}) {
    const std::string f = std::string("\x93NUMPY", 6) + major + '\0' + char(d2.size() & 0xff) + char(d2.size() >> 8) +
                          std::string(2, '\0') + d2 + data;
    test::write_bytes(dir.file(std::string("v") + char('0' + major) + ".npy"), f);
  }
  for (const char* name : {"v1.npy", "v2.npy", "v3.npy"}) {
    auto t = load_npy(dir.file(name));
    EXPECT_TRUE(torch::equal(t, torch::arange(6, torch::kFloat).reshape({2, 3}))) << name;
  }
  // 1-D shape "(5,)" and a 0-d shape "()".
  const std::string one = "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }\n";
  test::write_bytes(dir.file("one.npy"), std::string("\x93NUMPY\x01\x00", 8) + char(one.size()) + '\0' + one +
                                             std::string("\x01\x02\x03\x04\x05", 5));
  EXPECT_TRUE(torch::equal(load_npy(dir.file("one.npy")), torch::tensor({1, 2, 3, 4, 5}, torch::kUInt8)));
}

TEST(Npy, CorruptFilesGiveOneClearError) {
  test::TempDir dir;
  const auto path = dir.file("bad.npy");
  auto with_dict = [](const std::string& dict, const std::string& data) {
    const std::string d = dict + "\n";
    return std::string("\x93NUMPY\x01\x00", 8) + char(d.size()) + '\0' + d + data;
  };
  auto check = [&](const std::string& bytes, const std::string& fragment) {
    test::write_bytes(path, bytes);
    expect_error([&] { load_npy(path); }, {"bad.npy", fragment});
  };
  const std::string data = floats_bytes({0, 1, 2, 3, 4, 5});
  check("", "bad magic");
  check("PK\x03\x04 this is a zip", "bad magic");
  check(std::string("\x93NUMPY\x07\x00", 8) + "xx", "version 7");
  check(std::string("\x93NUMPY\x01\x00\xff\x00", 10) + "{'descr'", "truncated");
  check(with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data.substr(0, 20)), "truncated");
  check(with_dict("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data), "Fortran");
  check(with_dict("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", data), "unsupported dtype");
  check(with_dict("{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", data), "big-endian");
  check(with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", data), "shape");
  check(with_dict("{'descr': '<f4', 'shape': (6,), }", data), "lacks");
  check(with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", data), "header");
  expect_error([&] { load_npy(dir.file("nope.npy")); }, {"nope.npy"});
  expect_error([&] { save_npy(dir.file("c.npy"), torch::zeros({2}, torch::kComplexFloat)); }, {"c.npy", "unsupported"});
}
