// ONNX export of the DirectPatchDecoder: the file declares the original's interface, and OpenCV DNN running it
// reproduces the libtorch decoder (max |Δ| ≤ 1e-4) for every decoder variant the exporter accepts.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "core/error.hpp"
#include "decode/direct_patch_decoder.hpp"
#include "export/decoder_onnx.hpp"
#include "export/onnx_builder.hpp"
#include "export/onnx_verify.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;
using namespace fresnel::onnx_export;

namespace {

// A small decoder whose last layer is scaled up so the raw outputs are O(1): positions move, scales leave the
// linear range, and the 6D rotations are far from identity, exercising all four quaternion cases.
decode::DirectPatchDecoder make_decoder(decode::DirectPatchDecoderOptions o, double last_gain = 25.0) {
  torch::manual_seed(11);
  o.hidden = {32, 24};
  auto d = decode::DirectPatchDecoder(o);
  torch::NoGradGuard ng;
  auto& last = *d->mlp->ptr(d->mlp->size() - 1)->as<torch::nn::LinearImpl>();
  last.weight.mul_(last_gain);
  last.bias.uniform_(-1.0, 1.0);
  d->depth_offset.fill_(1.7);
  d->eval();
  return d;
}

DecoderExportOptions small_export() {
  DecoderExportOptions e;
  e.depth_size = 74;  // keeps the test fast; 74 = 2·37 so depth fusion's pooling applies too
  return e;
}

}  // namespace

TEST(OnnxExport, DeclaresTheOriginalInterface) {
  test::TempDir dir;
  decode::DirectPatchDecoderOptions o;
  o.feature_dim = 12;  // C comes from the model, not the original's hard-coded 384
  o.gaussians_per_patch = 2;
  auto d = make_decoder(o);
  const auto s = export_direct_patch_decoder(d, DecoderExportOptions{}, dir.file("d.onnx"));
  EXPECT_EQ(s.gaussians, 37 * 37 * 2);
  const auto info = describe_onnx(dir.file("d.onnx"));
  EXPECT_GE(info.opset, 14);
  ASSERT_EQ(info.inputs.size(), 2u);
  EXPECT_EQ(info.inputs[0].first, "features");
  EXPECT_EQ(info.inputs[0].second, (std::vector<int64_t>{-1, 12, 37, 37}));
  EXPECT_EQ(info.inputs[1].first, "depth");
  EXPECT_EQ(info.inputs[1].second, (std::vector<int64_t>{-1, 1, 518, 518}));
  std::vector<std::string> outs;
  for (const auto& [name, dims] : info.outputs) outs.push_back(name);
  EXPECT_EQ(outs, (std::vector<std::string>{"positions", "scales", "rotations", "colors", "opacities"}));
  EXPECT_EQ(info.outputs[0].second, (std::vector<int64_t>{-1, 2738, 3}));
  EXPECT_EQ(info.outputs[4].second, (std::vector<int64_t>{-1, 2738}));
  // Only operators OpenCV 4.6 imports.
  for (const auto& op : info.op_types) {
    EXPECT_NE(op, "Where");
    EXPECT_NE(op, "Clip");
  }
}

