#include "export/decoder_onnx.hpp"

#include <torch/torch.h>

#include <cmath>

#include "core/error.hpp"
#include "export/onnx_builder.hpp"

namespace fresnel::onnx_export {
namespace {

using Cols = std::vector<int64_t>;

// Node helpers over 2-D "row" tensors (rows = B·h·w·K Gaussians, a few columns each). Column extraction and
// mixing are MatMuls with constant matrices, masks are 0/1 columns, so the graph needs no Slice/Where/Clip.
class RowGraph {
 public:
  explicit RowGraph(OnnxBuilder& b) : b_(b) {}

  std::string matmul(const std::string& x, const torch::Tensor& w) {
    return b_.node("MatMul", {x, b_.constant(w, "w")});
  }
  // x·Wᵀ + bias with W (out,in), as torch::nn::Linear stores it.
  std::string linear(const std::string& x, const torch::Tensor& w, const torch::Tensor& bias) {
    return b_.node("Gemm", {x, b_.constant(w, "weight"), b_.constant(bias, "bias")}, {{"transB", int64_t(1)}});
  }
  // Columns `cols` of a width-`width` row tensor (index −1 gives a zero column).
  std::string select(const std::string& x, int64_t width, const Cols& cols) {
    auto s = torch::zeros({width, int64_t(cols.size())});
    for (size_t j = 0; j < cols.size(); ++j)
      if (cols[j] >= 0) s[cols[j]][j] = 1.0;
    return matmul(x, s);
  }
  // A (R,1) column repeated to (R,n).
  std::string repeat(const std::string& col, int64_t n) { return matmul(col, torch::ones({1, n})); }
  // Sum of the columns of a (R,w) tensor as a (R,1) column.
  std::string row_sum(const std::string& x, int64_t w) { return matmul(x, torch::ones({w, 1})); }

  std::string op(const std::string& type, const std::string& x) { return b_.node(type, {x}); }
  std::string op(const std::string& type, const std::string& x, const std::string& y) { return b_.node(type, {x, y}); }
  std::string add(const std::string& x, const std::string& y) { return op("Add", x, y); }
  std::string sub(const std::string& x, const std::string& y) { return op("Sub", x, y); }
  std::string mul(const std::string& x, const std::string& y) { return op("Mul", x, y); }
  std::string div(const std::string& x, const std::string& y) { return op("Div", x, y); }
  std::string addc(const std::string& x, double c) { return b_.node("Add", {x, b_.scalar(float(c))}); }
  std::string mulc(const std::string& x, double c) { return b_.node("Mul", {x, b_.scalar(float(c))}); }
  std::string relu(const std::string& x) { return op("Relu", x); }

  // clamp(x, lo, hi) = lo + relu(x − lo) − relu(x − hi) (OpenCV 4.6 rejects Clip with min/max inputs).
  std::string clamp(const std::string& x, double lo, double hi) {
    return addc(sub(relu(addc(x, -lo)), relu(addc(x, -hi))), lo);
  }
  std::string clamp_min(const std::string& x, double lo) { return addc(relu(addc(x, -lo)), lo); }
  // 1 where x > 0, else 0 (Sign of Relu: exact, no tie at 0).
  std::string positive(const std::string& x) { return op("Sign", relu(x)); }
  std::string one_minus(const std::string& mask) { return addc(mulc(mask, -1.0), 1.0); }
  // mask ? a : b for a 0/1 mask of a's shape; products with exact 0/1 keep the selected value exact.
  std::string select_if(const std::string& mask, const std::string& a, const std::string& b) {
    return add(mul(mask, a), mul(one_minus(mask), b));
  }
  // x / max(|x|, eps) for (R,w) rows.
  std::string normalize(const std::string& x, int64_t w, double eps) {
    auto n = op("Sqrt", row_sum(mul(x, x), w));
    return div(x, repeat(clamp_min(n, eps), w));
  }
  std::string dot3(const std::string& a, const std::string& b) { return repeat(row_sum(mul(a, b), 3), 3); }
  std::string cross(const std::string& a, const std::string& b) {
    const Cols yzx = {1, 2, 0}, zxy = {2, 0, 1};
    return sub(mul(select(a, 3, yzx), select(b, 3, zxy)), mul(select(a, 3, zxy), select(b, 3, yzx)));
  }

  OnnxBuilder& builder() { return b_; }

