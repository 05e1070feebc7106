// Gaussian file formats: write and read throughput for 100k Gaussians (RGB and SH degree 3).
// Run: ./bench_formats  (Gaussians/s is reported as items_per_second)
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "core/gaussian_io.hpp"

namespace {

fresnel::Gaussians make(int64_t n, int sh_degree) {
  torch::manual_seed(1);
  fresnel::Gaussians g;
  g.means = torch::randn({n, 3});
  g.quats = torch::randn({n, 4});
  g.quats = g.quats / g.quats.norm(2, -1, true);
  g.scales = torch::rand({n, 3}) * 0.1 + 0.001;
  g.opacities = torch::rand({n});
  g.colors = sh_degree < 0 ? torch::rand({n, 3}) : torch::randn({n, fresnel::sh_coeffs_for_degree(sh_degree), 3});
  return g;
}

std::string temp_path(const std::string& ext) {
  return (std::filesystem::temp_directory_path() / ("fresnel_bench_formats" + ext)).string();
}

// state.range(0): 0 = .ply RGB, 1 = .ply SH3, 2 = .splat, 3 = .bin
const char* kExt[] = {".ply", ".ply", ".splat", ".bin"};

void BM_Save(benchmark::State& state) {
  const int64_t n = 100000;
  const auto g = make(n, state.range(0) == 1 ? 3 : -1);
  const std::string path = temp_path(kExt[state.range(0)]);
  for (auto _ : state) fresnel::save_gaussians(path, g);
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["MB"] = double(std::filesystem::file_size(path)) / 1e6;
  std::filesystem::remove(path);
}

void BM_Load(benchmark::State& state) {
  const int64_t n = 100000;
  const std::string path = temp_path(kExt[state.range(0)]);
  fresnel::save_gaussians(path, make(n, state.range(0) == 1 ? 3 : -1));
  for (auto _ : state) benchmark::DoNotOptimize(fresnel::load_gaussians(path).means.data_ptr());
  state.SetItemsProcessed(state.iterations() * n);
  std::filesystem::remove(path);
}

}  // namespace

BENCHMARK(BM_Save)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Load)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
