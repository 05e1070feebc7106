// What CVS trains on: (input view, target view, relative pose) samples, streamed from disk one pair at a time.
//  - multi-view datasets from `fresnel synth` (data/multiview_dataset.hpp, the default): one sample per
//    (object, other view) pair, the pose from the two stored cameras;
//  - the original's bootstrap layout (spec §9.4; `fresnel cvs bootstrap` writes it): DIR/<image>/input.png,
//    input_features.npy (37,37,384), input_depth.npy, view_NNN/{rgb.png, depth.npy, pose.json};
//  - the original's self-target images (`--self_target_dataset`): an image is its own target under a random
//    pose. It learns nothing about other views (the original's docs: "outputs noise"); kept for comparison.
//
// The relative pose has one convention, used by training and inference alike (relative_pose): OpenCV cameras
// (docs/conventions.md), world→camera [R|t]; R_rel = R_t·R_sᵀ, t_rel = t_t − R_rel·t_s, i.e. the target camera
// in the source camera's frame.
#pragma once
#include <torch/types.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "core/camera.hpp"

namespace fresnel::synthesis {

struct RelativePose {
  std::array<double, 9> R{};  // row-major
  std::array<double, 3> t{};
};
RelativePose relative_pose(const Camera& source, const Camera& target);
// (B,3,3) and (B,3) float32 tensors of poses.
torch::Tensor rotations_tensor(const std::vector<RelativePose>& poses);
torch::Tensor translations_tensor(const std::vector<RelativePose>& poses);

struct CvsSample {
  std::string name;
  torch::Tensor input;         // (3,S,S) in [−1,1]
  torch::Tensor target;        // (3,S,S) in [−1,1]
  torch::Tensor target_depth;  // (1,S,S) depth of the target view (0 = background), undefined when unknown
  torch::Tensor features;      // (C,37,37) precomputed DINOv2 features, undefined with the built-in encoder
  RelativePose pose;
};

// How conditioning features are obtained.
enum class FeatureSource { Auto, Dinov2, Builtin };
FeatureSource parse_feature_source(const std::string& name);  // "auto" | "dinov2" | "builtin"; UsageError else

class CvsSource {
 public:
  virtual ~CvsSource() = default;
  virtual std::string describe() const = 0;
  virtual int64_t size() const = 0;
  // Loads sample i at image size S. `seed` drives per-sample randomness (the self-target dataset's pose).
  // Throws fresnel::Error naming the file that is missing or malformed.
  virtual CvsSample load(int64_t index, uint64_t seed) const = 0;
  // Whether precomputed DINOv2 features exist for the samples (checked on the first sample).
  virtual bool has_dinov2_features() const = 0;
};

struct CvsSourceOptions {
  std::string data_dir;
  int image_size = 256;
  std::string split = "train";  // multi-view datasets
  bool load_features = false;   // load precomputed DINOv2 features (else the built-in encoder is used)
  bool self_target = false;     // the original's self-target dataset (learns nothing; see above)
  int64_t max_objects = 0;      // > 0: at most this many objects (images)
};

// Picks the source from the directory: a multi-view dataset (dataset.json), the bootstrap layout (a subdirectory
// holding input.png and view_*), or — with self_target — a folder of images. Throws fresnel::Error naming the
// directory when it is none of these, or when a multi-view dataset has no other views.
std::unique_ptr<CvsSource> open_cvs_source(const CvsSourceOptions& options);

// (3,S,S) in [−1,1] from an (H,W,3) image in [0,1] (area shrink, bilinear growth).
torch::Tensor to_network_image(const torch::Tensor& hwc01, int size);
// (1,S,S) depth resized with nearest neighbours (no blending across depth edges).
torch::Tensor resize_depth(const torch::Tensor& depth_hw, int size);

// Bootstrap layout pose files: {"R": 3×3, "t": 3, "frame": "opencv-relative"} (ours) — without "frame" the file is
// the original's (an absolute −Z world→camera pose of the decoder world, its input camera the identity), which is
// converted to our convention relative to that input camera. Throws fresnel::Error naming the file.
RelativePose load_pose_json(const std::string& path);
void save_pose_json(const std::string& path, const RelativePose& pose);

}  // namespace fresnel::synthesis
