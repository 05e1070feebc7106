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
    render_detail::save_for_backward(ctx, {means, quats, scales, opacities, colors, phases}, saved, cams, settings);
    return {torch::stack(intensity), torch::stack(coverage)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto sv = render_detail::load_saved(ctx);
    raster::Grads& g = sv.grads;
    const int64_t C = int64_t(sv.cams.size());
    const int H = sv.cams[0].height, W = sv.cams[0].width;
    const auto opt = sv.in.means.options();
    const Tensor gI = render_detail::grad_or_zeros(grad_out[0], {C, H, W, 3}, opt);
    const Tensor gC = render_detail::grad_or_zeros(grad_out[1], {C, H, W}, opt);
    for (int64_t c = 0; c < C; ++c) {
      raster::WaveOut fwd;
      fwd.state = raster::unpack_state(sv.states, size_t(c));
      fwd.field = fwd.state.phasor;
      raster::wave_backward(sv.in, sv.cams[c], sv.settings, fwd, gI[c], gC[c], g);
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
