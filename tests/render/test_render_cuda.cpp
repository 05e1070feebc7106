// CUDA kernels against the CPU kernels (forward and gradients). Compiled only into CUDA builds
// (FRESNEL_WITH_CUDA), where it needs a GPU and fails without one: a CPU-only build has no such test, so
// nothing reports the GPU path as checked when it was not.
#ifdef FRESNEL_WITH_CUDA
#include <gtest/gtest.h>

#include "render/render.hpp"
#include "scenes.hpp"

namespace fresnel {
namespace {

void expect_cuda_matches_cpu(const Gaussians& cpu, const RenderOptions& o) {
  ASSERT_TRUE(torch::cuda::is_available()) << "CUDA build without a usable GPU";
  const Gaussians gpu = cpu.to(torch::TensorOptions().device(torch::kCUDA));
  const std::vector<Camera> cams{test::oblique_camera(64), test::front_camera(64)};
  const Gaussians ca = test::with_grad(cpu), gb = test::with_grad(gpu);
  const RenderOutput a = render(ca, cams, o), b = render(gb, cams, o);
  EXPECT_TRUE(b.rgb.is_cuda());
  EXPECT_LE((a.rgb - b.rgb.cpu()).abs().max().item<double>(), 1e-4);
  EXPECT_LE((a.alpha - b.alpha.cpu()).abs().max().item<double>(), 1e-4);
  EXPECT_LE((a.depth_accum - b.depth_accum.cpu()).abs().max().item<double>(), 4e-4);
  torch::manual_seed(1);
  const auto w = torch::randn(a.rgb.sizes());
  (a.rgb * w).sum().backward();
  (b.rgb * w.cuda()).sum().backward();
  const auto ga = test::grads_of(ca), gg = test::grads_of(gb);
  for (size_t i = 0; i < ga.size(); ++i) EXPECT_LE(test::rel_err(gg[i].cpu(), ga[i]), 1e-3) << i;
}

TEST(RenderCuda, MatchesCpuKernels) {
  RenderOptions o;
  o.background = {0.2f, 0.4f, 0.6f};
  expect_cuda_matches_cpu(test::random_scene(400, 201, 2), o);
}

TEST(RenderCuda, MatchesCpuKernelsWithTheMipFilter) {
  RenderOptions o;
  o.background = {0.2f, 0.4f, 0.6f};
  o.screen_filter = ScreenFilter::mip(0.1);
  Gaussians g = test::random_scene(400, 202, 1);
  g.scales = g.scales * 0.3;  // footprints near a pixel, where ρ matters
  expect_cuda_matches_cpu(g, o);
}

}  // namespace
}  // namespace fresnel
#endif  // FRESNEL_WITH_CUDA
