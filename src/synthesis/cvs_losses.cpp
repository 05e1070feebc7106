#include "synthesis/cvs_losses.hpp"

#include <torch/torch.h>

#include <cmath>

#include "core/error.hpp"
#include "metrics/lpips.hpp"

namespace fresnel::synthesis {

namespace F = torch::nn::functional;
using torch::indexing::Slice;

torch::Tensor depth_laplacian(const torch::Tensor& d) {
  return (torch::roll(d, 1, -2) + torch::roll(d, -1, -2) + torch::roll(d, 1, -1) + torch::roll(d, -1, -1) - 4 * d)
      .abs();
}

torch::Tensor quality_mask(const torch::Tensor& depth, double threshold, double sharpness) {
  return torch::sigmoid(-sharpness * (depth_laplacian(depth) - threshold));
}

torch::Tensor gradient_penalty(const torch::Tensor& img, const torch::Tensor& mask) {
  auto gx = (img.index({"...", Slice(), Slice(0, -1)}) - img.index({"...", Slice(), Slice(1)})).abs();
  auto gy = (img.index({"...", Slice(0, -1), Slice()}) - img.index({"...", Slice(1), Slice()})).abs();
  if (!mask.defined()) return gx.mean() + gy.mean();
  return (gx * mask.index({"...", Slice(), Slice(0, -1)})).mean() +
         (gy * mask.index({"...", Slice(0, -1), Slice()})).mean();
}

torch::Tensor boundary_loss(const torch::Tensor& pred, const torch::Tensor& target, const torch::Tensor& depth) {
  auto bx = ((depth.index({"...", Slice(), Slice(0, -1)}) - depth.index({"...", Slice(), Slice(1)})).abs() > 0.01)
                .to(pred.scalar_type());
  auto by = ((depth.index({"...", Slice(0, -1), Slice()}) - depth.index({"...", Slice(1), Slice()})).abs() > 0.01)
                .to(pred.scalar_type());
  auto err = (pred - target).abs().mean(1, true);
  return (err.index({"...", Slice(), Slice(0, -1)}) * bx).mean() +
         (err.index({"...", Slice(0, -1), Slice()}) * by).mean();
}

double progressive_consistency_weight(int64_t epoch, int64_t epochs) {
  const double p = double(epoch) / double(std::max<int64_t>(1, epochs));
  return p < 0.33 ? 0.1 : (p < 0.66 ? 0.3 : 1.0);
}

PerceptualStackImpl::PerceptualStackImpl(uint64_t seed) {
  auto conv = [](int64_t i, int64_t o) { return torch::nn::Conv2d(torch::nn::Conv2dOptions(i, o, 3).padding(1)); };
  net = register_module(
      "net", torch::nn::Sequential(conv(3, 64), torch::nn::ReLU(), conv(64, 64), torch::nn::ReLU(),
                                   torch::nn::MaxPool2d(2), conv(64, 128), torch::nn::ReLU(), conv(128, 128),
                                   torch::nn::ReLU(), torch::nn::MaxPool2d(2), conv(128, 256), torch::nn::ReLU()));
  auto gen = at::detail::createCPUGenerator(seed);
  torch::NoGradGuard ng;
  // Conv2d's default bounds 1/√fan_in for weight and bias (kaiming_uniform with a = √5), from the seed.
  for (auto& m : net->children()) {
    auto* c = m->as<torch::nn::Conv2d>();
    if (!c) continue;
    const double bound = 1.0 / std::sqrt(double(c->weight.size(1) * 9));
    c->weight.copy_(at::rand(c->weight.sizes(), gen) * (2 * bound) - bound);
    c->bias.copy_(at::rand(c->bias.sizes(), gen) * (2 * bound) - bound);
  }
  for (auto& p : parameters()) p.set_requires_grad(false);
}

torch::Tensor PerceptualStackImpl::forward(const torch::Tensor& x) { return net->forward(x); }

torch::Tensor consistency_step_back(const torch::Tensor& x0, const torch::Tensor& x_t, const torch::Tensor& a_t,
                                    const torch::Tensor& a_prev) {
  auto at = a_t.view({-1, 1, 1, 1}), ap = a_prev.view({-1, 1, 1, 1});
  auto x = ap * x0 + (1 - ap) / (1 - at + 1e-8) * (x_t - at * x0);
  return x.clamp(-1, 1).detach();
}

train::LossTerms cvs_losses(const CvsLossConfig& c, const CvsLossInputs& in, PerceptualStack* perceptual,
                            const Lpips* lpips) {
  train::LossTerms out;
  auto& T = out.terms;
  if (!c.use_gaussian_targets) {
    T["l1"] = c.lambda_reconstruction * F::l1_loss(in.pred, in.target);
    if (c.lambda_perceptual > 0) {
      if (!perceptual) throw Error("CVS loss: the perceptual term needs the perceptual stack");
      T["perceptual"] = c.lambda_perceptual * F::l1_loss((*perceptual)(in.pred), (*perceptual)(in.target));
    }
    if (in.ema_pred.defined() && c.lambda_consistency > 0)
      T["consistency"] = c.lambda_consistency * F::mse_loss(in.pred, in.ema_pred.detach());
  } else {
    if (!in.target_depth.defined()) throw Error("CVS loss: --use_gaussian_targets needs target depth maps");
    auto q = c.quality_weighting ? quality_mask(in.target_depth, c.quality_threshold, c.quality_sharpness)
                                 : torch::ones_like(in.target_depth);
    T["l1_weighted"] = c.lambda_reconstruction * ((in.pred - in.target).abs() * q).mean();
    if (c.lambda_perceptual > 0 && lpips)
      T["perceptual"] =
          c.lambda_perceptual * lpips->distance(((in.pred + 1) * 0.5).clamp(0, 1), (in.target + 1) * 0.5).mean();
    if (in.ema_pred.defined()) {
      const double w = c.lambda_consistency *
                       (c.progressive_consistency ? progressive_consistency_weight(in.epoch, in.epochs) : 1.0);
      if (w > 0) T["consistency"] = w * F::l1_loss(in.pred, in.ema_pred.detach());
    }
    if (c.lambda_boundary > 0) T["boundary"] = c.lambda_boundary * boundary_loss(in.pred, in.target, in.target_depth);
    if (c.lambda_gradient > 0) T["gradient"] = c.lambda_gradient * gradient_penalty(in.pred, q);
  }
  torch::Tensor total;
  for (auto& [k, v] : T) total = total.defined() ? total + v : v;
  out.total = total;
  return out;
}

}  // namespace fresnel::synthesis
