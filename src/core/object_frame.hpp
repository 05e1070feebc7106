// The object frame of `fresnel infer --frame object`: a single object as web viewers frame it.
//   p_object = scale · (p_camera − center)
// i.e. centred at the origin, scaled so that the longest side of the object's bounding box is 1, with the axes of
// the 3DGS PLY convention (x right, y down, z away from the input camera). Viewers that orbit the origin then
// centre the object, and the ones that display 3DGS PLYs upright (PlayCanvas SuperSplat turns PLY data 180° about
// z) show it upright: scripts/viewer_screenshot.sh measured that a y-up file appears upside down there
// (docs/inference.md, "Frames"). Gaussians map exactly (means, scales × scale; rotations and SH unchanged). The input
// camera in that frame renders them to the same image (depth × scale); it is saved beside the file.
#pragma once
#include <string>

#include "core/camera.hpp"
#include "core/gaussians.hpp"

namespace fresnel {

struct ObjectFrame {
  Vec3 center = {0, 0, 0};  // in the camera frame
  double scale = 1.0;       // object units per camera-frame unit
};

// Centre and size from the Gaussians that matter: opacity ≥ 0.1 (all if none), per-axis 1st–99th percentile of
// the means so that a few stray Gaussians do not shift or shrink the object.
ObjectFrame fit_object_frame(const Gaussians& camera_frame);
Gaussians to_object_frame(const Gaussians& camera_frame, const ObjectFrame& frame);
Gaussians from_object_frame(const Gaussians& object_frame, const ObjectFrame& frame);
// A camera of the camera-frame world expressed in the object frame (rigid [R | scale·(R·c + t)], near/far scaled).
Camera camera_in_object_frame(const Camera& camera, const ObjectFrame& frame);

// `<file>.cameras.json` beside a Gaussians file: {"cameras":[input camera], "frame":"camera"|"object",
// "object_frame":{"center":[…],"scale":s}} (the last only for the object frame). Written atomically.
std::string cameras_json_path_for(const std::string& gaussians_path);
// screen_filter (optional, render/screen_filter.hpp's name, e.g. "mip:0.1"): the rasterizer filter the Gaussians
// were trained for, so that `eval`/`render` draw them as the model saw them.
void save_frame_cameras(const std::string& path, const Camera& input_camera, const ObjectFrame* frame,
                        const std::string& screen_filter = "");
// The object frame recorded in such a file, or false when the file says "camera" (or has no frame).
bool load_object_frame(const std::string& path, ObjectFrame& frame);
// The "screen_filter" such a file names, or "" when it names none (files written before it existed: dilation).
std::string load_screen_filter_name(const std::string& path);

}  // namespace fresnel
