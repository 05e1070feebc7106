#include "splat_renderer.hpp"

#include <string>

#include "core/error.hpp"
#include "render/constants.hpp"

namespace fresnel::viewer {
namespace {

namespace rc = fresnel::render_constants;

const char* kVertexShader = R"(#version 330 core
layout(location = 0) in vec2 a_corner;
layout(location = 1) in uint a_index;
uniform samplerBuffer u_splats;
uniform mat4 u_view;        // world -> camera, OpenCV axes (x right, y down, z forward)
uniform vec4 u_intrinsics;  // fx fy cx cy in pixels
uniform vec2 u_viewport;    // width height
uniform float u_scale2;
uniform float u_opacity;
uniform float u_near;
uniform float u_far;
uniform vec4 u_limits;      // x/z and y/z range of the Jacobian: image plus guard band (lo_x hi_x lo_y hi_y)
uniform float u_lowpass;   // screen filter variance (px²)
uniform float u_mip;       // 1: Mip filter, opacity × sqrt(det Σ2D / det(Σ2D + u_lowpass·I)); 0: dilation
uniform float u_mip_det_eps;
uniform float u_sigma_cut;
out vec2 v_offset;
flat out vec3 v_conic;
flat out vec4 v_color;

void cull() { gl_Position = vec4(2.0, 2.0, 2.0, 1.0); v_offset = vec2(0.0); v_conic = vec3(0.0); v_color = vec4(0.0); }

void main() {
  int base = int(a_index) * 4;
  vec3 mean = texelFetch(u_splats, base).xyz;
  vec4 s0 = texelFetch(u_splats, base + 1);
  vec4 s1 = texelFetch(u_splats, base + 2);
  vec4 col = texelFetch(u_splats, base + 3);
  vec4 pc = u_view * vec4(mean, 1.0);
  if (!(pc.z >= u_near && pc.z <= u_far)) { cull(); return; }
  mat3 sigma = mat3(s0.x, s0.y, s0.z, s0.y, s0.w, s1.x, s0.z, s1.x, s1.y) * u_scale2;
  mat3 w = mat3(u_view);
  mat3 sigma_cam = w * sigma * transpose(w);
  float iz = 1.0 / pc.z;
  // Rows of the Jacobian of (fx x/z + cx, fy y/z + cy), evaluated with x/z and y/z clamped to the guard
  // band as the rasterizer does (keeps splats far outside the image from blowing up).
  float tx = pc.z * clamp(pc.x * iz, u_limits.x, u_limits.y);
  float ty = pc.z * clamp(pc.y * iz, u_limits.z, u_limits.w);
  vec3 j0 = vec3(u_intrinsics.x * iz, 0.0, -u_intrinsics.x * tx * iz * iz);
  vec3 j1 = vec3(0.0, u_intrinsics.y * iz, -u_intrinsics.y * ty * iz * iz);
  float a0 = dot(j0, sigma_cam * j0);
  float b = dot(j0, sigma_cam * j1);
  float c0 = dot(j1, sigma_cam * j1);
  float a = a0 + u_lowpass;
  float c = c0 + u_lowpass;
  float det = a * c - b * b;
  if (det <= 0.0) { cull(); return; }
  float rho = u_mip > 0.5 ? sqrt(max(a0 * c0 - b * b, u_mip_det_eps) / det) : 1.0;
  float mid = 0.5 * (a + c);
  float lambda = mid + sqrt(max(0.1, mid * mid - det));
  // The quad only has to cover the cut-off ellipse; the fragment shader applies the exact cut.
  float radius = u_sigma_cut * sqrt(lambda) + 1.0;
  vec2 center = vec2(u_intrinsics.x * pc.x * iz + u_intrinsics.z, u_intrinsics.y * pc.y * iz + u_intrinsics.w);
  vec2 offset = a_corner * radius;
  vec2 pixel = center + offset;
  gl_Position = vec4(2.0 * pixel.x / u_viewport.x - 1.0, 1.0 - 2.0 * pixel.y / u_viewport.y, 0.0, 1.0);
  v_offset = offset;
  v_conic = vec3(c, -b, a) / det;
  v_color = vec4(col.rgb, clamp(col.a * u_opacity, 0.0, 1.0) * rho);
}
)";

const char* kFragmentShader = R"(#version 330 core
in vec2 v_offset;
flat in vec3 v_conic;
flat in vec4 v_color;
uniform float u_pixel_shift;
uniform float u_min_power;
uniform float u_max_alpha;
uniform float u_min_alpha;
out vec4 frag;
void main() {
  vec2 d = v_offset - vec2(u_pixel_shift);
  float power = -0.5 * (v_conic.x * d.x * d.x + v_conic.z * d.y * d.y) - v_conic.y * d.x * d.y;
  if (power > 0.0 || power < u_min_power) discard;
  float alpha = min(u_max_alpha, v_color.a * exp(power));
  if (alpha < u_min_alpha) discard;
  frag = vec4(v_color.rgb * alpha, alpha);
}
)";

