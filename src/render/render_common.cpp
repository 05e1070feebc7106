// Helpers shared by the rasterizer and wave-field autograd Functions.
#include "render/render_common.hpp"

#include "core/error.hpp"

namespace fresnel::render_detail {

using torch::Tensor;

namespace {
std::string shape_str(const Tensor& t) {
  std::string s = "(";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + ")";
}
}  // namespace

void check_call(const std::string& where, const Gaussians& g, const std::vector<Camera>& cams, bool batched) {
  if (!g.means.defined()) throw Error(where + ": gaussians.means is undefined");
  if (g.batched() != batched)
    throw Error(where + (batched ? ": expected batched Gaussians (B,N,3)"
                                 : ": expected unbatched Gaussians (N,3); "
                                   "use render_batch for (B,N,3)"));
  if (cams.empty()) throw Error(where + ": no cameras");
  for (const auto& c : cams) {
    if (c.width <= 0 || c.height <= 0) throw Error(where + ": camera image size must be positive");
    if (c.width != cams[0].width || c.height != cams[0].height)
      throw Error(where + ": all cameras of one call must share the image size");
    if (!(c.fx > 0) || !(c.fy > 0)) throw Error(where + ": camera focal lengths must be positive");
    if (!(c.near_plane > 0)) throw Error(where + ": camera near plane must be positive");
  }
  const int64_t n = g.means.size(0);
  auto expect = [&](const Tensor& t, const char* name, std::vector<int64_t> shape) {
    if (!t.defined()) throw Error(where + ": gaussians." + name + " is undefined");
    bool ok = t.dim() == int64_t(shape.size());
    for (size_t i = 0; ok && i < shape.size(); ++i) ok = t.size(int64_t(i)) == shape[i];
    if (!ok) throw Error(where + ": gaussians." + name + " has shape " + shape_str(t));
    if (!t.is_floating_point()) throw Error(where + ": gaussians." + name + " must be floating point");
  };
  if (g.means.dim() != 2 || g.means.size(1) != 3)
    throw Error(where + ": gaussians.means must be (N,3), got " + shape_str(g.means));
  expect(g.quats, "quats", {n, 4});
  expect(g.scales, "scales", {n, 3});
  expect(g.opacities, "opacities", {n});
  if (!g.colors.defined()) throw Error(where + ": gaussians.colors is undefined");
  if (g.colors.dim() == 2)
    expect(g.colors, "colors", {n, 3});
  else if (g.colors.dim() != 3 || g.colors.size(0) != n || g.colors.size(2) != 3 ||
           sh_degree_for_coeffs(g.colors.size(1)) < 0)
    throw Error(where + ": gaussians.colors must be (N,3) or (N,K,3) with K in {1,4,9,16}, got " + shape_str(g.colors));
  if (g.phases.defined()) expect(g.phases, "phases", {n, 3});
  if (n > int64_t(INT32_MAX)) throw Error(where + ": too many Gaussians");
}

raster::Settings settings_for(const Gaussians& g, const RenderOptions& o, bool phase_mode) {
  raster::Settings s;
  for (int i = 0; i < 3; ++i) s.background[i] = o.background[i];
  const int data = g.sh_degree();
  s.sh_degree = o.sh_degree < 0 ? data : std::min(o.sh_degree, data);
  s.mode = phase_mode ? raster::BlendMode::kPhase : raster::BlendMode::kAlpha;
  s.phase_amplitude = o.phase_amplitude;
  s.filter_variance = o.screen_filter.variance_px2;
  s.mip_filter = o.screen_filter.is_mip();
  return s;
}

std::vector<Tensor> prepare_tensors(const Gaussians& g, bool need_phases) {
  const auto dt = g.means.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  auto prep = [&](const Tensor& t) { return t.to(dt).contiguous(); };
  return {prep(g.means),  prep(g.quats),
          prep(g.scales), prep(g.opacities),
          prep(g.colors), need_phases ? prep(g.phases) : torch::empty({0}, torch::TensorOptions().dtype(dt))};
}

raster::Inputs make_inputs(const Tensor& means, const Tensor& quats, const Tensor& scales, const Tensor& opacities,
                           const Tensor& colors, const Tensor& phases) {
  raster::Inputs in;
  in.means = means;
  in.quats = quats;
  in.scales = scales;
  in.opacities = opacities;
  in.colors = colors;
  if (phases.defined() && phases.numel() > 0) in.phases = phases;
  return in;
}

raster::Grads zero_grads(const raster::Inputs& in) {
  raster::Grads g;
  g.means = torch::zeros_like(in.means);
  g.quats = torch::zeros_like(in.quats);
  g.scales = torch::zeros_like(in.scales);
  g.opacities = torch::zeros_like(in.opacities);
  g.colors = torch::zeros_like(in.colors);
  if (in.phases.defined()) g.phases = torch::zeros_like(in.phases);
  return g;
}

// Per camera: 16 view entries, fx, fy, cx, cy, near, far, width, height.
Tensor encode_cameras(const std::vector<Camera>& cams) {
  auto t = torch::empty({int64_t(cams.size()), 24}, torch::kFloat64);
  auto a = t.accessor<double, 2>();
  for (size_t i = 0; i < cams.size(); ++i) {
    const auto& c = cams[i];
    for (int k = 0; k < 16; ++k) a[i][k] = c.world_to_camera[k];
    a[i][16] = c.fx;
    a[i][17] = c.fy;
    a[i][18] = c.cx;
    a[i][19] = c.cy;
    a[i][20] = c.near_plane;
    a[i][21] = c.far_plane;
    a[i][22] = c.width;
    a[i][23] = c.height;
  }
  return t;
}

std::vector<Camera> decode_cameras(const Tensor& t) {
  auto a = t.accessor<double, 2>();
  std::vector<Camera> cams(t.size(0));
  for (int64_t i = 0; i < t.size(0); ++i) {
    auto& c = cams[i];
    for (int k = 0; k < 16; ++k) c.world_to_camera[k] = a[i][k];
    c.fx = a[i][16];
    c.fy = a[i][17];
    c.cx = a[i][18];
    c.cy = a[i][19];
    c.near_plane = a[i][20];
    c.far_plane = a[i][21];
    c.width = int(a[i][22]);
    c.height = int(a[i][23]);
  }
  return cams;
}

Tensor encode_settings(const raster::Settings& s) {
  return torch::tensor({s.background[0], s.background[1], s.background[2], double(s.sh_degree), double(int(s.mode)),
                        s.phase_amplitude, s.filter_variance, s.mip_filter ? 1.0 : 0.0},
                       torch::kFloat64);
}

raster::Settings decode_settings(const Tensor& t) {
  auto a = t.accessor<double, 1>();
  raster::Settings s;
  for (int i = 0; i < 3; ++i) s.background[i] = a[i];
  s.sh_degree = int(a[3]);
  s.mode = raster::BlendMode(int(a[4]));
  s.phase_amplitude = a[5];
  s.filter_variance = a[6];
  s.mip_filter = a[7] != 0;
  return s;
}

Tensor expected_depth(const Tensor& depth_accum, const Tensor& alpha) {
  return torch::where(alpha > 0, depth_accum / alpha.clamp_min(1e-12), torch::zeros_like(alpha));
}

void save_for_backward(torch::autograd::AutogradContext* ctx, const std::vector<torch::Tensor>& gaussian_tensors,
                       const std::vector<torch::Tensor>& states, const std::vector<Camera>& cams,
                       const raster::Settings& settings) {
  ctx->save_for_backward(gaussian_tensors);
  ctx->saved_data["states"] = states;
  ctx->saved_data["cameras"] = encode_cameras(cams);
  ctx->saved_data["settings"] = encode_settings(settings);
}

SavedForBackward load_saved(torch::autograd::AutogradContext* ctx) {
  SavedForBackward s;
  s.tensors = ctx->get_saved_variables();
  const auto& v = s.tensors;
  s.in = make_inputs(v[0], v[1], v[2], v[3], v[4], v[5]);
  s.cams = decode_cameras(ctx->saved_data["cameras"].toTensor());
  s.settings = decode_settings(ctx->saved_data["settings"].toTensor());
  s.states = ctx->saved_data["states"].toTensorVector();
  s.grads = zero_grads(s.in);
  return s;
}

torch::Tensor grad_or_zeros(const torch::Tensor& grad, at::IntArrayRef shape, const torch::TensorOptions& opt) {
  return grad.defined() ? grad.to(opt).contiguous() : torch::zeros(shape, opt);
}

}  // namespace fresnel::render_detail
