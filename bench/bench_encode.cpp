// Encoder speed at the production input size (518², random weights: speed does not depend on the values):
// DINOv2 ViT-S/14 and Depth Anything V2-Small forward passes, and `preprocess` wall time per image.
// Also a plain 2048³ sgemm (the machine's practical peak) so the encoder GFLOP/s can be put next to it.
// Run: ./build/bench/bench_encode --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/image_io.hpp"
#include "core/safetensors.hpp"
#include "encode/depth_anything.hpp"
#include "encode/dinov2.hpp"
#include "encode/preprocess.hpp"

using namespace fresnel;
using namespace fresnel::encode;
namespace fs = std::filesystem;

// FLOPs of one ViT-S/14 forward at 518² (1370 tokens, D = 384, 12 blocks): per block q,k,v,out projections
// 8·N·D², MLP 16·N·D², q·kᵀ and attention·v 4·N²·D.
// CPU seconds of the whole process (all threads, user + system): what the work costs however busy the machine
// is; Google Benchmark's CPU column counts only the main thread.
static double process_cpu_seconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

static void report_process_cpu(benchmark::State& state, double cpu_start) {
  state.counters["proc_cpu_s"] = (process_cpu_seconds() - cpu_start) / static_cast<double>(state.iterations());
}

constexpr double kVitSmallFlop = 12.0 * (24.0 * 1370 * 384 * 384 + 4.0 * 1370.0 * 1370 * 384);

static void BM_Sgemm2048(benchmark::State& state) {
  torch::NoGradGuard ng;
  auto a = torch::randn({2048, 2048}), b = torch::randn({2048, 2048}), c = torch::empty({2048, 2048});
  for (auto _ : state) benchmark::DoNotOptimize(at::mm_out(c, a, b));
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * 2048 * 2048 * 2048 * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = torch::get_num_threads();
}
BENCHMARK(BM_Sgemm2048)->Unit(benchmark::kMillisecond)->UseRealTime();

static void BM_Dinov2SmallForward518(benchmark::State& state) {
  c10::InferenceMode inference;
  Dinov2 model(Dinov2Config::preset("small"));
  model->eval();
  auto x = torch::randn({1, 3, 518, 518});
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) benchmark::DoNotOptimize(model->patch_features(x));
  report_process_cpu(state, cpu0);
  state.counters["GFLOP/s"] =
      benchmark::Counter(kVitSmallFlop * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = torch::get_num_threads();
}
BENCHMARK(BM_Dinov2SmallForward518)->Unit(benchmark::kMillisecond)->UseRealTime();

static void BM_DepthAnythingSmallForward518(benchmark::State& state) {
  c10::InferenceMode inference;
  DepthAnything model(DepthAnythingConfig::preset("small"));
  model->eval();
  auto x = torch::randn({1, 3, 518, 518});
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) benchmark::DoNotOptimize(model->forward(x));
  report_process_cpu(state, cpu0);
  state.counters["threads"] = torch::get_num_threads();
}
BENCHMARK(BM_DepthAnythingSmallForward518)->Unit(benchmark::kMillisecond)->UseRealTime();

// Whole `preprocess` on 4 photos (640×480 JPEG) with small models, weights read from safetensors each run,
// background removal off (arg 0) or GrabCut (arg 1). Reported time is per image.
static void BM_PreprocessPerImage(benchmark::State& state) {
  const bool remove_bg = state.range(0) != 0;
  const fs::path root = fs::temp_directory_path() / ("fresnel_bench_encode_" + std::to_string(::getpid()));
  fs::create_directories(root / "img");
  torch::manual_seed(0);
  const int n = 4;
  for (int i = 0; i < n; ++i)
    save_image((root / "img" / ("p" + std::to_string(i) + ".jpg")).string(), torch::rand({480, 640, 3}));
  {
    std::map<std::string, torch::Tensor> w;
    for (const auto& [k, s] : dinov2_parameter_shapes(Dinov2Config::preset("small"))) w[k] = torch::randn(s) * 0.02;
    save_safetensors((root / "dino.safetensors").string(), w);
    w.clear();
    for (const auto& [k, s] : depth_anything_parameter_shapes(DepthAnythingConfig::preset("small")))
      w[k] = torch::randn(s) * 0.02;
    save_safetensors((root / "depth.safetensors").string(), w);
  }
  PreprocessOptions o;
  o.data_dir = (root / "img").string();
  o.output_dir = (root / "out").string();
  o.dinov2_weights = (root / "dino.safetensors").string();
  o.depth_weights = (root / "depth.safetensors").string();
  o.remove_background = remove_bg;
  o.progress = false;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    fs::remove_all(root / "out");
    auto s = run_preprocess(o);
    if (s.processed != n) state.SkipWithError("preprocess failed");
  }
  state.counters["proc_cpu_s_per_image"] = (process_cpu_seconds() - cpu0) / static_cast<double>(state.iterations() * n);
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["s_per_image"] = benchmark::Counter(static_cast<double>(state.iterations() * n),
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  fs::remove_all(root);
}
BENCHMARK(BM_PreprocessPerImage)->Arg(0)->Arg(1)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

// libtorch starts with one intra-op thread here; use every core as `fresnel --threads 0` does, or
// FRESNEL_BENCH_THREADS (with 1 thread the CPU column is the whole compute time, useful on a loaded machine).
int main(int argc, char** argv) {
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (const char* t = std::getenv("FRESNEL_BENCH_THREADS")) threads = std::max(1, std::atoi(t));
  torch::set_num_threads(threads);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