 private:
  OnnxBuilder& b_;
};

// (R,6) 6D rotations → (R,4) unit quaternions (w,x,y,z), w ≥ 0: the graph form of
// decode::rotation_6d_to_quaternion (Gram–Schmidt, degenerate fallbacks, Shepperd's four cases).
std::string rotation_6d_to_quaternion(RowGraph& g, const std::string& r6) {
  const double eps = 1e-6;
  auto a1 = g.select(r6, 6, {0, 1, 2}), a2 = g.select(r6, 6, {3, 4, 5});
  const auto ex = torch::tensor({1.f, 0.f, 0.f}), ey = torch::tensor({0.f, 1.f, 0.f});
  // b1 = a1/|a1|, or the x axis when |a1| ≤ eps.
  auto n1 = g.op("Sqrt", g.row_sum(g.mul(a1, a1), 3));
  auto m1 = g.positive(g.addc(n1, -eps));
  auto b1_main = g.div(a1, g.repeat(g.clamp_min(n1, eps), 3));
  auto b1 = g.add(g.mul(g.repeat(m1, 3), b1_main), g.matmul(g.one_minus(m1), ex.view({1, 3})));
  // b2 = normalised a2 ⟂ b1, or an axis ⟂ b1 (x unless b1 is near x, then y).
  auto b2raw = g.sub(a2, g.mul(g.dot3(b1, a2), b1));
  auto n2 = g.op("Sqrt", g.row_sum(g.mul(b2raw, b2raw), 3));
  auto m2 = g.positive(g.addc(n2, -eps));
  auto near_x = g.positive(g.addc(g.mulc(g.op("Abs", g.select(b1, 3, {0})), -1.0), 0.9));  // |b1.x| < 0.9
  auto alt_axis = g.linear(near_x, (ex - ey).view({3, 1}), ey);                            // ex or ey
  auto alt = g.normalize(g.sub(alt_axis, g.mul(g.dot3(b1, alt_axis), b1)), 3, eps);
  auto b2_main = g.div(b2raw, g.repeat(g.clamp_min(n2, eps), 3));
  auto b2 = g.select_if(g.repeat(m2, 3), b2_main, alt);
  auto b3 = g.cross(b1, b2);
  // R = [b1 b2 b3] as columns; m9 column 3j+i holds R_ij.
  auto m9 = g.builder().node("Concat", {b1, b2, b3}, {{"axis", int64_t(1)}});
  auto R = [](int i, int j) { return 3 * j + i; };
  // Linear combinations of R's entries needed by Shepperd's method, plus constant offsets (via the bias).
  struct Combo {
    std::vector<std::pair<int, float>> terms;
    float offset;
  };
  const std::vector<Combo> combos = {
      {{{R(0, 0), 1}, {R(1, 1), 1}, {R(2, 2), 1}}, 0},    // 0 trace
      {{{R(2, 1), 1}, {R(1, 2), -1}}, 0},                 // 1 m21 − m12
      {{{R(0, 2), 1}, {R(2, 0), -1}}, 0},                 // 2 m02 − m20
      {{{R(1, 0), 1}, {R(0, 1), -1}}, 0},                 // 3 m10 − m01
      {{{R(0, 1), 1}, {R(1, 0), 1}}, 0},                  // 4 m01 + m10
      {{{R(0, 2), 1}, {R(2, 0), 1}}, 0},                  // 5 m02 + m20
      {{{R(1, 2), 1}, {R(2, 1), 1}}, 0},                  // 6 m12 + m21
      {{{R(0, 0), 1}, {R(1, 1), 1}, {R(2, 2), 1}}, 1},    // 7 trace + 1
      {{{R(0, 0), 1}, {R(1, 1), -1}, {R(2, 2), -1}}, 1},  // 8 1 + m00 − m11 − m22
      {{{R(1, 1), 1}, {R(0, 0), -1}, {R(2, 2), -1}}, 1},  // 9 1 + m11 − m00 − m22
      {{{R(2, 2), 1}, {R(0, 0), -1}, {R(1, 1), -1}}, 1},  // 10 1 + m22 − m00 − m11
      {{{R(0, 0), 1}, {R(1, 1), -1}}, 0},                 // 11 m00 − m11
      {{{R(0, 0), 1}, {R(2, 2), -1}}, 0},                 // 12 m00 − m22
      {{{R(1, 1), 1}, {R(2, 2), -1}}, 0},                 // 13 m11 − m22
  };
  const int64_t nc = int64_t(combos.size());
  auto W = torch::zeros({nc, 9}), bias = torch::zeros({nc});
  for (int64_t c = 0; c < nc; ++c) {
    for (const auto& [col, w] : combos[c].terms) W[c][col] = w;
    bias[c] = combos[c].offset;
  }
  auto v = g.linear(m9, W, bias);  // (R,14)
  // Case k: s = 2·sqrt(max(arg, 1e-10)); q = numerators / s with 0.25·s in the dominant component.
  auto candidate = [&](int arg_col, const Cols& numerator_cols, int dominant) {
    auto s = g.mulc(g.op("Sqrt", g.clamp_min(g.select(v, nc, {arg_col}), 1e-10)), 2.0);
    auto q = g.div(g.select(v, nc, numerator_cols), g.repeat(s, 4));
    auto place = torch::zeros({1, 4});
    place[0][dominant] = 0.25;
    return g.add(q, g.matmul(s, place));
  };
  auto q1 = candidate(7, {-1, 1, 2, 3}, 0);
  auto q2 = candidate(8, {1, -1, 4, 5}, 1);
  auto q3 = candidate(9, {2, 4, -1, 6}, 2);
  auto q4 = candidate(10, {3, 5, 6, -1}, 3);
  auto c1 = g.repeat(g.positive(g.select(v, nc, {0})), 4);
  auto c2 = g.repeat(g.mul(g.positive(g.select(v, nc, {11})), g.positive(g.select(v, nc, {12}))), 4);
  auto c3 = g.repeat(g.positive(g.select(v, nc, {13})), 4);
  auto q = g.select_if(c1, q1, g.select_if(c2, q2, g.select_if(c3, q3, q4)));
  q = g.normalize(q, 4, 1e-12);
  // One hemisphere: flip when w < 0.
  auto negative_w = g.positive(g.mulc(g.select(q, 4, {0}), -1.0));
  return g.mul(q, g.repeat(g.addc(g.mulc(negative_w, -2.0), 1.0), 4));
}

// Conv2d / Linear modules of a Sequential, in order (ReLU and Dropout carry no weights).
template <typename M>
std::vector<M> modules_of(const torch::nn::Sequential& seq) {
  std::vector<M> out;
  for (const auto& child : seq->children())
    if (auto* m = child->as<typename M::Impl>()) out.push_back(M(std::dynamic_pointer_cast<typename M::Impl>(child)));
  return out;
}

std::string conv(OnnxBuilder& b, const std::string& x, torch::nn::Conv2d c) {
  // The decoders' convolutions are stride-1 "same" convolutions (decode/decoder_common.cpp); confirm that on a
  // probe input rather than reading the padding variant, whose type differs between libtorch versions.
  const int64_t kh = c->weight.size(2), kw = c->weight.size(3);
  const auto probe = c->forward(torch::zeros({1, c->weight.size(1), 2 * kh + 1, 2 * kw + 1}));
  if (probe.size(2) != 2 * kh + 1 || probe.size(3) != 2 * kw + 1 || kh % 2 == 0 || kw % 2 == 0)
    throw Error("ONNX export: only stride-1 'same' convolutions with odd kernels are supported");
  std::vector<std::string> in = {x, b.constant(c->weight, "conv_w")};
  if (c->bias.defined()) in.push_back(b.constant(c->bias, "conv_b"));
  return b.node(
      "Conv", in,
      {{"kernel_shape", std::vector<int64_t>{kh, kw}}, {"pads", std::vector<int64_t>{kh / 2, kw / 2, kh / 2, kw / 2}}});
}

// Conv → ReLU chain of a Sequential whose every Conv2d is followed by a ReLU except possibly the last.
std::string conv_stack(OnnxBuilder& b, const std::string& x, const torch::nn::Sequential& seq, bool relu_after_last) {
  const auto convs = modules_of<torch::nn::Conv2d>(seq);
  std::string y = x;
  for (size_t i = 0; i < convs.size(); ++i) {
    y = conv(b, y, convs[i]);
    if (i + 1 < convs.size() || relu_after_last) y = b.node("Relu", {y});
  }
  return y;
}

// (B,1,h,w) map → (B·h·w·K, 1) rows, each patch value repeated for its K Gaussians.
std::string map_to_rows(RowGraph& g, const std::string& map, int64_t K) {
  auto& b = g.builder();
  auto col = b.node("Reshape", {map, b.shape({-1, 1})});
  return b.node("Reshape", {g.repeat(col, K), b.shape({-1, 1})});
}

}  // namespace

ExportSummary export_direct_patch_decoder(decode::DirectPatchDecoder& decoder, const DecoderExportOptions& eo,
                                          const std::string& path) {
  const auto& o = decoder->options();
  if (eo.opset < 14) throw UsageError("ONNX export: opset must be at least 14");
  if (o.pixel_aligned)
    throw Error(
        "ONNX export: this is a pixel-aligned decoder (DirectPatchDecoderOptions::pixel_aligned): its "
        "colours are residuals on the input image, which the original's ONNX interface (inputs features, "
        "depth) does not carry; export a model trained without pixel-aligned colours, or run the checkpoint "
        "with the inference pipeline (`fresnel infer`)");
  if (o.depth_mode == decode::DepthMode::Metric && (o.use_fresnel_zones || o.use_edge_aware))
    throw Error(
        "ONNX export: Fresnel zones and edge-aware placement with metric depth are not expressible in the "
        "ONNX graph (they need per-image min/max normalisation); export a model trained with "
        "normalised depth or without these options");
  if (o.use_depth_fusion && (eo.depth_size % eo.grid_h != 0 || eo.depth_size % eo.grid_w != 0))
    throw Error("ONNX export: depth fusion needs DecoderExportOptions::depth_size divisible by the feature grid (" +
                std::to_string(eo.grid_h) + ")");
  torch::NoGradGuard no_grad;
  decoder->eval();

  const int64_t C = o.feature_dim, h = eo.grid_h, w = eo.grid_w, K = o.gaussians_per_patch;
  const int64_t P = decoder->params_per_gaussian(), M = h * w * K, D = eo.depth_size;
  OnnxBuilder b(eo.opset, "fresnel_direct_patch_decoder");
  RowGraph g(b);
  b.add_input("features", {-1, C, h, w});
  b.add_input("depth", {-1, 1, D, D});

  // Depth on the feature grid: bilinear, half-pixel centres (= torch align_corners=false).
  auto scale_for = [&](int64_t out) {
    float s = float(out) / float(D);
    while (std::floor(float(D) * s) < float(out)) s = std::nextafter(s, 1.f);  // guard the output size
    return s;
  };
  auto grid = b.node("Resize",
                     {"depth", b.constant(torch::zeros({0}), "roi"),
                      b.constant(torch::tensor({1.f, 1.f, scale_for(h), scale_for(w)}), "scales")},
                     {{"mode", std::string("linear")}, {"coordinate_transformation_mode", std::string("half_pixel")}});
  std::string z_map, d_norm;
  const float offset = decoder->depth_offset.item<float>();
  if (o.depth_mode == decode::DepthMode::Normalized) {
    d_norm = g.clamp(grid, 0.0, 1.0);
    if (o.use_fresnel_zones) {  // centre of the uniform zone: (clamp(floor(d·n), 0, n−1) + 0.5)/n
      const double n = double(o.num_fresnel_zones);
      d_norm = g.mulc(g.addc(g.clamp(g.op("Floor", g.mulc(d_norm, n)), 0.0, n - 1), 0.5), 1.0 / n);
    }
    z_map = g.addc(g.mulc(d_norm, -2.0), double(offset) + 2.0);  // decode::normalized_depth_to_z
  } else {
    z_map = grid;
  }

  // Per-patch MLP on (B·h·w, C) rows; depth fusion appends the depth encoder's channels.
  std::string feats = "features";
  int64_t in_channels = C;
  if (o.use_depth_fusion) {
    auto enc = conv_stack(b, "depth", decoder->depth_encoder->net, /*relu_after_last=*/true);
    enc =
        b.node("AveragePool", {enc},
               {{"kernel_shape", std::vector<int64_t>{D / h, D / w}}, {"strides", std::vector<int64_t>{D / h, D / w}}});
    feats = b.node("Concat", {feats, enc}, {{"axis", int64_t(1)}});
    in_channels += o.depth_feature_dim;
  }
  auto x = b.node("Transpose", {feats}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}});
  x = b.node("Reshape", {x, b.shape({-1, in_channels})});
  const auto linears = modules_of<torch::nn::Linear>(decoder->mlp);
  for (size_t i = 0; i < linears.size(); ++i) {
    x = g.linear(x, linears[i]->weight, linears[i]->bias);
    if (i + 1 < linears.size()) x = g.relu(x);
  }
  auto raw = b.node("Reshape", {x, b.shape({-1, P})});  // (B·h·w·K, P), rows in (row, col, k) order

  // Edge strength per patch (normalised depth only).
  std::string edge_rows;
  if (o.use_edge_aware) {
    auto& ed = decoder->edge_detector;
    const auto pad1 = std::vector<int64_t>{1, 1, 1, 1};
    auto sob = [&](const torch::Tensor& k) {
      return b.node("Conv", {d_norm, b.constant(k, "sobel")},
                    {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"pads", pad1}});
    };
    auto stacked = b.node("Concat", {d_norm, sob(ed->sobel_x), sob(ed->sobel_y)}, {{"axis", int64_t(1)}});
    auto e = b.node("Sigmoid", {conv_stack(b, stacked, ed->net, /*relu_after_last=*/false)});
    edge_rows = map_to_rows(g, e, K);
  }

  // Positions: the patch centre (u,v) plus the offset, unprojected at the patch depth.
  const auto& k_in = eo.intrinsics;
  auto u_grid = torch::empty({h, w, K, 1}), v_grid = torch::empty({h, w, K, 1});
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      u_grid.select(0, i).select(0, j).fill_((double(j) + 0.5) / double(w) - k_in[2]);
      v_grid.select(0, i).select(0, j).fill_((double(i) + 0.5) / double(h) - k_in[3]);
    }
  auto to3 = [&](const std::string& rows, int64_t cols) { return b.node("Reshape", {rows, b.shape({-1, M, cols})}); };
  auto z3 = to3(map_to_rows(g, z_map, K), 1);
  const double half_offset = 0.5 * o.position_offset_scale;
  auto coord = [&](int64_t col, const torch::Tensor& centre, double focal) {
    auto u =
        b.node("Add", {to3(g.mulc(g.select(raw, P, {col}), half_offset), 1), b.constant(centre.view({M, 1}), "grid")});
    return g.mul(g.mulc(u, 1.0 / focal), z3);
  };
  auto positions = b.node("Concat", {coord(0, u_grid, k_in[0]), coord(1, v_grid, k_in[1]), z3}, {{"axis", int64_t(2)}});

  // Scales, rotations, colours, opacities (decode::activate_scale, 6D relative to identity, sigmoids).
  auto scales = g.clamp(g.mulc(g.op("Softplus", g.addc(g.clamp(g.select(raw, P, {3, 4, 5}), -10.0, 20.0), 1.0)), 0.15),
                        1e-6, 2.0);
  auto sel6 = torch::zeros({6, P});
  for (int64_t c = 0; c < 6; ++c) sel6[c][6 + c] = 1.0;
  auto quats = rotation_6d_to_quaternion(g, g.linear(raw, sel6, torch::tensor({1.f, 0.f, 0.f, 0.f, 1.f, 0.f})));
  auto colors = g.op("Sigmoid", g.select(raw, P, {12, 13, 14}));
  auto opacities = g.op("Sigmoid", g.select(raw, P, {15}));
  if (!edge_rows.empty()) {
    scales = g.mul(scales, g.repeat(g.addc(g.mulc(edge_rows, -o.edge_scale_factor), 1.0), 3));
    opacities = g.clamp(g.add(opacities, g.mulc(edge_rows, o.edge_opacity_boost)), 0.0, 1.0);
  }

  ExportSummary summary;
  summary.gaussians = M;
  auto emit = [&](const std::string& value, const std::string& name, int64_t cols) {
    b.node("Reshape", {value, b.shape(cols > 0 ? std::vector<int64_t>{-1, M, cols} : std::vector<int64_t>{-1, M})}, {},
           name);
    b.add_output(name, cols > 0 ? std::vector<int64_t>{-1, M, cols} : std::vector<int64_t>{-1, M});
    summary.outputs.push_back(name);
  };
  emit(positions, "positions", 3);
  emit(scales, "scales", 3);
  emit(quats, "rotations", 4);
  emit(colors, "colors", 3);
  emit(opacities, "opacities", 0);
  if (o.use_phase_output) emit(g.mulc(g.op("Sigmoid", g.select(raw, P, {16, 17, 18})), 2.0 * M_PI), "phases", 3);
  summary.nodes = b.node_count();
  b.save(path, "Fresnel DirectPatchDecoder: features (B," + std::to_string(C) + "," + std::to_string(h) + "," +
                   std::to_string(w) + "), depth (B,1," + std::to_string(D) + "," + std::to_string(D) +
                   ") -> Gaussians in the input camera frame (OpenCV axes)");
  return summary;
}

}  // namespace fresnel::onnx_export
