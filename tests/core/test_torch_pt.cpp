// The .pt reader on files written by python3-torch 1.13 (tests/core/data/pt/make_pt_fixtures.py, committed),
// the writer by round trip, and corrupt inputs (truncated, bad opcodes, size lies, foreign globals).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <iterator>

#include "core/error.hpp"
#include "core/torch_pickle.hpp"
#include "core/torch_pt.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;

namespace {
const std::string kPt = std::string(FRESNEL_SOURCE_DIR) + "/tests/core/data/pt/";

// The fixtures' values: arange·0.25 − 3 in float64, then cast.
torch::Tensor ramp(std::vector<int64_t> shape, torch::ScalarType type) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return (torch::arange(n, torch::kFloat64) * 0.25 - 3.0).reshape(shape).to(type);
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

torch_pickle::Document pickle_of(const std::string& bytes) {
  return torch_pickle::parse_pickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.pkl");
}
}  // namespace

TEST(TorchPt, ReadsPlainTensors) {
  auto f = load_pt_tensor(kPt + "features_small.pt");
  EXPECT_EQ(f.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(f, ramp({1, 13, 8}, torch::kFloat32)));
  auto c = load_pt_tensor(kPt + "coords_small.pt");
  ASSERT_EQ(c.scalar_type(), torch::kInt32);
  ASSERT_EQ(c.sizes(), (std::vector<int64_t>{6, 4}));
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(c[i][0].item<int>(), 0);
    EXPECT_EQ(c[i][1].item<int>(), i);
    EXPECT_EQ(c[i][2].item<int>(), 2 * i);
    EXPECT_EQ(c[i][3].item<int>(), 63 - i);
  }
}

TEST(TorchPt, ReadsDictOfTensors) {
  auto f = PtFile::open(kPt + "slat_small.pt");
  auto t = f.tensors(f.root(), "slat");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].first, "feats");
  EXPECT_TRUE(torch::equal(t[0].second, ramp({6, 8}, torch::kFloat32)));
  EXPECT_EQ(t[1].first, "coords");
  EXPECT_TRUE(torch::equal(t[1].second, load_pt_tensor(kPt + "coords_small.pt")));  // one storage, memo shared
}

TEST(TorchPt, ReadsEveryDtype) {
  auto f = PtFile::open(kPt + "dtypes.pt");
  const auto base = ramp({3, 4}, torch::kFloat64);
  const std::pair<const char*, torch::Tensor> expected[] = {
      {"float32", base.to(torch::kFloat32)},
      {"float16", base.to(torch::kFloat16)},
      {"bfloat16", base.to(torch::kBFloat16)},
      {"int64", base.to(torch::kInt64)},
      {"int32", base.to(torch::kInt32)},
      {"bool", base > 0},
      {"float64", base},
      {"uint8", (base + 3.0).to(torch::kUInt8)},
  };
  for (const auto& [name, want] : expected) {
    auto got = f.tensor(f.at(f.root(), name), name);
    EXPECT_EQ(got.scalar_type(), want.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(got, want)) << name;
  }
}

TEST(TorchPt, ReadsViewsWithStridesAndOffsets) {
  auto f = PtFile::open(kPt + "views.pt");
  const auto base = ramp({4, 6}, torch::kFloat32);
  EXPECT_TRUE(torch::equal(f.tensor(f.at(f.root(), "base")), base));
  EXPECT_TRUE(torch::equal(f.tensor(f.at(f.root(), "transposed")), base.t()));
  EXPECT_TRUE(torch::equal(f.tensor(f.at(f.root(), "slice")), base.slice(0, 1, 3).slice(1, 2, 5)));
  auto s = f.tensor(f.at(f.root(), "scalar"));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<float>(), 2.5f);
}