TEST(OnnxExport, OpenCvMatchesLibtorch) {
  test::TempDir dir;
  decode::DirectPatchDecoderOptions o;
  o.feature_dim = 16;
  o.gaussians_per_patch = 3;
  auto d = make_decoder(o);
  const auto e = small_export();
  export_direct_patch_decoder(d, e, dir.file("d.onnx"));
  for (int64_t batch : {1, 2}) {
    const auto r = check_decoder_parity(d, e, dir.file("d.onnx"), batch, 100 + batch);
    for (const auto& [name, diff] : r.per_output) {
      EXPECT_LE(diff, 1e-4) << name << " batch " << batch;
      std::printf("batch %lld %-10s max |opencv - libtorch| = %.3g\n", (long long)batch, name.c_str(), diff);
    }
  }
  // The data really covered every quaternion case: rotations far from identity (w small) and each of
  // x, y, z as the largest vector component.
  torch::NoGradGuard ng;
  decode::DecoderInputs in;
  in.features = torch::randn({1, 16, 37, 37});
  in.depth = torch::rand({1, 1, 74, 74});
  const auto q = d->forward(in).gaussians.quats[0];
  const auto w = q.select(1, 0);
  EXPECT_GT((w < 0.5).sum().item<int64_t>(), 100);
  const auto dominant = q.narrow(1, 1, 3).abs().argmax(1);
  for (int64_t axis = 0; axis < 3; ++axis) EXPECT_GT((dominant == axis).sum().item<int64_t>(), 50) << axis;
}

TEST(OnnxExport, OpenCvMatchesLibtorchWithEveryDecoderOption) {
  test::TempDir dir;
  decode::DirectPatchDecoderOptions o;
  o.feature_dim = 8;
  o.gaussians_per_patch = 2;
  o.use_fresnel_zones = true;
  o.use_edge_aware = true;
  o.use_phase_output = true;
  o.use_depth_fusion = true;
  o.depth_feature_dim = 8;
  o.use_pose_encoding = true;  // not applied without elevation/azimuth inputs, as in the original's export
  auto d = make_decoder(o);
  const auto e = small_export();
  const auto s = export_direct_patch_decoder(d, e, dir.file("d.onnx"));
  EXPECT_EQ(s.outputs.back(), "phases");
  const auto r = check_decoder_parity(d, e, dir.file("d.onnx"), 2, 7);
  for (const auto& [name, diff] : r.per_output) EXPECT_LE(diff, 1e-4) << name;
  EXPECT_EQ(r.per_output.count("phases"), 1u);
}

TEST(OnnxExport, OpenCvMatchesLibtorchWithMetricDepth) {
  test::TempDir dir;
  decode::DirectPatchDecoderOptions o;
  o.feature_dim = 8;
  o.gaussians_per_patch = 1;
  o.depth_mode = decode::DepthMode::Metric;
  auto d = make_decoder(o);
  auto e = small_export();
  e.intrinsics = {1.1, 0.9, 0.45, 0.55};
  export_direct_patch_decoder(d, e, dir.file("d.onnx"));
  const auto r = check_decoder_parity(d, e, dir.file("d.onnx"), 1, 3);
  EXPECT_LE(r.max_abs_diff, 1e-4);
}

TEST(OnnxExport, UnsupportedCombinationIsAClearError) {
  test::TempDir dir;
  decode::DirectPatchDecoderOptions o;
  o.feature_dim = 8;
  o.depth_mode = decode::DepthMode::Metric;
  o.use_edge_aware = true;
  auto d = make_decoder(o);
  try {
    export_direct_patch_decoder(d, small_export(), dir.file("d.onnx"));
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("metric depth"), std::string::npos) << err.what();
  }
  EXPECT_FALSE(std::ifstream(dir.file("d.onnx")).good());
}

TEST(OnnxExport, PixelAlignedDecoderIsAClearError) {
  test::TempDir dir;
  decode::DirectPatchDecoderOptions o;
  o.feature_dim = 8;
  o.pixel_aligned = true;
  auto d = make_decoder(o);
  try {
    export_direct_patch_decoder(d, small_export(), dir.file("d.onnx"));
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("pixel-aligned"), std::string::npos) << err.what();
  }
  EXPECT_FALSE(std::ifstream(dir.file("d.onnx")).good());
}

TEST(OnnxExport, CorruptModelFileIsAClearError) {
  test::TempDir dir;
  test::write_bytes(dir.file("bad.onnx"), "this is not protobuf \x01\x02\x03");
  try {
    describe_onnx(dir.file("bad.onnx"));
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("bad.onnx"), std::string::npos) << err.what();
  }
}