GLuint compile(GLenum type, const char* source) {
  const GLuint s = glCreateShader(type);
  glShaderSource(s, 1, &source, nullptr);
  glCompileShader(s);
  GLint ok = 0;
  glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    char log[4096];
    glGetShaderInfoLog(s, sizeof(log), nullptr, log);
    glDeleteShader(s);
    throw Error(std::string("viewer: shader compilation failed: ") + log);
  }
  return s;
}

GLuint link_program() {
  const GLuint vs = compile(GL_VERTEX_SHADER, kVertexShader);
  const GLuint fs = compile(GL_FRAGMENT_SHADER, kFragmentShader);
  const GLuint p = glCreateProgram();
  glAttachShader(p, vs);
  glAttachShader(p, fs);
  glLinkProgram(p);
  glDeleteShader(vs);
  glDeleteShader(fs);
  GLint ok = 0;
  glGetProgramiv(p, GL_LINK_STATUS, &ok);
  if (!ok) {
    char log[4096];
    glGetProgramInfoLog(p, sizeof(log), nullptr, log);
    glDeleteProgram(p);
    throw Error(std::string("viewer: shader link failed: ") + log);
  }
  return p;
}

}  // namespace

SplatRenderer::SplatRenderer(bool full_precision) : full_precision_(full_precision) {
  program_ = link_program();
  glGenVertexArrays(1, &vao_);
  glBindVertexArray(vao_);
  const float corners[8] = {-1.f, -1.f, 1.f, -1.f, -1.f, 1.f, 1.f, 1.f};
  glGenBuffers(1, &corner_vbo_);
  glBindBuffer(GL_ARRAY_BUFFER, corner_vbo_);
  glBufferData(GL_ARRAY_BUFFER, sizeof(corners), corners, GL_STATIC_DRAW);
  glEnableVertexAttribArray(0);
  glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 0, nullptr);
  glGenBuffers(1, &order_vbo_);
  glBindBuffer(GL_ARRAY_BUFFER, order_vbo_);
  glEnableVertexAttribArray(1);
  glVertexAttribIPointer(1, 1, GL_UNSIGNED_INT, 0, nullptr);
  glVertexAttribDivisor(1, 1);
  glBindVertexArray(0);
  glGenBuffers(1, &splat_buffer_);
  glGenTextures(1, &splat_texture_);
  glGenQueries(2, queries_);
}

SplatRenderer::~SplatRenderer() {
  glDeleteQueries(2, queries_);
  if (fbo_) glDeleteFramebuffers(1, &fbo_);
  if (color_rb_) glDeleteRenderbuffers(1, &color_rb_);
  glDeleteTextures(1, &splat_texture_);
  glDeleteBuffers(1, &splat_buffer_);
  glDeleteBuffers(1, &order_vbo_);
  glDeleteBuffers(1, &corner_vbo_);
  glDeleteVertexArrays(1, &vao_);
  glDeleteProgram(program_);
}

int64_t SplatRenderer::max_splats() const {
  GLint texels = 0;
  glGetIntegerv(GL_MAX_TEXTURE_BUFFER_SIZE, &texels);
  return int64_t(texels) / kTexelsPerSplat;
}

