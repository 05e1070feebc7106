// A GLFW window with an OpenGL 3.3 core context made current; hidden for headless screenshots.
#pragma once
#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

#include <string>

namespace fresnel::viewer {

class GlContext {
 public:
  // Throws fresnel::Error with the GLFW message and a hint when no display or no OpenGL 3.3 is available.
  GlContext(int width, int height, const std::string& title, bool visible);
  ~GlContext();
  GlContext(const GlContext&) = delete;
  GlContext& operator=(const GlContext&) = delete;
  GLFWwindow* window() const { return window_; }
  // "renderer name, OpenGL version" for the stats panel and logs.
  std::string description() const;

 private:
  GLFWwindow* window_ = nullptr;
};

}  // namespace fresnel::viewer
