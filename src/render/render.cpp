// Public rasterizer API: input checks, the custom autograd Function around the CPU kernels, expected
// depth, and batches of scenes.
#include "render/render.hpp"

#include <torch/torch.h>

#include "core/error.hpp"
#include "render/raster_cpu.hpp"
#include "render/render_common.hpp"
#ifdef FRESNEL_WITH_CUDA
#include "render/raster_cuda.hpp"
#endif

namespace fresnel {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Autograd Function: inputs are the Gaussian tensors of one scene; outputs rgb (C,H,W,3),
// alpha (C,H,W) and accumulated depth (C,H,W) for every camera.
class RasterizeFunction : public torch::autograd::Function<RasterizeFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, Tensor means, Tensor quats, Tensor scales, Tensor opacities,
                               Tensor colors, Tensor phases, const std::vector<Camera>& cams,
                               const raster::Settings& settings) {
    const raster::Inputs in = render_detail::make_inputs(means, quats, scales, opacities, colors, phases);
    std::vector<Tensor> rgb, alpha, dacc, saved;
    for (const auto& cam : cams) {
#ifdef FRESNEL_WITH_CUDA
      raster::ForwardOut o =
          in.means.is_cuda() ? raster::forward_cuda(in, cam, settings) : raster::forward(in, cam, settings);
#else
      raster::ForwardOut o = raster::forward(in, cam, settings);
#endif
      rgb.push_back(o.rgb);
      alpha.push_back(o.alpha);
      dacc.push_back(o.depth_accum);
      raster::pack_state(o.state, saved);
    }
    render_detail::save_for_backward(ctx, {means, quats, scales, opacities, colors, phases}, saved, cams, settings);
    return {torch::stack(rgb), torch::stack(alpha), torch::stack(dacc)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto sv = render_detail::load_saved(ctx);
    const raster::Inputs& in = sv.in;
    const auto& cams = sv.cams;
    raster::Grads& g = sv.grads;
    const int64_t C = int64_t(cams.size());
    const int H = cams[0].height, W = cams[0].width;
    const auto opt = in.means.options();
    const Tensor g_rgb = render_detail::grad_or_zeros(grad_out[0], {C, H, W, 3}, opt);
    const Tensor g_alpha = render_detail::grad_or_zeros(grad_out[1], {C, H, W}, opt);
    const Tensor g_dacc = render_detail::grad_or_zeros(grad_out[2], {C, H, W}, opt);
    for (int64_t c = 0; c < C; ++c) {
      const raster::CameraState st = raster::unpack_state(sv.states, size_t(c));
#ifdef FRESNEL_WITH_CUDA
      if (in.means.is_cuda()) {
        raster::backward_cuda(in, cams[c], sv.settings, st, g_rgb[c].contiguous(), g_alpha[c].contiguous(),
                              g_dacc[c].contiguous(), g);
        continue;
      }
#endif
      raster::backward(in, cams[c], sv.settings, st, g_rgb[c], g_alpha[c], g_dacc[c], g);
    }
    return {g.means,  g.quats, g.scales, g.opacities, g.colors, sv.tensors[5].numel() > 0 ? g.phases : Tensor(),
            Tensor(), Tensor()};
  }
};

}  // namespace

RenderOutput render(const Gaussians& gaussians, const std::vector<Camera>& cameras, const RenderOptions& options) {
  render_detail::check_call("render", gaussians, cameras, /*batched=*/false);
  if (options.phase_blending && !gaussians.has_phases())
    throw Error("render: phase_blending needs gaussians.phases (N,3)");
  const raster::Settings settings = render_detail::settings_for(gaussians, options, options.phase_blending);
  auto t = render_detail::prepare_tensors(gaussians, options.phase_blending);
  // GPU tensors run on the CUDA kernels when they are built (alpha blending, float32); anything else is
  // rendered on the CPU and moved back (the moves are differentiable).
  const torch::Device device = t[0].device();
  bool on_device = false;
#ifdef FRESNEL_WITH_CUDA
  on_device = device.is_cuda() && !options.phase_blending && t[0].scalar_type() == torch::kFloat32;
#endif
  if (!device.is_cpu() && !on_device)
    for (auto& x : t) x = x.to(torch::kCPU);
  auto outs = RasterizeFunction::apply(t[0], t[1], t[2], t[3], t[4], t[5], cameras, settings);
  if (!device.is_cpu() && !on_device)
    for (auto& x : outs) x = x.to(device);
  RenderOutput out;
  out.rgb = outs[0];
  out.alpha = outs[1];
  out.depth_accum = outs[2];
  out.depth = render_detail::expected_depth(out.depth_accum, out.alpha);
  return out;
}

RenderOutput render_batch(const Gaussians& gaussians, const std::vector<std::vector<Camera>>& cameras,
                          const RenderOptions& options) {
  if (!gaussians.batched()) throw Error("render_batch: gaussians must have a batch dimension (B,N,…)");
  const int64_t B = gaussians.batch_size();
  if (int64_t(cameras.size()) != B)
    throw Error("render_batch: got " + std::to_string(cameras.size()) + " camera lists for " + std::to_string(B) +
                " scenes");
  std::vector<Tensor> rgb, alpha, depth, dacc;
  for (int64_t b = 0; b < B; ++b) {
    if (cameras[b].size() != cameras[0].size())
      throw Error("render_batch: every scene needs the same number of cameras");
    RenderOutput o = render(gaussians.batch(b), cameras[b], options);
    rgb.push_back(o.rgb);
    alpha.push_back(o.alpha);
    depth.push_back(o.depth);
    dacc.push_back(o.depth_accum);
  }
  return {torch::stack(rgb), torch::stack(alpha), torch::stack(depth), torch::stack(dacc)};
}

}  // namespace fresnel
