#include "splat_data.hpp"

#include <torch/torch.h>

#include "core/error.hpp"

namespace fresnel::viewer {

SplatData pack_splats(const Gaussians& g_in) {
  if (g_in.batched()) throw Error("viewer: expected one scene of Gaussians, got a batch");
  g_in.validate("viewer");
  const Gaussians g = g_in.detach().to(torch::TensorOptions().dtype(torch::kFloat32).device(torch::kCPU));
  const int64_t n = g.count();

  // Σ = (R S)(R S)ᵀ with R from the normalised (w,x,y,z) quaternion.
  auto q = g.quats / g.quats.norm(2, -1, true);
  auto w = q.select(1, 0), x = q.select(1, 1), y = q.select(1, 2), z = q.select(1, 3);
  auto R = torch::stack({1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),  //
                         2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),  //
                         2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)},
                        1)
               .view({n, 3, 3});
  auto M = R * g.scales.unsqueeze(1);  // R·diag(s)
  auto cov = torch::bmm(M, M.transpose(1, 2));

  auto zeros = torch::zeros({n, 1});
  auto packed = torch::cat({g.means, zeros,  //
                            cov.select(1, 0).select(1, 0).unsqueeze(1), cov.select(1, 0).select(1, 1).unsqueeze(1),
                            cov.select(1, 0).select(1, 2).unsqueeze(1), cov.select(1, 1).select(1, 1).unsqueeze(1),
                            cov.select(1, 1).select(1, 2).unsqueeze(1), cov.select(1, 2).select(1, 2).unsqueeze(1),
                            zeros, zeros,  //
                            g.base_rgb().clamp(0, 1), g.opacities.unsqueeze(1)},
                           1)
                    .contiguous();
  SplatData d;
  d.count = n;
  d.texels = std::make_shared<const std::vector<float>>(packed.data_ptr<float>(),
                                                        packed.data_ptr<float>() + n * kFloatsPerSplat);
  auto means = g.means.contiguous();
  d.means.assign(means.data_ptr<float>(), means.data_ptr<float>() + n * 3);
  return d;
}

Gaussians make_test_cloud(int64_t count, double extent) {
  auto gen = at::detail::createCPUGenerator(42);
  auto uni = [&](std::vector<int64_t> shape, double lo, double hi) {
    return torch::empty(shape).uniform_(lo, hi, gen);
  };
  Gaussians g;
  g.means = uni({count, 3}, -extent, extent);
  g.scales = uni({count, 3}, 0.05, 0.3);
  g.colors = uni({count, 3}, 0.2, 1.0);
  // Random axis-angle rotation as a unit quaternion.
  auto axis = torch::randn({count, 3}, gen);
  axis = axis / axis.norm(2, 1, true).clamp_min(1e-8);
  auto half = uni({count, 1}, 0.0, M_PI);
  g.quats = torch::cat({torch::cos(half), axis * torch::sin(half)}, 1);
  g.opacities = torch::full({count}, 0.8f);
  return g;
}

}  // namespace fresnel::viewer
