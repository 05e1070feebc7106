// `fresnel bench render`: renderer timings as JSON (forward and forward+backward on decoder-like scenes,
// with the dense reference twin's time as a ratio for the smallest case).
#include <torch/torch.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/device_option.hpp"
#include "render/bench_scene.hpp"

namespace fresnel::cli {

void register_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks that print JSON");
  bench->require_subcommand(1);
  auto* render_cmd =
      bench->add_subcommand("render",
                            "Rasterizer forward and forward+backward: (a) 5,476 Gaussians at 256², (b) 21,904 at 256², "
                            "(c) 100,000 at 512², decoder-like scenes; twin ratio for (a)");
  struct Opts {
    int reps = 5;
    bool no_twin = false;
    std::string only;
    std::string device = "cpu";
  };
  auto opts = std::make_shared<Opts>();
  render_cmd->add_option("--reps", opts->reps, "Timed repetitions per measurement (median reported)")
      ->check(CLI::Range(1, 1000));
  render_cmd->add_flag("--no-twin", opts->no_twin, "Skip timing the dense reference twin (slow)");
  render_cmd->add_option("--case", opts->only, "Run only case a, b, c or d")
      ->check(CLI::IsMember({"a", "b", "c", "d"}));
  add_device_option(*render_cmd, opts->device);
  set_guarded_callback(render_cmd, [opts] {
    const torch::Device device = resolve_device(opts->device);
    const std::vector<std::pair<std::string, RenderBenchCase>> cases = {
        {"a", {"a_5476_256", 5476, 256, !opts->no_twin}},
        {"b", {"b_21904_256", 21904, 256, false}},
        {"c", {"c_100000_512", 100000, 512, false}},
        // Our pixel-aligned decoder's regime: many pixel-sized splats (2 per pixel of a 128² input).
        {"d", {"d_pixel_aligned_32768_128", 32768, 128, false, 2}}};
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [key, c] : cases) {
      if (!opts->only.empty() && key != opts->only) continue;
      out.push_back(run_render_bench(c, opts->reps, device));
      std::cerr << "done " << c.name << "\n";
    }
    std::cout << out.dump(2) << "\n";
  });
}

}  // namespace fresnel::cli