TEST(TorchPt, ReadsOriginalStyleCheckpoint) {
  auto f = PtFile::open(kPt + "checkpoint.pt");
  EXPECT_EQ(f.at(f.root(), "epoch").i, 7);
  auto sd = f.tensors(f.at(f.root(), "model_state_dict"), "model_state_dict");  // an OrderedDict
  ASSERT_EQ(sd.size(), 4u);
  EXPECT_EQ(sd[0].first, "fc.weight");
  EXPECT_EQ(sd[3].first, "norm.bias");
  // Values printed by make_pt_fixtures.py.
  auto w = torch::tensor({-0.004322474356740713, 0.3097127377986908, -0.47518056631088257, -0.42489033937454224,
                          -0.22236675024032593, 0.15481917560100555},
                         torch::kFloat32)
               .reshape({2, 3});
  EXPECT_TRUE(torch::equal(sd[0].second, w));
  EXPECT_FLOAT_EQ(sd[2].second[0].item<float>(), 1.0009900331497192f);

  const auto& opt = f.at(f.root(), "optimizer_state_dict");
  const auto& state = f.at(opt, "state");
  ASSERT_EQ(state.map.size(), 4u);
  EXPECT_EQ(state.map[0].first->i, 0);  // integer keys
  auto exp_avg = f.tensor(*state.map[0].second->find("exp_avg"));
  EXPECT_EQ(exp_avg.sizes(), (std::vector<int64_t>{2, 3}));
  auto groups = f.json(f.at(opt, "param_groups"));
  EXPECT_DOUBLE_EQ(groups[0]["lr"].get<double>(), 1e-3);
  EXPECT_EQ(groups[0]["params"], (nlohmann::json{0, 1, 2, 3}));
  EXPECT_EQ(groups[0]["betas"].size(), 2u);

  auto config = f.json(f.at(f.root(), "config"));
  EXPECT_EQ(config["experiment"], 2);
  EXPECT_EQ(config["name"],
            "d\xc3\xa9"
            "codeur");
  EXPECT_EQ(config["fast_mode"], true);
  EXPECT_TRUE(config["resume"].is_null());
  EXPECT_EQ(config["big"].get<int64_t>(), int64_t{1} << 40);
  EXPECT_EQ(config["neg"], -70000);
  EXPECT_EQ(config["hidden"], (nlohmann::json{512, 256}));
  EXPECT_EQ(config["pair"], (nlohmann::json{1, 2}));
  auto losses = f.json(f.at(f.root(), "losses"));
  EXPECT_DOUBLE_EQ(losses["rgb"].get<double>(), -1.5e-3);
}

TEST(TorchPt, WriterRoundTrips) {
  test::TempDir dir;
  const std::string path = dir.path() + "/out.pt";
  const auto base = ramp({3, 5}, torch::kFloat64);
  std::vector<std::pair<std::string, PtValue>> items;
  for (auto type : {torch::kFloat32, torch::kFloat16, torch::kBFloat16, torch::kInt64, torch::kInt32, torch::kBool})
    items.emplace_back(c10::toString(type), PtValue(type == torch::kBool ? base > 0 : base.to(type)));
  items.emplace_back("strided", PtValue(base.t()));  // written contiguous
  items.emplace_back("nested", PtValue::of_dict({{"n", PtValue::integer(-5000000000)},
                                                 {"x", PtValue::real(0.1)},
                                                 {"s", PtValue::str("ok")},
                                                 {"l", PtValue::of_list({PtValue::boolean(true), PtValue()})}}));
  save_pt(path, PtValue::of_dict(items));
  auto f = PtFile::open(path);
  auto tensors = f.tensors(f.root(), "root");
  ASSERT_EQ(tensors.size(), 7u);
  for (size_t k = 0; k < 6; ++k) EXPECT_TRUE(torch::equal(tensors[k].second, items[k].second.tensor)) << items[k].first;
  EXPECT_TRUE(torch::equal(tensors[6].second, base.t()));
  auto nested = f.json(f.at(f.root(), "nested"));
  EXPECT_EQ(nested["n"].get<int64_t>(), -5000000000);
  EXPECT_DOUBLE_EQ(nested["x"].get<double>(), 0.1);
  EXPECT_EQ(nested["s"], "ok");
  EXPECT_EQ(nested["l"], (nlohmann::json{true, nullptr}));
  // Entries start 64-byte aligned, as torch.save lays them out.
  const std::string bytes = read_bytes(path);
  auto entries = torch_pickle::read_zip_directory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
  for (const auto& e : entries) EXPECT_EQ(e.offset % 64, 0u) << e.name;
}