void SplatRenderer::upload(const SplatData& data) {
  if (data.count > max_splats())
    throw Error("viewer: " + std::to_string(data.count) + " Gaussians exceed this GPU's limit of " +
                std::to_string(max_splats()) + " (lower the count or use another GPU)");
  glBindBuffer(GL_TEXTURE_BUFFER, splat_buffer_);
  const std::vector<float>& texels = *data.texels;
  glBufferData(GL_TEXTURE_BUFFER, GLsizeiptr(texels.size() * sizeof(float)), texels.empty() ? nullptr : texels.data(),
               GL_STATIC_DRAW);
  glBindTexture(GL_TEXTURE_BUFFER, splat_texture_);
  glTexBuffer(GL_TEXTURE_BUFFER, GL_RGBA32F, splat_buffer_);
  glBindTexture(GL_TEXTURE_BUFFER, 0);
  glBindBuffer(GL_TEXTURE_BUFFER, 0);
  splat_count_ = data.count;
  order_count_ = 0;
}

void SplatRenderer::set_order(const std::vector<uint32_t>& order) {
  glBindBuffer(GL_ARRAY_BUFFER, order_vbo_);
  // Orphan the old storage so the driver need not wait for frames still reading it.
  glBufferData(GL_ARRAY_BUFFER, GLsizeiptr(order.size() * sizeof(uint32_t)), nullptr, GL_STREAM_DRAW);
  if (!order.empty()) glBufferSubData(GL_ARRAY_BUFFER, 0, GLsizeiptr(order.size() * sizeof(uint32_t)), order.data());
  glBindBuffer(GL_ARRAY_BUFFER, 0);
  order_count_ = int64_t(order.size());
}

void SplatRenderer::ensure_framebuffer(int width, int height) {
  if (fbo_ && width == width_ && height == height_) return;
  if (!fbo_) {
    glGenFramebuffers(1, &fbo_);
    glGenRenderbuffers(1, &color_rb_);
  }
  glBindRenderbuffer(GL_RENDERBUFFER, color_rb_);
  glRenderbufferStorage(GL_RENDERBUFFER, full_precision_ ? GL_RGBA32F : GL_RGBA16F, width, height);
  glBindFramebuffer(GL_FRAMEBUFFER, fbo_);
  glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, color_rb_);
  if (glCheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE)
    throw Error("viewer: the GPU cannot render into a float framebuffer of " + std::to_string(width) + "x" +
                std::to_string(height));
  glBindFramebuffer(GL_FRAMEBUFFER, 0);
  width_ = width;
  height_ = height;
}

void SplatRenderer::render(const SplatRenderParams& p) {
  const Camera& cam = p.camera;
  ensure_framebuffer(cam.width, cam.height);
  const int q = query_next_;
  if (query_pending_[q]) gpu_ms();  // collect the result before reusing the query object
  glBeginQuery(GL_TIME_ELAPSED, queries_[q]);

  glBindFramebuffer(GL_FRAMEBUFFER, fbo_);
  glViewport(0, 0, cam.width, cam.height);
  glDisable(GL_DEPTH_TEST);
  glDisable(GL_CULL_FACE);
  glDisable(GL_SCISSOR_TEST);
  glClearColor(p.background[0], p.background[1], p.background[2], 0.f);
  glClear(GL_COLOR_BUFFER_BIT);
  if (order_count_ > 0 && splat_count_ > 0) {
    glEnable(GL_BLEND);
    glBlendEquation(GL_FUNC_ADD);
    // Premultiplied "over" drawn back to front: dst = src + (1 − α)·dst, so the background ends up
    // weighted by the remaining transmittance exactly as in front-to-back compositing.
    glBlendFunc(GL_ONE, GL_ONE_MINUS_SRC_ALPHA);
    glUseProgram(program_);
    float view[16];
    for (int i = 0; i < 16; ++i) view[i] = float(cam.world_to_camera[i]);
    glUniformMatrix4fv(glGetUniformLocation(program_, "u_view"), 1, GL_TRUE, view);
    glUniform4f(glGetUniformLocation(program_, "u_intrinsics"), float(cam.fx), float(cam.fy), float(cam.cx),
                float(cam.cy));
    glUniform2f(glGetUniformLocation(program_, "u_viewport"), float(cam.width), float(cam.height));
    glUniform1f(glGetUniformLocation(program_, "u_scale2"), p.splat_scale * p.splat_scale);
    glUniform1f(glGetUniformLocation(program_, "u_opacity"), p.opacity_scale);
    glUniform1f(glGetUniformLocation(program_, "u_near"), float(cam.near_plane));
    glUniform1f(glGetUniformLocation(program_, "u_far"), float(cam.far_plane));
    const double g = rc::kGuardBand;
    glUniform4f(glGetUniformLocation(program_, "u_limits"), float((-g * cam.width - cam.cx) / cam.fx),
                float(((1 + g) * cam.width - cam.cx) / cam.fx), float((-g * cam.height - cam.cy) / cam.fy),
                float(((1 + g) * cam.height - cam.cy) / cam.fy));
    glUniform1f(glGetUniformLocation(program_, "u_lowpass"), float(p.screen_filter.variance_px2));
    glUniform1f(glGetUniformLocation(program_, "u_mip"), p.screen_filter.is_mip() ? 1.f : 0.f);
    glUniform1f(glGetUniformLocation(program_, "u_mip_det_eps"), float(rc::kMipDetEps));
    glUniform1f(glGetUniformLocation(program_, "u_sigma_cut"), float(rc::kSigmaCut));
    glUniform1f(glGetUniformLocation(program_, "u_min_power"), float(rc::kMinPower));
    glUniform1f(glGetUniformLocation(program_, "u_max_alpha"), float(rc::kMaxAlpha));
    glUniform1f(glGetUniformLocation(program_, "u_min_alpha"), float(rc::kMinAlpha));
    glUniform1f(glGetUniformLocation(program_, "u_pixel_shift"), 0.f);
    glActiveTexture(GL_TEXTURE0);
    glBindTexture(GL_TEXTURE_BUFFER, splat_texture_);
    glUniform1i(glGetUniformLocation(program_, "u_splats"), 0);
    glBindVertexArray(vao_);
    glDrawArraysInstanced(GL_TRIANGLE_STRIP, 0, 4, GLsizei(order_count_));
    glBindVertexArray(0);
    glBindTexture(GL_TEXTURE_BUFFER, 0);
    glUseProgram(0);
    glDisable(GL_BLEND);
  }
  glBindFramebuffer(GL_FRAMEBUFFER, 0);
  glEndQuery(GL_TIME_ELAPSED);
  query_pending_[q] = true;
  query_next_ = 1 - q;
}

