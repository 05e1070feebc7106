// The VLM client's own cost, against an LM-Studio-like server on loopback (tests/testutil/fake_vlm_server.hpp):
//  - requests per second at concurrency 1 and 4 (threads, each with its own client), with an instant server and with
//    a server that takes 20 ms per reply (a stand-in for a model; real models take seconds);
//  - the client's time per image without the network: read the file, base64 + JSON request, parse reply and grid.
// Run: ./build/bench/bench_guide --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <memory>
#include <mutex>

#include "core/atomic_write.hpp"
#include "guide/density.hpp"
#include "guide/vlm_client.hpp"
#include "testutil/fake_vlm_server.hpp"

using namespace fresnel;
using namespace fresnel::guide;

namespace {

const std::string kImage = std::string(FRESNEL_SOURCE_DIR) + "/tests/guide/data/face_photo.jpg";  // 320², 59 kB

// One server per reply delay for the whole run (benchmark threads share it).
test::FakeVlmServer& server(int delay_ms) {
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<test::FakeVlmServer>> servers;
  std::lock_guard<std::mutex> lock(mutex);
  auto& s = servers[delay_ms];
  if (!s) {
    s = std::make_unique<test::FakeVlmServer>();
    if (delay_ms > 0) {
      s->set_responder([delay_ms](const test::ChatRequest& c) {
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        return test::FakeVlmServer::grid_reply(8, 0.5f);
      });
    }
  }
  return *s;
}

// Full path per image: file → request → HTTP → reply → grid. Arg: server delay in ms. Threads = concurrency.
void BM_VlmRequests(benchmark::State& state) {
  auto& srv = server(static_cast<int>(state.range(0)));
  VlmOptions o;
  o.url = srv.url();
  o.max_attempts = 1;
  VlmClient client(o);
  for (auto _ : state) {
    const auto image = encode_for_vlm(read_text_file(kImage), kImage);
    auto grid = parse_density_grid(client.ask(image, density_prompt(8)), 8);
    if (!grid) state.SkipWithError("no grid");
    benchmark::DoNotOptimize(grid);
  }
  state.SetItemsProcessed(state.iterations());  // items/s summed over threads = requests per second
}
BENCHMARK(BM_VlmRequests)->Arg(0)->Arg(20)->Threads(1)->Threads(4)->UseRealTime();

// The client's CPU work per image without any network: read, base64, JSON request, reply JSON, grid parse.
void BM_ClientOverheadPerImage(benchmark::State& state) {
  const std::string reply_body =
      nlohmann::json({{"choices", {{{"message", {{"content", test::FakeVlmServer::grid_reply(8, 0.5f)}}}}}}}).dump();
  for (auto _ : state) {
    const auto image = encode_for_vlm(read_text_file(kImage), kImage);
    const std::string request = chat_request_json("qwen2-vl", image, density_prompt(8), 0.1);
    auto grid = parse_density_grid(chat_reply_content(reply_body, "bench"), 8);
    benchmark::DoNotOptimize(request.data());
    benchmark::DoNotOptimize(grid);
  }
}
BENCHMARK(BM_ClientOverheadPerImage);

}  // namespace

BENCHMARK_MAIN();
