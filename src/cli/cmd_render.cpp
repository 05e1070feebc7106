// `fresnel render SCENE`: turntable PNGs (--orbit N) or one PNG per camera of a cameras.json (--cameras).
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/device_option.hpp"
#include "cli/file_checks.hpp"
#include "core/atomic_write.hpp"
#include "core/camera.hpp"
#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "core/image_io.hpp"
#include "core/object_frame.hpp"
#include "core/progress.hpp"
#include "evaluate/baselines.hpp"
#include "render/render.hpp"

namespace fresnel::cli {
namespace {

struct RenderArgs {
  std::string scene, out_dir, cameras_json, size = "512x512", background = "0,0,0", device = "cpu",
                                            screen_filter = "auto";
  int orbit = 0, sh_degree = -1;
  double elevation_deg = 20.0, fov_deg = 50.0, radius = 0.0;
  bool save_depth = false;
};

std::pair<int, int> parse_size(const std::string& s) {
  int w = 0, h = 0;
  char x = 0;
  if (std::sscanf(s.c_str(), "%d%c%d", &w, &x, &h) != 3 || (x != 'x' && x != 'X') || w <= 0 || h <= 0 || w > 16384 ||
      h > 16384)
    throw UsageError("--size must look like 512x384 (width x height), got '" + s + "'");
  return {w, h};
}

std::array<float, 3> parse_background(const std::string& s) {
  std::array<float, 3> c{};
  if (std::sscanf(s.c_str(), "%f,%f,%f", &c[0], &c[1], &c[2]) != 3)
    throw UsageError("--background must be three numbers r,g,b in [0,1], got '" + s + "'");
  return c;
}

constexpr double kOrbitVisibleOpacity = 0.05;

// --screen_filter auto: what `<scene>.cameras.json` names (infer records the checkpoint's filter there), else the
// dilation every 3DGS renderer uses.
ScreenFilter scene_screen_filter(const std::string& scene, const std::string& flag) {
  if (flag != "auto") return parse_screen_filter(flag);
  const std::string cameras = cameras_json_path_for(scene);
  if (std::filesystem::exists(cameras))
    if (const auto named = screen_filter_from_file(cameras)) return *named;
  return ScreenFilter::dilation();
}

void run_render(const RenderArgs& a) {
  if ((a.orbit > 0) == !a.cameras_json.empty())
    throw UsageError("give exactly one of --orbit N or --cameras cameras.json");
  const torch::Device device = resolve_device(a.device);
  const Gaussians g = load_gaussians(a.scene);
  if (g.count() == 0) throw Error(a.scene + ": holds no Gaussians");
  std::vector<Camera> cams;
  if (a.orbit > 0) {
    const auto [w, h] = parse_size(a.size);
    // Frame what can be seen: nearly transparent Gaussians (e.g. a decoder's background pixels) and a few strays
    // would otherwise stretch the bounds and shrink the object in the frame. Robust bounds: the 1st–99th
    // percentile per axis of the visible Gaussians' centres.
    const auto visible = (g.opacities >= kOrbitVisibleOpacity).nonzero().squeeze(1);
    const auto means = (visible.numel() > 0 ? g.means.index_select(0, visible) : g.means).to(torch::kFloat64);
    const bool many = means.size(0) > 100;  // percentiles of a handful of points would cut real content
    const auto lo = many ? torch::quantile(means, 0.01, 0) : std::get<0>(means.min(0));
    const auto hi = many ? torch::quantile(means, 0.99, 0) : std::get<0>(means.max(0));
    const auto centre = ((lo + hi) * 0.5).to(torch::kFloat64);
    const double extent = (hi - lo).norm().item<double>() * 0.5;
    const double fov = a.fov_deg * M_PI / 180.0;
    const double f = 0.5 * h / std::tan(0.5 * fov);
    // Far enough that the bounding sphere fits the vertical field of view.
    const double radius = a.radius > 0 ? a.radius : std::max(1e-3, extent) / std::sin(0.5 * fov) * 1.05;
    cams = orbit_cameras(a.orbit, radius, a.elevation_deg * M_PI / 180.0,
                         {centre[0].item<double>(), centre[1].item<double>(), centre[2].item<double>()}, f, f, w, h);
    for (auto& c : cams) {
      c.near_plane = std::max(1e-3, radius * 1e-3);
      c.far_plane = radius * 100 + extent * 10;
    }
  } else {
    cams = load_cameras_json(a.cameras_json);
    if (cams.empty()) throw Error(a.cameras_json + ": no cameras");
  }
  ensure_directory(a.out_dir);
  RenderOptions opt;
  opt.background = parse_background(a.background);
  opt.sh_degree = a.sh_degree;
  opt.screen_filter = scene_screen_filter(a.scene, a.screen_filter);
  torch::NoGradGuard no_grad;
  const Gaussians on_device = g.to(torch::TensorOptions().device(device));  // CUDA: the CUDA rasterizer runs
  Progress progress("render", int64_t(cams.size()), "view");
  for (size_t i = 0; i < cams.size(); ++i) {
    RenderOutput out = render(on_device, {cams[i]}, opt);
    out.rgb = out.rgb.cpu();
    out.depth = out.depth.cpu();
    out.alpha = out.alpha.cpu();
    char name[64];
    std::snprintf(name, sizeof name, "/view_%04zu.png", i);
    save_image(a.out_dir + name, out.rgb[0]);
    if (a.save_depth) {
      // Depth as 8-bit: near = bright, normalised over the covered pixels of this view.
      auto d = out.depth[0];
      const auto mask = out.alpha[0] > 0.5;
      auto img = torch::zeros_like(d);
      if (mask.any().item<bool>()) {
        const auto vals = d.masked_select(mask);
        const double lo = vals.min().item<double>(), hi = vals.max().item<double>();
        img = torch::where(mask, 1.0 - (d - lo) / std::max(hi - lo, 1e-9), torch::zeros_like(d));
      }
      std::snprintf(name, sizeof name, "/depth_%04zu.png", i);
      save_image(a.out_dir + name, img.unsqueeze(-1));
    }
    progress.advance();
  }
  progress.finish();
  save_cameras_json(a.out_dir + "/cameras.json", cams);
  std::cout << "wrote " << cams.size() << " views to " << a.out_dir << "\n";
}

}  // namespace

void register_render(CLI::App& app) {
  auto args = std::make_shared<RenderArgs>();
  auto* cmd =
      app.add_subcommand("render", "Render a Gaussian scene (" + supported_gaussian_extensions() + ") to PNG images");
  cmd->add_option("scene", args->scene, "Gaussian file to render: " + gaussian_formats_help())
      ->required()
      ->check(gaussian_file_check());
  cmd->add_option("--out", args->out_dir, "Output directory (view_0000.png, …, cameras.json)")->required();
  cmd->add_option("--orbit", args->orbit, "Turntable: N views evenly spaced in azimuth around the scene centre")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--cameras", args->cameras_json, "Render the cameras of this JSON file instead of an orbit");
  cmd->add_option("--size", args->size, "Image size WxH for --orbit (default 512x512)");
  cmd->add_option("--elevation", args->elevation_deg, "Orbit elevation in degrees above the scene centre (default 20)");
  cmd->add_option("--fov", args->fov_deg, "Orbit vertical field of view in degrees (default 50)")
      ->check(CLI::Range(1.0, 170.0));
  cmd->add_option("--radius", args->radius, "Orbit radius (default: fit the scene's bounding sphere)");
  cmd->add_option("--background", args->background, "Background colour r,g,b in [0,1] (default 0,0,0)");
  cmd->add_option("--sh_degree", args->sh_degree, "Highest SH degree to evaluate (default: all in the file)")
      ->check(CLI::Range(-1, 3));
  cmd->add_option("--screen_filter", args->screen_filter,
                  "Rasterizer screen filter: auto (what <scene>.cameras.json names, written by infer from the "
                  "checkpoint; else dilation), dilation (3DGS's 0.3 px²), mip (Mip-Splatting's 2D filter, 0.1 px²), "
                  "dilation:V or mip:V")
      ->capture_default_str();
  cmd->add_flag("--depth", args->save_depth, "Also write depth_NNNN.png (expected depth, near = bright)");
  add_device_option(*cmd, args->device);
  set_guarded_callback(cmd, [args] { run_render(*args); });
}

}  // namespace fresnel::cli
