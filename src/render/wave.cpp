// Wave-field (QSR) renderer: autograd Function around the tile kernels in raster_cpu.cpp.
#include "render/wave.hpp"

#include <torch/torch.h>

#include "core/error.hpp"
#include "render/raster_cpu.hpp"
#include "render/render_common.hpp"

namespace fresnel {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class WaveFunction : public torch::autograd::Function<WaveFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, Tensor means, Tensor quats, Tensor scales, Tensor opacities,
                               Tensor colors, Tensor phases, const std::vector<Camera>& cams,
                               const raster::Settings& settings) {
    const raster::Inputs in = render_detail::make_inputs(means, quats, scales, opacities, colors, phases);
    std::vector<Tensor> intensity, coverage, saved;
    for (const auto& cam : cams) {
      raster::WaveOut o = raster::wave_forward(in, cam, settings);
      intensity.push_back(o.intensity);
      coverage.push_back(o.coverage);
      o.state.phasor = o.field;  // the wave field U is saved in the phasor slot
      raster::pack_state(o.state, saved);
    }
    ctx->save_for_backward({means, quats, scales, opacities, colors, phases});
    ctx->saved_data["states"] = saved;
    ctx->saved_data["cameras"] = render_detail::encode_cameras(cams);
    ctx->saved_data["settings"] = render_detail::encode_settings(settings);
    return {torch::stack(intensity), torch::stack(coverage)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto v = ctx->get_saved_variables();
    const raster::Inputs in = render_detail::make_inputs(v[0], v[1], v[2], v[3], v[4], v[5]);
    const auto cams = render_detail::decode_cameras(ctx->saved_data["cameras"].toTensor());
    const auto settings = render_detail::decode_settings(ctx->saved_data["settings"].toTensor());
    const auto saved = ctx->saved_data["states"].toTensorVector();
    raster::Grads g = render_detail::zero_grads(in);
    const int64_t C = int64_t(cams.size());
    const int H = cams[0].height, W = cams[0].width;
    const auto opt = in.means.options();
    const Tensor gI = grad_out[0].defined() ? grad_out[0].to(opt).contiguous() : torch::zeros({C, H, W, 3}, opt);
    const Tensor gC = grad_out[1].defined() ? grad_out[1].to(opt).contiguous() : torch::zeros({C, H, W}, opt);
    for (int64_t c = 0; c < C; ++c) {
      raster::WaveOut fwd;
      fwd.state = raster::unpack_state(saved, size_t(c));
      fwd.field = fwd.state.phasor;
      raster::wave_backward(in, cams[c], settings, fwd, gI[c], gC[c], g);
    }
    return {g.means, g.quats, g.scales, g.opacities, g.colors, g.phases, Tensor(), Tensor()};
  }
};

}  // namespace

WaveOutput render_wave(const Gaussians& gaussians, const std::vector<Camera>& cameras, const RenderOptions& options) {
  render_detail::check_call("render_wave", gaussians, cameras, /*batched=*/false);
  if (!gaussians.has_phases()) throw Error("render_wave: gaussians.phases (N,3) is required");
  const raster::Settings settings = render_detail::settings_for(gaussians, options, false);
  auto t = render_detail::prepare_tensors(gaussians, true);
  auto outs = WaveFunction::apply(t[0], t[1], t[2], t[3], t[4], t[5], cameras, settings);
  return {outs[0], outs[1]};
}

}  // namespace fresnel
