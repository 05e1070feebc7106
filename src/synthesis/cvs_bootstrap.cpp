#include "synthesis/cvs_bootstrap.hpp"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/feature_files.hpp"
#include "core/image_io.hpp"
#include "core/npy.hpp"
#include "core/progress.hpp"
#include "infer/inference_model.hpp"
#include "render/render.hpp"
#include "synthesis/cvs_data.hpp"

namespace fresnel::synthesis {

namespace fs = std::filesystem;

namespace {
std::string numbered(const char* prefix, int64_t i, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%0*lld", prefix, digits, static_cast<long long>(i));
  return buf;
}
}  // namespace

int64_t generate_bootstrap_data(const BootstrapOptions& o) {
  if (o.num_poses < 1) throw UsageError("--num_poses_per_image must be >= 1");
  if (o.image_size < 8) throw UsageError("--image_size must be >= 8");
  if (!fs::is_directory(o.input_dir)) throw file_error(o.input_dir, "input directory not found");
  std::vector<fs::path> images;
  for (const auto& e : fs::directory_iterator(o.input_dir))
    if (e.is_regular_file() && is_image_file(e.path().string())) images.push_back(e.path());
  std::sort(images.begin(), images.end());
  if (o.max_images > 0 && int64_t(images.size()) > o.max_images) images.resize(size_t(o.max_images));
  if (images.empty()) throw file_error(o.input_dir, "no images (" + supported_image_extensions() + ")");
  const auto decoder = infer::InferenceModel::load(o.decoder_checkpoint);
  const fs::path features_dir = fs::path(o.input_dir) / "features";
  auto feature_path = [&](const fs::path& img) {
    const int64_t c = decoder.config().decoder.feature_dim;  // DINOv2 size from the decoder's feature width
    const std::string size = c == 1024 ? "large" : (c == 768 ? "base" : "small");
    return (features_dir / dinov2_file_name(img.stem().string(), size)).string();
  };
  if (decoder.needs_features())  // every input present before anything is written
    for (const auto& img : images)
      if (!fs::exists(feature_path(img)))
        throw file_error(feature_path(img),
                         "DINOv2 features not found (the decoder was trained on them; "
                         "fresnel preprocess writes them)");
  const int S = o.image_size;
  const double f = S;  // the original's bootstrap camera: fx = image size
  const Camera input_cam = Camera::look_at({0, 0, 0}, {0, 0, 1}, {0, -1, 0}, f, f, S, S);
  ensure_directory(o.output_dir);
  std::unique_ptr<Progress> bar;
  if (o.progress) bar = std::make_unique<Progress>("cvs bootstrap", int64_t(images.size()), "img");
  for (size_t i = 0; i < images.size(); ++i) {
    const fs::path dir = fs::path(o.output_dir) / numbered("image_", int64_t(i), 4);
    const fs::path last = dir / numbered("view_", o.num_poses - 1, 3) / "pose.json";
    if (fs::exists(last)) {  // finished by an earlier run
      if (bar) bar->advance();
      continue;
    }
    auto image01 = load_image(images[i].string());
    infer::PredictInputs pi;
    if (decoder.needs_features()) {
      pi.features = load_dinov2_features(feature_path(images[i]));
      const auto depth_path = features_dir / depth_file_name(images[i].stem().string());
      if (fs::exists(depth_path)) pi.depth = load_depth_bin(depth_path.string());
    }
    pi.intrinsics = torch::tensor({1.0, 1.0, 0.5, 0.5}, torch::kFloat);
    const auto pred = decoder.predict(image01, pi);
    const auto& g = pred.gaussians;
    // Orbit around the object: the median depth of the Gaussians on the optical axis.
    const double pivot = g.count() > 0 ? g.means.select(-1, 2).median().item<double>() : 2.0;
    const double radius = std::max(pivot, 0.1);
    std::mt19937_64 rng(uint64_t(o.seed) * 0x9e3779b97f4a7c15ull + i);
    std::uniform_real_distribution<double> elevation(-M_PI / 6, M_PI / 4);
    std::vector<Camera> cams;
    for (int v = 0; v < o.num_poses; ++v)
      cams.push_back(spherical_camera(2 * M_PI * v / o.num_poses, elevation(rng), radius, {0, 0, radius}, f, f, S, S));
    RenderOutput r;
    {
      torch::NoGradGuard ng;
      r = render(g.detach(), cams);
    }
    fs::create_directories(dir);
    auto input_img = resize_image(image01, S, S, image01.size(0) > S ? ResizeFilter::Area : ResizeFilter::Bilinear);
    save_image((dir / "input.png").string(), input_img);
    if (pi.features.defined())
      save_npy((dir / "input_features.npy").string(), pi.features.permute({1, 2, 0}).contiguous());
    save_npy((dir / "input_depth.npy").string(), resize_depth(pred.depth.squeeze(), S).contiguous());
    std::vector<torch::Tensor> tiles = {input_img};
    for (int v = 0; v < o.num_poses; ++v) {
      const fs::path vd = dir / numbered("view_", v, 3);
      fs::create_directories(vd);
      auto rgb = r.rgb[v].clamp(0, 1);
      save_image((vd / "rgb.png").string(), rgb);
      save_npy((vd / "depth.npy").string(), r.depth[v].unsqueeze(0).contiguous());
      save_pose_json((vd / "pose.json").string(), relative_pose(input_cam, cams[size_t(v)]));  // last: done marker
      tiles.push_back(rgb);
    }
    if (o.visualize) {
      const int grid = int(std::ceil(std::sqrt(double(o.num_poses + 1))));
      auto sheet = torch::zeros({grid * S, grid * S, 3});
      for (size_t k = 0; k < tiles.size(); ++k)
        sheet.narrow(0, int64_t(k / grid) * S, S).narrow(1, int64_t(k % grid) * S, S).copy_(tiles[k]);
      save_image((dir / "grid_visualization.png").string(), sheet);
    }
    if (bar) bar->advance();
  }
  if (bar) bar->finish();
  return int64_t(images.size());
}

}  // namespace fresnel::synthesis
