// fresnel-viewer: interactive Gaussian splat viewer (GLFW, OpenGL 3.3, Dear ImGui), or a headless
// screenshot of one camera with --screenshot.
#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>

#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "core/image_io.hpp"
#include "viewer_app.hpp"

namespace {

constexpr double kDegree = 3.14159265358979323846 / 180.0;

void parse_size(const std::string& s, int& w, int& h) {
  const auto x = s.find('x');
  try {
    if (x == std::string::npos) throw std::invalid_argument(s);
    w = std::stoi(s.substr(0, x));
    h = std::stoi(s.substr(x + 1));
  } catch (const std::exception&) {
    throw fresnel::UsageError("--size: expected WIDTHxHEIGHT (e.g. 1280x720), got '" + s + "'");
  }
  if (w <= 0 || h <= 0 || w > 16384 || h > 16384) throw fresnel::UsageError("--size: out of range: '" + s + "'");
}

}  // namespace

int main(int argc, char** argv) {
  fresnel::viewer::ViewerOptions o;
  CLI::App app{
      "fresnel-viewer: view 3D Gaussians (" + fresnel::supported_gaussian_extensions() +
      ") or reconstruct one image and view the result.\n"
      "Mouse: left drag orbits, right drag pans, scroll zooms. Keys: R resets the camera, Esc quits.\n"
      "With --screenshot it renders one frame offscreen, saves it and exits (needs a display; use xvfb-run -a)."};
  app.add_option("input", o.input,
                 "Gaussians file (" + fresnel::gaussian_formats_help() + ") or an image (" +
                     fresnel::supported_image_extensions() + "); without it a random test cloud is shown");
  app.add_option("--count", o.test_count, "Number of Gaussians in the test cloud (when no input is given)")
      ->check(CLI::Range(int64_t(1), int64_t(100000000)));
  app.add_option("--checkpoint", o.checkpoint, "Decoder checkpoint used for images (\"Use Learned Decoder\")");
  bool no_decoder = false;
  app.add_flag("--saag", no_decoder, "For images: use the non-learned SAAG generator instead of the learned decoder");
  app.add_option("--screenshot", o.screenshot, "Render one frame to this PNG and exit (headless)");
  app.add_option("--save-camera", o.save_camera,
                 "With --screenshot: also write the camera as a cameras.json usable by `fresnel render --cameras`");
  std::string size;
  app.add_option("--size", size,
                 "Image size WIDTHxHEIGHT of the screenshot or of the initial render (default 1280x720)");
  double yaw = 0, pitch = 0, distance = 0;
  auto* yaw_opt = app.add_option("--yaw", yaw, "Camera azimuth around the target in degrees (0: the input view)");
  auto* pitch_opt =
      app.add_option("--pitch", pitch, "Camera elevation in degrees, in [-85.9, 85.9] (positive: from above)");
  auto* dist_opt = app.add_option("--distance", distance, "Camera distance from the target, in [0.5, 50]")
                       ->check(CLI::Range(0.5, 50.0));
  std::vector<double> target;
  auto* target_opt = app.add_option("--target", target, "Orbit centre X Y Z (default: the scene's median)")
                         ->expected(3)
                         ->delimiter(',');
  app.add_option("--fov", o.fov_y_degrees, "Vertical field of view in degrees")->check(CLI::Range(1.0, 170.0));
  std::vector<float> bg;
  auto* bg_opt = app.add_option("--background", bg, "Background colour R,G,B in [0,1] (default 0.08,0.08,0.1)")
                     ->expected(3)
                     ->delimiter(',');
  app.add_option("--splat-scale", o.splat_scale, "Multiplier on every Gaussian's size")->check(CLI::Range(0.01, 100.0));
  app.add_option("--opacity", o.opacity_scale, "Multiplier on every opacity")->check(CLI::Range(0.0, 100.0));
  app.add_option("--max-count", o.max_count, "Draw at most this many Gaussians (a uniform random subset; 0: all)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
    if (!size.empty()) parse_size(size, o.width, o.height);
    if (*yaw_opt) o.yaw = yaw * kDegree;
    if (*pitch_opt) {
      if (std::abs(pitch * kDegree) > 1.5) throw fresnel::UsageError("--pitch: must lie in [-85.9, 85.9] degrees");
      o.pitch = pitch * kDegree;
    }
    if (*dist_opt) o.distance = distance;
    if (*target_opt) o.target = fresnel::Vec3{target[0], target[1], target[2]};
    if (*bg_opt) o.background = {bg[0], bg[1], bg[2]};
    o.use_learned_decoder = !no_decoder;
    if (!o.save_camera.empty() && o.screenshot.empty()) throw fresnel::UsageError("--save-camera needs --screenshot");
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const fresnel::UsageError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  try {
    return o.screenshot.empty() ? fresnel::viewer::run_interactive(o) : fresnel::viewer::run_screenshot(o);
  } catch (const fresnel::UsageError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
