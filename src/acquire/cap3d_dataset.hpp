// `fresnel cap3d-dataset`: Cap3D objects → the project's multi-view dataset (docs/dataset.md, the layout
// `fresnel synth` writes), so training with novel views and `fresnel eval` run unchanged on real renders.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace fresnel::acquire {

struct Cap3dDatasetOptions {
  std::string input_dir, out_dir;
  int64_t objects = 100;
  int views = 8;  // views per object besides the input view
  int image_size = 128;
  uint64_t seed = 0;
  std::array<double, 3> split{0.8, 0.1, 0.1};
};

struct Cap3dDatasetSummary {
  int64_t available = 0;
  int64_t written = 0, existing = 0;
  int64_t blank = 0, too_few_views = 0, corrupt = 0, unsafe = 0;  // objects skipped, by reason
  std::array<int64_t, 3> split_counts{0, 0, 0};                   // objects in train, val, test
  std::vector<std::string> problems;
};

// Objects are taken in a seeded order; each gets a seeded non-blank input view and the `views` non-blank views
// whose optical axes are closest to the input's (they share the most visible surface). Images are area-resized
// to image_size² (intrinsics scaled), depth is the coverage-weighted mean of the surface pixels, the mask their
// coverage. Object directories are named by the Cap3D uid; `object.json` is written last in each, `dataset.json`
// last of all, and a re-run skips finished objects. Throws fresnel::UsageError on bad options.
Cap3dDatasetSummary convert_cap3d_dataset(const Cap3dDatasetOptions& options);

}  // namespace fresnel::acquire
