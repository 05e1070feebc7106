// The two ways to run the viewer: an interactive window, or one offscreen frame saved to a PNG
// (headless, for tests and scripts; needs an X display, e.g. `xvfb-run -a`).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "core/camera.hpp"

namespace fresnel::viewer {

struct ViewerOptions {
  std::string input;          // a Gaussian file (core/gaussian_io.hpp) or an image; empty: the test cloud
  int64_t test_count = 1000;  // size of the test cloud
  std::string checkpoint;     // decoder checkpoint for images
  bool use_learned_decoder = true;
  std::string screenshot;   // headless: write this PNG and exit
  std::string save_camera;  // also write the camera as cameras.json (for `fresnel render --cameras`)
  int width = 1280, height = 720;
  std::optional<double> yaw, pitch, distance;  // radians, radians, scene units
  std::optional<Vec3> target;
  double fov_y_degrees = 45.0;
  std::array<float, 3> background{0.08f, 0.08f, 0.1f};
  float splat_scale = 1.f;
  float opacity_scale = 1.f;
  int64_t max_count = 0;  // 0: all
};

// Both return the process exit code; errors are fresnel::Error exceptions.
int run_screenshot(const ViewerOptions& options);
int run_interactive(const ViewerOptions& options);

}  // namespace fresnel::viewer
