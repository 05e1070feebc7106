#include "gl_context.hpp"

#include "core/error.hpp"
#include "gl.hpp"

namespace fresnel::viewer {
namespace {

std::string g_last_glfw_error;

void on_glfw_error(int code, const char* message) { g_last_glfw_error = message ? message : "unknown error"; }

}  // namespace

GlContext::GlContext(int width, int height, const std::string& title, bool visible) {
  glfwSetErrorCallback(on_glfw_error);
  const std::string hint = " (is a display available? Without one, run under `xvfb-run -a fresnel-viewer ...`)";
  if (!glfwInit()) throw Error("viewer: cannot initialise GLFW: " + g_last_glfw_error + hint);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
  glfwWindowHint(GLFW_VISIBLE, visible ? GLFW_TRUE : GLFW_FALSE);
  window_ = glfwCreateWindow(width, height, title.c_str(), nullptr, nullptr);
  if (!window_) {
    const std::string message = g_last_glfw_error;
    glfwTerminate();
    throw Error("viewer: cannot create an OpenGL 3.3 core window: " + message + hint);
  }
  glfwMakeContextCurrent(window_);
}

GlContext::~GlContext() {
  glfwDestroyWindow(window_);
  glfwTerminate();
}

std::string GlContext::description() const {
  const auto* renderer = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
  const auto* version = reinterpret_cast<const char*>(glGetString(GL_VERSION));
  return std::string(renderer ? renderer : "?") + ", OpenGL " + (version ? version : "?");
}

}  // namespace fresnel::viewer