TEST(TorchPt, RejectsMissingForeignAndCompressedFiles) {
  EXPECT_NE(error_of([] { PtFile::open("/nonexistent/x.pt"); }).find("/nonexistent/x.pt"), std::string::npos);
  EXPECT_NE(error_of([] { PtFile::open(kPt + "compressed.pt"); }).find("compressed"), std::string::npos);
  EXPECT_NE(error_of([] { PtFile::open(kPt + "legacy_format.pt"); }).find("legacy_format.pt"), std::string::npos);
  EXPECT_NE(error_of([] { load_pt_tensor(kPt + "slat_small.pt"); }).find("not a tensor"), std::string::npos);
  auto f = PtFile::open(kPt + "slat_small.pt");
  EXPECT_NE(error_of([&] { f.at(f.root(), "nope"); }).find("'nope'"), std::string::npos);
}

TEST(TorchPt, EveryTruncationIsAClearError) {
  const std::string bytes = read_bytes(kPt + "checkpoint.pt");
  test::TempDir dir;
  const std::string path = dir.path() + "/cut.pt";
  for (size_t n = 0; n < bytes.size(); n += 97) {
    write_bytes(path, bytes.substr(0, n));
    EXPECT_NE(error_of([&] { PtFile::open(path); }).find(path), std::string::npos) << n;
  }
}

TEST(TorchPt, StorageSizeLiesAreRejected) {
  // Our writer stores the 4-element tensor's numel as BININT1 4 right after "cpu": make it 5.
  test::TempDir dir;
  const std::string path = dir.path() + "/lie.pt";
  save_pt(path, PtValue(torch::ones({4})));
  std::string bytes = read_bytes(path);
  const auto at = bytes.find(std::string("cpu") + "K\x04");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 4] = 5;
  write_bytes(path, bytes);
  const std::string e1 = error_of([&] { PtFile::open(path); });
  EXPECT_NE(e1.find("should hold 5 float32 values"), std::string::npos) << e1;
}

TEST(TorchPt, PickleMachineRejectsBadPrograms) {
  using namespace std::string_literals;
  const std::string pid = "((X\x07\0\0\0storage"s + "ctorch\nFloatStorage\n" +
                          "X\x01\0\0\0"
                          "0"s +
                          "X\x03\0\0\0cpu"s + "K\x04tQ";
  const std::string rebuild =
      "\x80\x02"
      "ctorch._utils\n_rebuild_tensor_v2\n";
  // A view reaching past its 4-element storage: size (5,); then a 2×2 view that fits.
  const std::string past = rebuild + pid + "K\x00(K\x05t(K\x01t\x89Nt"s + "R.";
  EXPECT_NE(error_of([&] { pickle_of(past); }).find("reaches element 4"), std::string::npos);
  const std::string ok = rebuild + pid + "K\x00(K\x02K\x02t(K\x02K\x01t\x89Nt"s + "R.";
  EXPECT_EQ(pickle_of(ok).root->tensor.numel(), 4);
  EXPECT_NE(error_of([] { pickle_of("\x80\x02\xff."s); }).find("unsupported pickle opcode 0xff"), std::string::npos);
  EXPECT_NE(error_of([] {
              pickle_of(
                  "\x80\x02"
                  "cos\nsystem\n."s);
            }).find("unsupported global 'os.system'"),
            std::string::npos);
  EXPECT_NE(error_of([] { pickle_of("\x80\x02s."s); }).find("stack underflow"), std::string::npos);
  EXPECT_NE(error_of([] { pickle_of("\x80\x02X\xff\xff\xff\x7f"s); }).find("truncated"), std::string::npos);
  EXPECT_NE(error_of([] { pickle_of("\x80\x02h\x05."s); }).find("memo key 5"), std::string::npos);
  EXPECT_NE(error_of([] { pickle_of("\x80\x02NN."s); }).find("2 objects"), std::string::npos);
  // A list that contains itself parses (no recursion while parsing).
  EXPECT_EQ(pickle_of("\x80\x02]q\x00h\x00"
                      "a."s)
                .root->items.size(),
            1u);
}
