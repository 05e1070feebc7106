// Host-side set-up of the per-camera constants the kernels read (CPU kernels and CUDA kernels share it,
// so both paths clamp the Jacobian with the same guard band).
#pragma once
#include "core/camera.hpp"
#include "render/constants.hpp"
#include "render/gaussian_math.hpp"
#include "render/raster_cpu.hpp"

namespace fresnel::raster {

template <typename S>
gmath::CameraParams<S> camera_params(const Camera& cam, const Settings& s) {
  namespace rc = fresnel::render_constants;
  gmath::CameraParams<S> p{};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) p.R[3 * i + j] = S(cam.world_to_camera[4 * i + j]);
    p.t[i] = S(cam.world_to_camera[4 * i + 3]);
  }
  p.fx = S(cam.fx);
  p.fy = S(cam.fy);
  p.cx = S(cam.cx);
  p.cy = S(cam.cy);
  p.near_plane = S(cam.near_plane);
  p.far_plane = S(cam.far_plane);
  const Vec3 c = cam.position();
  for (int i = 0; i < 3; ++i) p.pos[i] = S(c[i]);
  p.filter_var = S(s.filter_variance);
  p.mip_filter = s.mip_filter;
  p.width = cam.width;
  p.height = cam.height;
  p.lim_x_lo = S((-rc::kGuardBand * cam.width - cam.cx) / cam.fx);
  p.lim_x_hi = S(((1 + rc::kGuardBand) * cam.width - cam.cx) / cam.fx);
  p.lim_y_lo = S((-rc::kGuardBand * cam.height - cam.cy) / cam.fy);
  p.lim_y_hi = S(((1 + rc::kGuardBand) * cam.height - cam.cy) / cam.fy);
  return p;
}

}  // namespace fresnel::raster
