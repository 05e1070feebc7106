// The viewer's per-camera-move CPU work at 1M splats: the back-to-front depth sort (done on a worker thread while
// the previous order keeps drawing). With a GPU drawing instanced quads, this sort bounds how soon a new view is
// correctly ordered. Run: ./bench_viewer
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "depth_sort.hpp"

namespace {

void BM_SortBackToFront(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> positions(size_t(n) * 3);
  for (auto& p : positions) p = normal(rng);
  std::vector<uint32_t> candidates(n), order;
  for (uint32_t i = 0; i < n; ++i) candidates[i] = i;
  // A camera 4 units away looking at the origin along a tilted axis (third row of world→camera).
  const double depth_row[4] = {0.3, -0.2, 0.93, 4.0};
  for (auto _ : state) {
    fresnel::viewer::sort_back_to_front(positions.data(), 3, candidates, depth_row, 0.01, order);
    benchmark::DoNotOptimize(order.data());
  }
  state.SetItemsProcessed(state.iterations() * int64_t(n));
  state.counters["sorted"] = double(order.size());
}
BENCHMARK(BM_SortBackToFront)->Arg(100000)->Arg(1000000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
