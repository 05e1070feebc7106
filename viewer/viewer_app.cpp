#include "viewer_app.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <iostream>

#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "core/image_io.hpp"
#include "core/object_frame.hpp"
#include "depth_sort.hpp"
#include "evaluate/baselines.hpp"
#include "gl_context.hpp"
#include "infer/image_reconstruction.hpp"
#include "scene.hpp"
#include "sort_worker.hpp"
#include "splat_renderer.hpp"

// Dear ImGui after GL/GLFW: its backends only need the GLFW declarations.
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>
#include <imgui_stdlib.h>

namespace fresnel::viewer {
namespace {

constexpr double kDegree = 3.14159265358979323846 / 180.0;
constexpr double kTestCloudExtent = 3.0;  // the original viewer's test cloud

// Loads a scene from a path (Gaussians file or image) or the test cloud when the path is empty.
Scene load_scene(const std::string& path, const ViewerOptions& o, int64_t test_count, std::string* method) {
  const double fov = o.fov_y_degrees * kDegree;
  if (path.empty()) {
    if (method) *method = "test cloud";
    return make_scene(make_test_cloud(test_count, kTestCloudExtent), "test cloud (" + std::to_string(test_count) + ")",
                      false, fov);
  }
  if (!std::filesystem::exists(path)) throw file_error(path, "file not found");
  if (is_gaussian_file(path)) {
    if (method) *method = "file";
    Scene s = make_scene(load_gaussians(path), path, false, fov);
    // infer records the checkpoint's screen filter beside the file (render/eval read it the same way).
    const std::string cameras = cameras_json_path_for(path);
    if (std::filesystem::exists(cameras))
      if (const auto named = screen_filter_from_file(cameras)) s.screen_filter = *named;
    return s;
  }
  if (is_image_file(path)) {
    // "Use Learned Decoder": the checkpoint's decoder; otherwise SAAG on the checkpoint's depth.
    infer::ReconstructionOptions ro;
    ro.checkpoint = o.checkpoint;
    ro.use_learned_decoder = o.use_learned_decoder;
    infer::ImageReconstructor reconstructor(ro);
    const auto r = reconstructor.run(path);
    if (method) *method = r.method;
    Scene s = make_scene(r.gaussians, path, true, fov);
    s.screen_filter = r.screen_filter;
    return s;
  }
  throw file_error(path, "not a Gaussians file (" + supported_gaussian_extensions() + ") or an image (" +
                             supported_image_extensions() + ")");
}

OrbitCamera initial_camera(const Scene& scene, const ViewerOptions& o) {
  OrbitCamera cam = scene.home;
  if (o.yaw) cam.yaw = *o.yaw;
  if (o.pitch) cam.pitch = *o.pitch;
  if (o.distance) cam.distance = *o.distance;
  if (o.target) cam.target = *o.target;
  return cam;
}

torch::Tensor rgb_tensor(const std::vector<float>& rgb, int width, int height) {
  return torch::from_blob(const_cast<float*>(rgb.data()), {height, width, 3}, torch::kFloat32).clone();
}

// The Gaussians as shown: the splat-scale and opacity sliders applied.
Gaussians shown_gaussians(const Scene& scene, float splat_scale, float opacity_scale) {
  Gaussians g = scene.gaussians;
  g.scales = g.scales * splat_scale;
  g.opacities = (g.opacities * opacity_scale).clamp(0, 1);
  return g;
}

}  // namespace

int run_screenshot(const ViewerOptions& o) {
  // Input errors first: they should not depend on having a display.
  const Scene scene = load_scene(o.input, o, o.test_count, nullptr);
  GlContext gl(64, 64, "fresnel-viewer (offscreen)", /*visible=*/false);
  const OrbitCamera orbit = initial_camera(scene, o);
  const Camera camera = orbit.camera(o.width, o.height);

  SplatRenderer renderer(/*full_precision=*/true);
  renderer.upload(scene.splats);
  std::vector<uint32_t> order;
  const double row[4] = {camera.world_to_camera[8], camera.world_to_camera[9], camera.world_to_camera[10],
                         camera.world_to_camera[11]};
  sort_back_to_front(scene.splats.texels->data(), kFloatsPerSplat, draw_candidates(scene, o.max_count), row,
                     camera.near_plane, order);
  renderer.set_order(order);
  SplatRenderParams params;
  params.camera = camera;
  params.background = o.background;
  params.splat_scale = o.splat_scale;
  params.opacity_scale = o.opacity_scale;
  params.screen_filter = scene.screen_filter;
  renderer.render(params);
  const std::vector<float> rgb = renderer.read_rgb();
  save_image(o.screenshot, rgb_tensor(rgb, o.width, o.height));
  if (!o.save_camera.empty()) save_cameras_json(o.save_camera, {camera});
  std::printf("wrote %s (%dx%d, %lld of %lld Gaussians drawn, yaw %.2f° pitch %.2f° distance %.3f, %s)\n",
              o.screenshot.c_str(), o.width, o.height, (long long)order.size(), (long long)scene.splats.count,
              orbit.yaw / kDegree, orbit.pitch / kDegree, orbit.distance, gl.description().c_str());
  return 0;
}

namespace {

std::deque<std::string> g_dropped_paths;

void on_drop(GLFWwindow*, int count, const char** paths) {
  for (int i = 0; i < count; ++i) g_dropped_paths.emplace_back(paths[i]);
}

// Everything the interactive window keeps between frames.
struct Session {
  ViewerOptions options;
  Scene scene;
  std::string method;
  OrbitCamera camera;
  SplatRenderer renderer{false};
  SortWorker sorter;
  uint64_t generation = 0;
  int64_t max_count = 0;
  bool order_ready = false;
  std::optional<Mat4> requested_view;
  double sort_ms = 0;
  std::string status;
  std::string load_path, checkpoint_path, export_path = "fresnel_export.ply",
                                          screenshot_path = "fresnel_screenshot.png";
  int test_count = 1000;

