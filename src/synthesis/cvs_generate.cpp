#include "synthesis/cvs_generate.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/feature_files.hpp"
#include "core/gaussian_io.hpp"
#include "core/image_io.hpp"
#include "core/progress.hpp"
#include "data/multiview_dataset.hpp"
#include "evaluate/baselines.hpp"
#include "infer/inference_model.hpp"
#include "render/render.hpp"
#include "synthesis/cvs_trainer.hpp"

namespace fresnel::synthesis {

namespace fs = std::filesystem;

CameraMode parse_camera_mode(const std::string& name) {
  if (name == "orbit") return CameraMode::Orbit;
  if (name == "hemisphere") return CameraMode::Hemisphere;
  throw UsageError("--camera_mode must be orbit or hemisphere (got '" + name + "')");
}

namespace {
Camera view_camera(const ViewCameraOptions& o, double azimuth, double elevation) {
  const double f = o.focal * o.image_size;
  return spherical_camera(azimuth, elevation, o.radius, Vec3{0, 0, o.radius}, f, f, o.image_size, o.image_size);
}
}  // namespace

Camera generation_input_camera(const ViewCameraOptions& o) { return view_camera(o, 0, 0); }

std::vector<Camera> generation_cameras(const ViewCameraOptions& o) {
  if (o.num_views < 1) throw UsageError("--num_views must be >= 1");
  if (!(o.radius > 0)) throw UsageError("--orbit_radius must be positive");
  std::vector<Camera> cams;
  const double golden = M_PI * (3.0 - std::sqrt(5.0));
  for (int i = 0; i < o.num_views; ++i) {
    if (o.mode == CameraMode::Orbit) {
      cams.push_back(view_camera(o, 2 * M_PI * i / o.num_views, o.orbit_elevation * M_PI / 180.0));
    } else {
      // Fibonacci spiral over the upper hemisphere: equal-area heights sin(el) ∈ (0, 1), golden-angle azimuths.
      const double el = std::asin((i + 0.5) / o.num_views);
      cams.push_back(view_camera(o, std::fmod(i * golden, 2 * M_PI), std::min(el, 85.0 * M_PI / 180.0)));
    }
  }
  return cams;
}

std::vector<RelativePose> poses_for_cameras(const Camera& input_camera, const std::vector<Camera>& targets) {
  std::vector<RelativePose> poses;
  for (const auto& c : targets) poses.push_back(relative_pose(input_camera, c));
  return poses;
}

Gaussians unprojected_input(const torch::Tensor& image, const Camera& cam, double z) {
  ViewData v;
  v.rgb = image;
  v.mask = (std::get<0>(image.max(-1)) > 1.0 / 255.0).to(torch::kFloat);
  v.depth = v.mask * z;
  v.camera = cam;
  return unprojected_gaussians(v);
}

std::pair<Gaussians, double> fit_gaussians(const Gaussians& init, const torch::Tensor& images,
                                           const std::vector<Camera>& cameras, int64_t iterations, double lr,
                                           bool progress) {
  auto logit = [](const torch::Tensor& x) { return torch::logit(x.clamp(1e-4, 1 - 1e-4)); };
  auto means = init.means.detach().clone().requires_grad_(true);
  auto quats = init.quats.detach().clone().requires_grad_(true);
  auto log_scales = init.scales.detach().clamp_min(1e-6).log().requires_grad_(true);
  auto opac = logit(init.opacities.detach()).requires_grad_(true);
  auto cols = logit(init.base_rgb().detach()).requires_grad_(true);
  torch::optim::Adam opt({means, quats, log_scales, opac, cols}, torch::optim::AdamOptions(lr));
  auto activated = [&] {
    Gaussians g;
    g.means = means;
    g.quats = quats / quats.norm(2, -1, true).clamp_min(1e-8);
    g.scales = log_scales.exp();
    g.opacities = torch::sigmoid(opac);
    g.colors = torch::sigmoid(cols);
    return g;
  };
  std::unique_ptr<Progress> bar;
  if (progress) bar = std::make_unique<Progress>("fit 3DGS", iterations, "it");
  double last = 0;
  for (int64_t it = 0; it < iterations; ++it) {
    auto out = render(activated(), cameras);
    auto loss = (out.rgb - images).abs().mean();
    opt.zero_grad();
    loss.backward();
    opt.step();
    last = loss.item<double>();
    if (bar) bar->advance();
  }
  if (bar) bar->finish();
  torch::NoGradGuard ng;
  return {activated().detach(), last};
}

GenerateResult generate_views(const GenerateOptions& o) {
  if (o.num_steps < 1) throw UsageError("--num_steps must be >= 1");
  if (o.optimize_3dgs && o.gs_iterations < 0) throw UsageError("--gs_iterations must be >= 0");
  // Read and check every input before writing anything.
  auto model = load_cvs_model(o.checkpoint, CvsWeights::Ema);
  const auto& cfg = model->config();
  const int S = int(cfg.image_size);
  if (!fs::exists(o.image)) throw file_error(o.image, "input image not found");
  auto image01 = load_image(o.image);
  if (image01.size(0) != S || image01.size(1) != S)
    image01 = resize_image(image01, S, S, image01.size(0) > S ? ResizeFilter::Area : ResizeFilter::Bilinear);
  torch::Tensor features;
  if (!cfg.builtin_encoder) {
    if (o.features.empty())
      throw UsageError(o.checkpoint + ": the model was trained on DINOv2 features; give them with --features");
    features = load_dinov2_features(o.features, cfg.image_embed_dim).unsqueeze(0);
  }
  ViewCameraOptions co = o.cameras;
  co.image_size = S;
  const Camera input_cam = generation_input_camera(co);
  const auto cams = generation_cameras(co);
  std::shared_ptr<infer::InferenceModel> decoder;
  if (o.optimize_3dgs && !o.decoder_checkpoint.empty())
    decoder = std::make_shared<infer::InferenceModel>(infer::InferenceModel::load(o.decoder_checkpoint));

  const auto poses = poses_for_cameras(input_cam, cams);
  const int64_t n = int64_t(cams.size());
  auto input = (image01.permute({2, 0, 1}) * 2 - 1).unsqueeze(0);
  const auto t0 = std::chrono::steady_clock::now();
  auto views = model->generate(input.expand({n, -1, -1, -1}).contiguous(),
                               features.defined() ? features.expand({n, -1, -1, -1}).contiguous() : features,
                               rotations_tensor(poses), translations_tensor(poses), o.num_steps,
                               at::detail::createCPUGenerator(o.seed));
  GenerateResult r;
  r.seconds_generation = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto views01 = ((views + 1) * 0.5).clamp(0, 1).permute({0, 2, 3, 1}).contiguous();  // (n,S,S,3)

  ensure_directory(o.out_dir);
  auto out = [&](const std::string& name) {
    r.files.push_back((fs::path(o.out_dir) / name).string());
    return r.files.back();
  };
  save_image(out(view_rgb_name(0)), image01);
  for (int64_t i = 0; i < n; ++i) save_image(out(view_rgb_name(int(i + 1))), views01[i]);
  std::vector<Camera> all = {input_cam};
  all.insert(all.end(), cams.begin(), cams.end());
  save_cameras_json(out("cameras.json"), all);
  if (o.optimize_3dgs) {
    Gaussians init;
    if (decoder) {
      infer::PredictInputs pi;
      pi.intrinsics = torch::tensor({co.focal, co.focal, 0.5, 0.5}, torch::kFloat);
      if (features.defined()) pi.features = features[0];
      init = decoder->predict(image01, pi).gaussians;
    } else {
      init = unprojected_input(image01, input_cam, co.radius);
    }
    if (init.count() == 0) throw file_error(o.image, "no foreground pixels to initialise Gaussians from");
    auto targets = torch::cat({image01.unsqueeze(0), views01}, 0);
    auto [fitted, l1] = fit_gaussians(init, targets, all, o.gs_iterations, o.gs_lr, o.progress);
    r.final_fit_l1 = l1;
    save_gaussians(out("gaussians.ply"), fitted);
  }
  return r;
}

}  // namespace fresnel::synthesis