double SplatRenderer::gpu_ms() {
  for (int q = 0; q < 2; ++q) {
    if (!query_pending_[q]) continue;
    GLint ready = 0;
    glGetQueryObjectiv(queries_[q], GL_QUERY_RESULT_AVAILABLE, &ready);
    if (!ready) continue;
    GLuint64 ns = 0;
    glGetQueryObjectui64v(queries_[q], GL_QUERY_RESULT, &ns);
    last_gpu_ms_ = double(ns) * 1e-6;
    query_pending_[q] = false;
  }
  return last_gpu_ms_;
}

void SplatRenderer::blit_to_screen(int sw, int sh) const {
  if (!fbo_) return;
  glBindFramebuffer(GL_READ_FRAMEBUFFER, fbo_);
  glBindFramebuffer(GL_DRAW_FRAMEBUFFER, 0);
  // Image row 0 was drawn at NDC y = +1, the top of the window, so no flip is needed.
  glBlitFramebuffer(0, 0, width_, height_, 0, 0, sw, sh, GL_COLOR_BUFFER_BIT, GL_NEAREST);
  glBindFramebuffer(GL_FRAMEBUFFER, 0);
}

std::vector<float> SplatRenderer::read_rgb() const {
  std::vector<float> rgba(size_t(width_) * height_ * 4);
  glBindFramebuffer(GL_READ_FRAMEBUFFER, fbo_);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadPixels(0, 0, width_, height_, GL_RGBA, GL_FLOAT, rgba.data());
  glBindFramebuffer(GL_READ_FRAMEBUFFER, 0);
  // NDC y = +1 (image row 0) is the framebuffer's top row, which glReadPixels returns last.
  std::vector<float> rgb(size_t(width_) * height_ * 3);
  for (int y = 0; y < height_; ++y) {
    const float* src = rgba.data() + size_t(height_ - 1 - y) * width_ * 4;
    float* dst = rgb.data() + size_t(y) * width_ * 3;
    for (int x = 0; x < width_; ++x) {
      dst[x * 3 + 0] = src[x * 4 + 0];
      dst[x * 3 + 1] = src[x * 4 + 1];
      dst[x * 3 + 2] = src[x * 4 + 2];
    }
  }
  return rgb;
}

}  // namespace fresnel::viewer
