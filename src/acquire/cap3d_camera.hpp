// Cap3D's camera files ({i:05}.json, written by Shap-E's Blender script) → our cameras (docs/data.md).
//
// Cap3D stores camera-to-world as columns: c2w = [x | y | z | origin] in Blender's Z-up world, with the camera
// axes already in the OpenCV convention (x right, y down, z forward: the script writes Blender's −y and −z
// columns). `x_fov`/`y_fov` are full angles in radians; the principal point is the image centre.
// We re-express the world upright in our convention (up = −y, as `fresnel synth`): p_ours = (x, −z, y) of the
// Blender point (a proper rotation, so relative cameras and depths are unchanged), and invert to world→camera.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/camera.hpp"

namespace fresnel::acquire {

// Depth PNG scale when the camera file has no "max_depth": metric depth = v/65535·5, 65535 = background.
constexpr double kCap3dDefaultMaxDepth = 5.0;

// Blender Z-up world point → our world (x, −z, y).
Vec3 cap3d_world_to_ours(const Vec3& blender);

// Camera for an image of width×height. Throws fresnel::Error naming `where` and the field when a field is missing,
// not finite, the axes are not orthonormal and right-handed, or a field of view is outside (0, 180°).
Camera cap3d_camera_from_json(const nlohmann::json& j, int width, int height, const std::string& where);

// "max_depth" of the camera file, or kCap3dDefaultMaxDepth.
double cap3d_max_depth(const nlohmann::json& j, const std::string& where);

}  // namespace fresnel::acquire
