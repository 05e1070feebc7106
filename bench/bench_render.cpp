// Rasterizer benchmarks (Google Benchmark): forward and forward+backward on decoder-like scenes
// (render/bench_scene.hpp), plus the dense reference twin on the smallest case for comparison.
// Items processed = Gaussian × pixel pairs of a dense evaluation (N·H·W), so items/s compares to the twin.
#include <benchmark/benchmark.h>
#include <torch/torch.h>
#include <thread>

#include "render/bench_scene.hpp"
#include "render/reference.hpp"
#include "render/render.hpp"

namespace {

using namespace fresnel;

Gaussians with_grad(const Gaussians& g) {
  Gaussians r = g.detach();
  for (auto* t : {&r.means, &r.quats, &r.scales, &r.opacities, &r.colors}) *t = t->clone().set_requires_grad(true);
  return r;
}

void BM_RenderForward(benchmark::State& state) {
  const int64_t n = state.range(0);
  const int res = int(state.range(1));
  const Gaussians g = decoder_like_scene(n, 1);
  const std::vector<Camera> cams{bench_camera(res)};
  torch::NoGradGuard ng;
  for (auto _ : state) benchmark::DoNotOptimize(render(g, cams, {}).rgb.data_ptr());
  state.SetItemsProcessed(state.iterations() * n * res * res);
}

void BM_RenderForwardBackward(benchmark::State& state) {
  const int64_t n = state.range(0);
  const int res = int(state.range(1));
  const Gaussians g = decoder_like_scene(n, 1);
  const std::vector<Camera> cams{bench_camera(res)};
  for (auto _ : state) {
    const Gaussians gg = with_grad(g);
    const RenderOutput o = render(gg, cams, {});
    (o.rgb.sum() + o.depth.sum()).backward();
    benchmark::DoNotOptimize(gg.means.grad().data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * n * res * res);
}

// The dense twin, forward only, in row chunks (its full N·H·W tensors would not fit in memory).
void BM_TwinForward(benchmark::State& state) {
  const int64_t n = state.range(0);
  const int res = int(state.range(1));
  const Gaussians g = decoder_like_scene(n, 1);
  const Camera cam = bench_camera(res);
  const int rows = std::max(1, int(4'000'000 / (n * res)));
  torch::NoGradGuard ng;
  for (auto _ : state)
    for (int r = 0; r < res; r += rows)
      benchmark::DoNotOptimize(reference::render_rows(g, cam, {}, r, std::min(res, r + rows)).rgb.data_ptr());
  state.SetItemsProcessed(state.iterations() * n * res * res);
}

BENCHMARK(BM_RenderForward)->Args({5476, 256})->Args({21904, 256})->Args({100000, 512})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RenderForwardBackward)
    ->Args({5476, 256})
    ->Args({21904, 256})
    ->Args({100000, 512})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TwinForward)->Args({5476, 256})->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(int(std::max(1u, std::thread::hardware_concurrency())));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