  void install(Scene s, const std::string& how) {
    renderer.upload(s.splats);
    scene = std::move(s);
    method = how;
    camera = scene.home;
    ++generation;
    resubmit();
    status = "loaded " + scene.source + ": " + std::to_string(scene.splats.count) + " Gaussians";
  }
  // New candidate set (scene or max count changed): the worker must sort again.
  void resubmit() {
    sorter.set_scene(scene.splats.texels, kFloatsPerSplat, draw_candidates(scene, max_count), ++generation);
    requested_view.reset();
    order_ready = false;
  }
  void load(const std::string& path) {
    try {
      ViewerOptions o = options;
      o.checkpoint = checkpoint_path;
      std::string how;
      Scene s = load_scene(path, o, test_count, &how);
      install(std::move(s), how);
      load_path = path;
    } catch (const std::exception& e) {
      status = std::string("error: ") + e.what();
    }
  }
};

void draw_ui(Session& s, const std::string& gpu_name) {
  ImGuiIO& io = ImGui::GetIO();
  ImGui::SetNextWindowPos(ImVec2(10, 10), ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowSize(ImVec2(380, 0), ImGuiCond_FirstUseEver);
  ImGui::Begin("Fresnel Viewer");
  if (ImGui::CollapsingHeader("Stats", ImGuiTreeNodeFlags_DefaultOpen)) {
    ImGui::Text("FPS %.1f  (frame %.2f ms)", io.Framerate, 1000.0f / std::max(io.Framerate, 1e-3f));
    const double gpu = s.renderer.gpu_ms();
    if (gpu >= 0) ImGui::Text("Render %.2f ms (GPU)   Sort %.1f ms", gpu, s.sort_ms);
    ImGui::Text("Gaussians %lld drawn / %lld", (long long)s.renderer.drawn_count(), (long long)s.scene.splats.count);
    ImGui::TextWrapped("Source: %s (%s)", s.scene.source.c_str(), s.method.c_str());
    ImGui::TextWrapped("GPU: %s", gpu_name.c_str());
  }
  if (ImGui::CollapsingHeader("Load", ImGuiTreeNodeFlags_DefaultOpen)) {
    ImGui::InputText("Path", &s.load_path);
    ImGui::InputText("Checkpoint", &s.checkpoint_path);
    if (ImGui::Button("Load")) s.load(s.load_path);
    ImGui::SameLine();
    static const std::string hint = "(" + supported_gaussian_extensions() + " or an image; or drop a file)";
    ImGui::TextDisabled("%s", hint.c_str());
    if (ImGui::Checkbox("Use Learned Decoder", &s.options.use_learned_decoder) && is_image_file(s.scene.source))
      s.load(s.scene.source);  // re-run the image with the other generator
    ImGui::InputInt("Test cloud size", &s.test_count, 1000, 100000);
    s.test_count = std::clamp(s.test_count, 1, 10000000);
    if (ImGui::Button("Load Test Cloud")) s.load("");
  }
  if (ImGui::CollapsingHeader("Quality", ImGuiTreeNodeFlags_DefaultOpen)) {
    ImGui::SliderFloat("Splat Scale", &s.options.splat_scale, 0.1f, 3.0f, "%.2f", ImGuiSliderFlags_Logarithmic);
    ImGui::SliderFloat("Opacity", &s.options.opacity_scale, 0.05f, 2.0f, "%.2f");
    const int64_t n = std::max<int64_t>(1, s.scene.splats.count);
    int max_k = int(s.max_count <= 0 ? n : s.max_count);
    if (ImGui::SliderInt("Max Count", &max_k, 1, int(n), "%d", ImGuiSliderFlags_Logarithmic)) {
      s.max_count = max_k >= n ? 0 : max_k;
      s.resubmit();
    }
    float bg[3] = {s.options.background[0], s.options.background[1], s.options.background[2]};
    if (ImGui::ColorEdit3("Background", bg)) s.options.background = {bg[0], bg[1], bg[2]};
  }
  if (ImGui::CollapsingHeader("Camera", ImGuiTreeNodeFlags_DefaultOpen)) {
    ImGui::Text("yaw %.1f°  pitch %.1f°  distance %.2f", s.camera.yaw / kDegree, s.camera.pitch / kDegree,
                s.camera.distance);
    ImGui::Text("target (%.2f, %.2f, %.2f)", s.camera.target[0], s.camera.target[1], s.camera.target[2]);
    if (ImGui::Button("Reset Camera (R)")) s.camera = s.scene.home;
    ImGui::TextDisabled("LMB orbit, RMB pan, wheel zoom, Esc quit");
  }
  if (ImGui::CollapsingHeader("Export", ImGuiTreeNodeFlags_DefaultOpen)) {
    ImGui::InputText("PLY file", &s.export_path);
    if (ImGui::Button("Export PLY")) {
      try {
        save_gaussians(s.export_path, shown_gaussians(s.scene, s.options.splat_scale, s.options.opacity_scale));
        s.status = "wrote " + s.export_path;
      } catch (const std::exception& e) {
        s.status = std::string("error: ") + e.what();
      }
    }
    ImGui::InputText("PNG file", &s.screenshot_path);
    if (ImGui::Button("Save Screenshot")) {
      try {
        save_image(s.screenshot_path, rgb_tensor(s.renderer.read_rgb(), s.renderer.width(), s.renderer.height()));
        s.status = "wrote " + s.screenshot_path;
      } catch (const std::exception& e) {
        s.status = std::string("error: ") + e.what();
      }
    }
  }
  if (!s.status.empty()) ImGui::TextWrapped("%s", s.status.c_str());
  ImGui::End();
}

}  // namespace

int run_interactive(const ViewerOptions& o) {
  // A file given on the command line must load (later failures from the UI only show a message).
  std::string first_method;
  Scene first_scene = load_scene(o.input, o, o.test_count, &first_method);
  GlContext gl(1600, 900, "Fresnel Viewer", /*visible=*/true);
  glfwSwapInterval(1);
  glfwSetDropCallback(gl.window(), on_drop);
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;  // no imgui.ini next to the user's files
  ImGui::StyleColorsDark();
  ImGui_ImplGlfw_InitForOpenGL(gl.window(), true);
  ImGui_ImplOpenGL3_Init("#version 330 core");
  const std::string gpu_name = gl.description();
  {
    Session s;
    s.options = o;
    s.max_count = o.max_count;
    s.test_count = int(std::min<int64_t>(o.test_count, 10000000));
    s.checkpoint_path = o.checkpoint;
    s.install(std::move(first_scene), first_method);
    s.load_path = o.input;
    s.camera = initial_camera(s.scene, o);

    while (!glfwWindowShouldClose(gl.window())) {
      glfwPollEvents();
      while (!g_dropped_paths.empty()) {
        s.load(g_dropped_paths.front());
        g_dropped_paths.pop_front();
      }
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      ImGui::NewFrame();
      ImGuiIO& io = ImGui::GetIO();
      if (!io.WantCaptureMouse) {
        if (ImGui::IsMouseDown(ImGuiMouseButton_Left)) s.camera.orbit(io.MouseDelta.x, io.MouseDelta.y);
        if (ImGui::IsMouseDown(ImGuiMouseButton_Right)) s.camera.pan(io.MouseDelta.x, io.MouseDelta.y);
        if (io.MouseWheel != 0.f) s.camera.zoom(io.MouseWheel);
      }
      if (!io.WantCaptureKeyboard) {
        if (ImGui::IsKeyPressed(GLFW_KEY_R)) s.camera = s.scene.home;
        if (ImGui::IsKeyPressed(GLFW_KEY_ESCAPE)) glfwSetWindowShouldClose(gl.window(), GLFW_TRUE);
      }

      int fb_w = 0, fb_h = 0;
      glfwGetFramebufferSize(gl.window(), &fb_w, &fb_h);
      if (fb_w > 0 && fb_h > 0) {
        const Camera cam = s.camera.camera(fb_w, fb_h);
        // Re-sort only when the view changed (the order depends on the view, not on the image size).
        if (!s.requested_view || *s.requested_view != cam.world_to_camera) {
          s.sorter.request(cam);
          s.requested_view = cam.world_to_camera;
        }
        if (auto r = s.sorter.take_result()) {
          s.renderer.set_order(r->order);
          s.sort_ms = r->milliseconds;
          s.order_ready = true;
        }
        SplatRenderParams params;
        params.camera = cam;
        params.background = s.options.background;
        params.splat_scale = s.options.splat_scale;
        params.opacity_scale = s.options.opacity_scale;
        params.screen_filter = s.scene.screen_filter;
        s.renderer.render(params);
        s.renderer.blit_to_screen(fb_w, fb_h);
      }
      draw_ui(s, gpu_name);
      ImGui::Render();
      glViewport(0, 0, fb_w, fb_h);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
      glfwSwapBuffers(gl.window());
    }
  }
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  return 0;
}

}  // namespace fresnel::viewer
