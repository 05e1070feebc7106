#include "acquire/cap3d_dataset.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "acquire/cap3d_source.hpp"
#include "acquire/mat_tensor.hpp"
#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "core/progress.hpp"
#include "data/multiview_dataset.hpp"
#include "data/synth_dataset.hpp"

namespace fresnel::acquire {
namespace fs = std::filesystem;

namespace {

const char* const kSplits[3] = {"train", "val", "test"};

int split_index(int64_t k, const std::array<int64_t, 3>& counts) {
  if (k < counts[0]) return 0;
  if (k < counts[0] + counts[1]) return 1;
  return 2;
}

// A view brought to size×size: area resampling; depth averaged over the surface pixels only.
struct ResizedView {
  cv::Mat rgb, depth, mask;
  Camera camera;
};

ResizedView resize_view(const Cap3dView& v, int size) {
  ResizedView r;
  r.camera = v.camera.resized(size, size);
  const cv::Size s(size, size);
  cv::resize(v.rgb, r.rgb, s, 0, 0, cv::INTER_AREA);
  cv::resize(v.coverage, r.mask, s, 0, 0, cv::INTER_AREA);
  cv::Mat depth_sum;
  cv::resize(v.depth.mul(v.coverage), depth_sum, s, 0, 0, cv::INTER_AREA);
  r.depth = cv::Mat::zeros(s, CV_32F);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const float c = r.mask.at<float>(y, x);
      if (c > 1e-6f) r.depth.at<float>(y, x) = depth_sum.at<float>(y, x) / c;
    }
  return r;
}

Vec3 optical_axis(const Camera& c) {  // camera +z in the world: third row of the rotation
  return {c.world_to_camera[8], c.world_to_camera[9], c.world_to_camera[10]};
}

// Seeded input view and the `k` non-blank views nearest to it in viewing direction; empty when too few.
std::vector<int> choose_views(const std::vector<std::pair<int, Camera>>& usable, int k, uint64_t seed,
                              const std::string& uid) {
  if (int(usable.size()) < k + 1) return {};
  const size_t input = mix_seed(seed ^ hash_string(uid)) % usable.size();
  const Vec3 a = optical_axis(usable[input].second);
  std::vector<std::pair<double, int>> others;
  for (size_t i = 0; i < usable.size(); ++i) {
    if (i == input) continue;
    const Vec3 b = optical_axis(usable[i].second);
    others.push_back({-(a[0] * b[0] + a[1] * b[1] + a[2] * b[2]), usable[i].first});
  }
  std::sort(others.begin(), others.end());
  std::vector<int> chosen{usable[input].first};
  for (int j = 0; j < k; ++j) chosen.push_back(others[j].second);
  return chosen;
}

void write_object(const std::vector<ResizedView>& resized, const std::vector<int>& views, const std::string& dir,
                  const std::string& images_dir, const Cap3dObjectRef& ref) {
  ensure_directory(dir);
  std::vector<Camera> cams;
  for (size_t i = 0; i < resized.size(); ++i) {
    const auto& r = resized[i];
    save_image(dir + "/" + view_rgb_name(int(i)), mat_to_tensor(r.rgb));
    save_depth_npy(dir + "/" + view_depth_name(int(i)), mat_to_tensor(r.depth));
    save_image(dir + "/" + view_mask_name(int(i)), mat_to_tensor(r.mask).unsqueeze(-1));
    if (i == 0) save_image(images_dir + "/" + ref.uid + ".png", mat_to_tensor(r.rgb));
    cams.push_back(r.camera);
  }
  save_cameras_json(dir + "/cameras.json", cams);
  const nlohmann::json meta = {{"source", "cap3d"},  {"uid", ref.uid},  {"archive", ref.container},
                               {"entry", ref.entry}, {"input_view", 0}, {"cap3d_views", views}};
  write_text_file(dir + "/object.json", meta.dump(2));  // last: its presence marks the object complete
}

}  // namespace

Cap3dDatasetSummary convert_cap3d_dataset(const Cap3dDatasetOptions& o) {
  if (o.out_dir.empty()) throw UsageError("--out is required");
  if (o.objects <= 0) throw UsageError("--objects must be positive");
  if (o.views < 1 || o.views > 99) throw UsageError("--views must be between 1 and 99");
  if (o.image_size < 8 || o.image_size > 4096) throw UsageError("--size must be between 8 and 4096");
  const auto counts = synth::split_counts(o.objects, o.split);
  const Cap3dListing listing = list_cap3d_objects(o.input_dir);
  Cap3dDatasetSummary s;
  s.available = int64_t(listing.objects.size());
  s.unsafe = listing.unsafe_names;
  s.problems = listing.problems;
  for (const char* split : kSplits) ensure_directory(split_images_dir(o.out_dir, split));

  Cap3dReader reader;
  Progress progress("cap3d-dataset", std::min<int64_t>(o.objects, s.available), "obj");
  for (size_t i : seeded_permutation(listing.objects.size(), o.seed)) {
    const int64_t k = s.written + s.existing;
    if (k >= o.objects) break;
    const Cap3dObjectRef& ref = listing.objects[i];
    const int split = split_index(k, counts);
    const std::string dir = (fs::path(o.out_dir) / kSplits[split] / ref.uid).string();
    if (fs::exists(dir + "/object.json")) {
      ++s.existing;
      ++s.split_counts[split];
      progress.advance();
      continue;
    }
    std::vector<int> views;
    std::vector<ResizedView> resized;  // decoded inside the try: a corrupt object is skipped, a failed write is fatal
    try {
      Cap3dObject obj = reader.open(ref);
      std::vector<std::pair<int, Camera>> usable;
      for (int v : obj.views()) {
        const auto info = obj.info(v);
        if (!info.blank) usable.push_back({v, info.camera});
      }
      if (usable.empty()) {
        ++s.blank;
        s.problems.push_back(ref.label() + ": every view is blank; skipped");
        continue;
      }
      views = choose_views(usable, o.views, o.seed, ref.uid);
      if (views.empty()) {
        ++s.too_few_views;
        s.problems.push_back(ref.label() + ": " + std::to_string(usable.size()) + " non-blank views, " +
                             std::to_string(o.views + 1) + " needed; skipped");
        continue;
      }
      for (int v : views) resized.push_back(resize_view(obj.load(v), o.image_size));
    } catch (const Error& e) {
      ++s.corrupt;
      s.problems.push_back(std::string(e.what()) + "; skipped");
      continue;
    }
    write_object(resized, views, dir, split_images_dir(o.out_dir, kSplits[split]), ref);
    ++s.written;
    ++s.split_counts[split];
    progress.advance();
  }
  progress.finish();
  if (s.written + s.existing == 0) throw Error(o.input_dir + ": no usable Cap3D object found");
  const nlohmann::json meta = {
      {"format", "fresnel-multiview"},
      {"version", 1},
      {"generator", "fresnel cap3d-dataset"},
      {"source", "cap3d"},
      {"image_size", o.image_size},
      {"views_per_object", o.views + 1},
      {"input_view", 0},
      {"objects", s.written + s.existing},
      {"seed", o.seed},
      {"splits", {{"train", s.split_counts[0]}, {"val", s.split_counts[1]}, {"test", s.split_counts[2]}}},
      {"depth", "metric, along the camera z axis, 0 on background (Cap3D depth PNG v/65535*max_depth)"},
      {"camera_convention", "opencv: x right, y down, z forward; world_to_camera row-major; world up = -y"}};
  write_text_file((fs::path(o.out_dir) / "dataset.json").string(), meta.dump(2));
  return s;
}

}  // namespace fresnel::acquire
