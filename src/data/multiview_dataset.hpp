// Multi-view datasets on disk (written by `fresnel synth`, read by training and `fresnel eval`).
//
// Layout (see docs/dataset.md):
//   DIR/dataset.json                      {"format":"fresnel-multiview","version":1, "image_size", "views_per_object",
//                                          "seed", "splits":{"train":N,"val":N,"test":N}, ...}
//   DIR/<split>/<object_id>/              split ∈ {train, val, test}; object_id = "obj_00042"
//       view_000.png                      RGB, 8-bit; view 000 is the INPUT view, 001… are the other views
//       view_000_depth.npy                float32 (H,W) metric depth along the camera z axis, 0 on background
//       view_000_mask.png                 8-bit grey, object coverage in [0,1] (anti-aliased)
//       cameras.json                      one camera per view (core/camera.hpp save_cameras_json: OpenCV axes,
//                                         world→camera row-major, intrinsics in pixels), same order as the views
//       object.json                       the primitives, seed and the input view index
//   DIR/images/<object_id>.png            input views of the TRAIN split, the original single-view `--data_dir`
//   DIR/images_val/, DIR/images_test/     layout (same stem as the object directory); the other splits apart so
//                                         training on DIR/images never sees evaluation objects.
//
// The reader streams: it lists object ids, and loads one object's views on request.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/camera.hpp"

namespace fresnel {

struct ViewData {
  torch::Tensor rgb;    // (H,W,3) float32 in [0,1]
  torch::Tensor depth;  // (H,W) float32 metric depth along camera z, 0 where no object
  torch::Tensor mask;   // (H,W) float32 coverage in [0,1]
  Camera camera;        // world→camera, as stored
  int index = 0;        // view number in the object directory
};

struct ObjectViews {
  std::string id, split, dir;
  int input_view = 0;           // index into `views` of the input view
  std::vector<ViewData> views;  // the loaded views in file order (all views unless a subset was asked for)
  const ViewData& input() const;
  // Cameras of `views` expressed in the input camera's frame (input camera = identity, OpenCV axes).
  std::vector<Camera> relative_cameras() const;
};

// File names inside an object directory.
std::string view_rgb_name(int view);             // "view_003.png"
std::string view_depth_name(int view);           // "view_003_depth.npy"
std::string view_mask_name(int view);            // "view_003_mask.png"
std::string object_id_for_index(int64_t index);  // "obj_00042"
// Directory of input images for a split: DIR/images (train), DIR/images_val, DIR/images_test.
std::string split_images_dir(const std::string& root, const std::string& split);
bool is_valid_split(const std::string& split);

// `cam` re-expressed in the frame of `reference` (reference becomes the identity camera):
// world_to_camera' = world_to_camera · reference.camera_to_world. Intrinsics are kept.
Camera camera_relative_to(const Camera& cam, const Camera& reference);
std::vector<Camera> cameras_relative_to(const std::vector<Camera>& cams, const Camera& reference);

class MultiViewDataset {
 public:
  // Opens DIR (reads DIR/dataset.json). Throws fresnel::Error naming the file when it is missing or malformed.
  explicit MultiViewDataset(std::string root);
  // True when DIR holds a dataset.json of this format.
  static bool looks_like_dataset(const std::string& root);

  const std::string& root() const { return root_; }
  int image_size() const { return image_size_; }
  int views_per_object() const { return views_per_object_; }  // input view included

  // Sorted object ids of a split (directories under DIR/<split>). Throws UsageError for an unknown split name.
  std::vector<std::string> object_ids(const std::string& split) const;
  std::string object_dir(const std::string& split, const std::string& id) const;

  // Loads one object. `views` selects view indices to load (empty = all); the input view is always loaded.
  // Throws fresnel::Error naming the file on a missing/corrupt view, shape mismatch or NaN depth.
  ObjectViews load_object(const std::string& split, const std::string& id, const std::vector<int>& views = {}) const;

 private:
  std::string root_;
  int image_size_ = 0, views_per_object_ = 0;
};

// float32 (H,W) depth maps as .npy (core/npy.hpp: v1.0, '<f4', C order). Atomic write; read throws naming the file.
void save_depth_npy(const std::string& path, const torch::Tensor& depth);
torch::Tensor load_depth_npy(const std::string& path);

}  // namespace fresnel
