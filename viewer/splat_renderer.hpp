// GPU splat rasterizer of the viewer: one instanced quad per Gaussian, drawn back to front with
// premultiplied alpha into an offscreen float framebuffer. The per-splat math follows the tile
// rasterizer (src/render): EWA projection with its screen filter (0.3 px² dilation, or the 2D Mip filter with
// opacity compensation for models trained with it), 3σ cut-off,
// α = min(0.99, o·e^power), fragments with α < 1/255 dropped, background under the remaining
// transmittance, so a screenshot matches `fresnel render` of the same camera.
// Needs a current OpenGL 3.3 core context for every call, including the constructor and destructor.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "core/camera.hpp"
#include "gl.hpp"
#include "render/screen_filter.hpp"
#include "splat_data.hpp"

namespace fresnel::viewer {

struct SplatRenderParams {
  Camera camera;  // OpenCV convention, image size = target size
  std::array<float, 3> background{0.f, 0.f, 0.f};
  float splat_scale = 1.f;     // multiplies every Gaussian's scales
  float opacity_scale = 1.f;   // multiplies every opacity (result clamped to [0,1])
  ScreenFilter screen_filter;  // the scene's (Scene::screen_filter)
};

class SplatRenderer {
 public:
  // float32 framebuffer for exact screenshots; half floats are enough on screen and halve the bandwidth.
  explicit SplatRenderer(bool full_precision);
  ~SplatRenderer();
  SplatRenderer(const SplatRenderer&) = delete;
  SplatRenderer& operator=(const SplatRenderer&) = delete;

  // Uploads the splat texels (replaces the previous scene). Throws fresnel::Error when the scene exceeds
  // the driver's texture-buffer limit.
  void upload(const SplatData& data);
  // Draw order: indices into the uploaded splats, back to front (see depth_sort.hpp).
  void set_order(const std::vector<uint32_t>& order);
  int64_t drawn_count() const { return order_count_; }
  int64_t max_splats() const;

  // Renders into the offscreen framebuffer (resized to the camera's image size).
  void render(const SplatRenderParams& params);
  // Copies the last frame to the default framebuffer, stretched to the given size.
  void blit_to_screen(int screen_width, int screen_height) const;
  // Last frame as RGB float32, H×W×3, top row first.
  std::vector<float> read_rgb() const;
  int width() const { return width_; }
  int height() const { return height_; }
  // GPU time of the most recent frame whose timer query has finished, in milliseconds (−1 before any).
  double gpu_ms();

 private:
  void ensure_framebuffer(int width, int height);

  bool full_precision_;
  GLuint program_ = 0, vao_ = 0, corner_vbo_ = 0, order_vbo_ = 0;
  GLuint splat_buffer_ = 0, splat_texture_ = 0;
  GLuint fbo_ = 0, color_rb_ = 0;
  GLuint queries_[2] = {0, 0};
  bool query_pending_[2] = {false, false};
  int query_next_ = 0;
  double last_gpu_ms_ = -1.0;
  int width_ = 0, height_ = 0;
  int64_t splat_count_ = 0, order_count_ = 0;
};

}  // namespace fresnel::viewer
