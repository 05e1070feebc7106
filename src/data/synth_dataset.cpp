#include "data/synth_dataset.hpp"

#include <torch/torch.h>

#include <ATen/Parallel.h>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "core/progress.hpp"
#include "data/multiview_dataset.hpp"
#include "data/synth_scene.hpp"

namespace fresnel::synth {
namespace fs = std::filesystem;

std::array<double, 3> parse_split(const std::string& text) {
  std::array<double, 3> f{};
  std::stringstream ss(text);
  std::string item;
  int n = 0;
  while (std::getline(ss, item, ',')) {
    if (n >= 3)
      throw UsageError("split: expected three fractions train,val,test (e.g. 0.8,0.1,0.1), got '" + text + "'");
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || !std::isfinite(v) || v < 0)
      throw UsageError("split: '" + item + "' is not a non-negative number (in '" + text + "')");
    f[n++] = v;
  }
  if (n != 3) throw UsageError("split: expected three fractions train,val,test (e.g. 0.8,0.1,0.1), got '" + text + "'");
  const double sum = f[0] + f[1] + f[2];
  if (!(sum > 0)) throw UsageError("split: fractions must not all be zero");
  for (auto& v : f) v /= sum;
  return f;
}

std::array<int64_t, 3> split_counts(int64_t objects, const std::array<double, 3>& fractions) {
  const double sum = fractions[0] + fractions[1] + fractions[2];
  if (!(sum > 0)) throw UsageError("split: fractions must not all be zero");
  const int64_t train = std::llround(objects * fractions[0] / sum);
  const int64_t val = std::min(objects - train, static_cast<int64_t>(std::llround(objects * fractions[1] / sum)));
  return {train, val, objects - train - val};
}

namespace {

const char* split_of(int64_t index, const std::array<int64_t, 3>& counts) {
  if (index < counts[0]) return "train";
  if (index < counts[0] + counts[1]) return "val";
  return "test";
}

void write_object(const SynthOptions& o, int64_t index, const char* split) {
  const ObjectSpec spec = random_object(o.seed, index, o.views, {o.azimuth_range_deg, o.elevation_range_deg});
  const std::string id = object_id_for_index(index);
  const std::string dir = (fs::path(o.out_dir) / split / id).string();
  ensure_directory(dir);
  std::vector<Camera> cams;
  cams.push_back(synth_camera(spec.input_azimuth, spec.input_elevation, o.image_size));
  for (int k = 0; k < o.views; ++k)
    cams.push_back(synth_camera(spec.view_azimuths[k], spec.view_elevations[k], o.image_size));
  for (size_t v = 0; v < cams.size(); ++v) {
    const RenderedView view = raycast(spec.scene, cams[v], o.supersample);
    save_image(dir + "/" + view_rgb_name(int(v)), view.rgb);
    save_depth_npy(dir + "/" + view_depth_name(int(v)), view.depth);
    save_image(dir + "/" + view_mask_name(int(v)), view.mask.unsqueeze(-1));
    if (v == 0) save_image(split_images_dir(o.out_dir, split) + "/" + id + ".png", view.rgb);
  }
  save_cameras_json(dir + "/cameras.json", cams);
  write_text_file(dir + "/object.json", object_to_json(spec, o.seed, index).dump(2));
}

}  // namespace

void generate_dataset(const SynthOptions& o) {
  if (o.out_dir.empty()) throw UsageError("SynthOptions::out_dir is required");
  if (o.objects <= 0) throw UsageError("SynthOptions::objects must be positive");
  if (o.views < 0) throw UsageError("SynthOptions::views must be >= 0");
  if (o.image_size < 8 || o.image_size > 4096) throw UsageError("SynthOptions::image_size must be between 8 and 4096");
  if (o.supersample < 1 || o.supersample > 8) throw UsageError("SynthOptions::supersample must be between 1 and 8");
  if (!(o.azimuth_range_deg >= 10 && o.azimuth_range_deg <= 180))
    throw UsageError("SynthOptions::azimuth_range_deg must be between 10 and 180");
  if (!(o.elevation_range_deg >= 0 && o.elevation_range_deg <= 90))
    throw UsageError("SynthOptions::elevation_range_deg must be between 0 and 90");
  const auto counts = split_counts(o.objects, o.split);
  ensure_directory(o.out_dir);
  for (const char* s : {"train", "val", "test"}) {
    ensure_directory((fs::path(o.out_dir) / s).string());
    ensure_directory(split_images_dir(o.out_dir, s));
  }
  Progress progress("synth", o.objects, "obj");
  at::parallel_for(0, o.objects, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      write_object(o, i, split_of(i, counts));
      progress.advance();
    }
  });
  progress.finish();
  // Written last: a directory with dataset.json is complete.
  nlohmann::json meta = {{"format", "fresnel-multiview"},
                         {"version", 1},
                         {"generator", "fresnel synth"},
                         {"image_size", o.image_size},
                         {"views_per_object", o.views + 1},
                         {"input_view", 0},
                         {"objects", o.objects},
                         {"seed", o.seed},
                         {"supersample", o.supersample},
                         {"azimuth_range_deg", o.azimuth_range_deg},
                         {"elevation_range_deg", o.elevation_range_deg},
                         {"splits", {{"train", counts[0]}, {"val", counts[1]}, {"test", counts[2]}}},
                         {"camera_distance", kSynthCameraDistance},
                         {"fx_over_size", kSynthFocalFactor},
                         {"object_radius", kSynthObjectRadius},
                         {"depth", "metric, along the camera z axis, 0 on background"},
                         {"camera_convention", "opencv: x right, y down, z forward; world_to_camera row-major"}};
  write_text_file((fs::path(o.out_dir) / "dataset.json").string(), meta.dump(2));
}

}  // namespace fresnel::synth
