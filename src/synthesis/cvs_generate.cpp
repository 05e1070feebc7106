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

namespace {

// Everything one image needs, read and checked before anything is written.
struct Job {
  std::string name, out_dir, ply_path;  // ply_path: where optimize_3dgs writes
  torch::Tensor image01;                // (S,S,3)
  torch::Tensor features;               // (1,C,37,37) or undefined
  Camera input_camera;
  std::vector<Camera> cameras;  // target views
  double pivot_depth = 0;       // object centre along the optical axis (unprojected initialisation)
};

torch::Tensor fit_size(torch::Tensor img, int S) {
  if (img.size(0) != S || img.size(1) != S)
    img = resize_image(img, S, S, img.size(0) > S ? ResizeFilter::Area : ResizeFilter::Bilinear);
  return img;
}

void run_job(ConsistencyViewSynthesizer& model, const Job& job, const GenerateOptions& o,
             infer::InferenceModel* decoder, GenerateResult& r) {
  const auto poses = poses_for_cameras(job.input_camera, job.cameras);
  const int64_t n = int64_t(job.cameras.size());
  auto input = (job.image01.permute({2, 0, 1}) * 2 - 1).unsqueeze(0);
  const auto t0 = std::chrono::steady_clock::now();
  auto views = model->generate(
      input.expand({n, -1, -1, -1}).contiguous(),
      job.features.defined() ? job.features.expand({n, -1, -1, -1}).contiguous() : job.features,
      rotations_tensor(poses), translations_tensor(poses), o.num_steps, at::detail::createCPUGenerator(o.seed));
  r.seconds_generation += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto views01 = ((views + 1) * 0.5).clamp(0, 1).permute({0, 2, 3, 1}).contiguous();  // (n,S,S,3)
  ensure_directory(job.out_dir);
  auto out = [&](const std::string& name) {
    r.files.push_back((fs::path(job.out_dir) / name).string());
    return r.files.back();
  };
  save_image(out(view_rgb_name(0)), job.image01);
  for (int64_t i = 0; i < n; ++i) save_image(out(view_rgb_name(int(i + 1))), views01[i]);
  std::vector<Camera> all = {job.input_camera};
  all.insert(all.end(), job.cameras.begin(), job.cameras.end());
  save_cameras_json(out("cameras.json"), all);
  if (!o.optimize_3dgs) return;
  Gaussians init;
  if (decoder) {
    infer::PredictInputs pi;
    const auto& c = job.input_camera;
    pi.intrinsics = torch::tensor({c.fx / c.width, c.fy / c.height, c.cx / c.width, c.cy / c.height}, torch::kFloat);
    if (job.features.defined()) pi.features = job.features[0];
    init = decoder->predict(job.image01, pi).gaussians;
  } else {
    init = unprojected_input(job.image01, job.input_camera, job.pivot_depth);
  }
  if (init.count() == 0) throw Error(job.name + ": no foreground pixels to initialise Gaussians from");
  auto targets = torch::cat({job.image01.unsqueeze(0), views01}, 0);
  auto [fitted, l1] = fit_gaussians(init, targets, all, o.gs_iterations, o.gs_lr, o.progress);
  r.final_fit_l1 = l1;
  save_gaussians(job.ply_path, fitted);
  r.files.push_back(job.ply_path);
}

}  // namespace

GenerateResult generate_views(const GenerateOptions& o) {
  if (o.num_steps < 1) throw UsageError("--num_steps must be >= 1");
  if (o.optimize_3dgs && o.gs_iterations < 0) throw UsageError("--gs_iterations must be >= 0");
  // Read and check every input before writing anything.
  auto model = load_cvs_model(o.checkpoint, CvsWeights::Ema);
  const auto& cfg = model->config();
  const int S = int(cfg.image_size);
  std::shared_ptr<infer::InferenceModel> decoder;
  if (o.optimize_3dgs && !o.decoder_checkpoint.empty())
    decoder = std::make_shared<infer::InferenceModel>(infer::InferenceModel::load(o.decoder_checkpoint));
  auto load_features = [&](const std::string& path) {
    return load_dinov2_features(path, cfg.image_embed_dim).unsqueeze(0);
  };
  GenerateResult r;
  if (o.dataset.empty()) {
    Job job;
    job.name = o.image;
    if (!fs::exists(o.image)) throw file_error(o.image, "input image not found");
    job.image01 = fit_size(load_image(o.image), S);
    if (!cfg.builtin_encoder) {
      if (o.features.empty())
        throw UsageError(o.checkpoint + ": the model was trained on DINOv2 features; give them with --features");
      job.features = load_features(o.features);
    }
    ViewCameraOptions co = o.cameras;
    co.image_size = S;
    job.input_camera = generation_input_camera(co);
    job.cameras = generation_cameras(co);
    job.pivot_depth = co.radius;
    job.out_dir = o.out_dir;
    job.ply_path = (fs::path(o.out_dir) / "gaussians.ply").string();
    run_job(model, job, o, decoder.get(), r);
    return r;
  }
  const MultiViewDataset ds(o.dataset);
  auto ids = ds.object_ids(o.split);
  if (ids.empty()) throw file_error(o.dataset, "split '" + o.split + "' has no objects");
  if (o.max_objects > 0 && int64_t(ids.size()) > o.max_objects) ids.resize(size_t(o.max_objects));
  const auto features_dir = fs::path(split_images_dir(o.dataset, o.split)) / "features";
  std::unique_ptr<Progress> bar;
  if (o.progress) bar = std::make_unique<Progress>("cvs generate", int64_t(ids.size()), "obj");
  for (const auto& id : ids) {
    const auto obj = ds.load_object(o.split, id);
    Job job;
    job.name = obj.dir;
    job.image01 = fit_size(obj.input().rgb, S);
    if (!cfg.builtin_encoder) job.features = load_features((features_dir / dinov2_file_name(id, "small")).string());
    const auto rel = obj.relative_cameras();
    job.input_camera = rel[size_t(obj.input_view)].resized(S, S);
    for (size_t v = 0; v < rel.size(); ++v)
      if (int(v) != obj.input_view) job.cameras.push_back(rel[v].resized(S, S));
    if (job.cameras.empty()) throw file_error(obj.dir, "object has no views besides the input view");
    // The object centre: the mean depth of the input view's object pixels.
    const auto m = obj.input().mask > 0.5;
    job.pivot_depth = m.any().item<bool>() ? obj.input().depth.masked_select(m).mean().item<double>() : 2.6;
    job.out_dir = (fs::path(o.out_dir) / id).string();
    job.ply_path = (fs::path(o.out_dir) / (id + ".ply")).string();
    GenerateOptions quiet = o;
    quiet.progress = false;
    run_job(model, job, quiet, decoder.get(), r);
    if (bar) bar->advance();
  }
  if (bar) bar->finish();
  return r;
}

EvalReport evaluate_view_images(const MultiViewDataset& dataset, const std::string& views_dir,
                                const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  EvalReport report;
  report.dataset = dataset.root();
  report.split = options.split;
  report.method = options.method.empty() || options.method == "model" ? "views: " + views_dir : options.method;
  report.views = options.views;
  report.lpips_available = options.lpips != nullptr;
  report.lpips_net = options.lpips ? lpips_net_name(options.lpips->net()) : "";
  auto ids = dataset.object_ids(options.split);
  if (ids.empty()) throw file_error(dataset.root(), "split '" + options.split + "' has no objects");
  if (options.max_objects > 0 && int64_t(ids.size()) > options.max_objects) ids.resize(size_t(options.max_objects));
  MetricMeans* groups[2] = {&report.novel, &report.input};
  std::unique_ptr<Progress> bar;
  if (options.show_progress) bar = std::make_unique<Progress>("eval views", int64_t(ids.size()), "obj");
  for (const auto& id : ids) {
    const ObjectViews obj = dataset.load_object(options.split, id);
    ObjectViews subset = obj;
    subset.views.clear();
    subset.input_view = -1;
    std::vector<torch::Tensor> renders;
    for (size_t i = 0; i < obj.views.size(); ++i) {
      const bool is_input = int(i) == obj.input_view;
      if (!(options.views == EvalViews::All || (options.views == EvalViews::Input) == is_input)) continue;
      const auto& v = obj.views[i];
      const auto path = (fs::path(views_dir) / id / view_rgb_name(v.index)).string();
      if (!fs::exists(path)) throw file_error(path, "generated view not found");
      auto img = load_image(path);
      if (img.size(0) != v.rgb.size(0) || img.size(1) != v.rgb.size(1))
        img = resize_image(img, int(v.rgb.size(1)), int(v.rgb.size(0)),
                           img.size(0) > v.rgb.size(0) ? ResizeFilter::Area : ResizeFilter::Bilinear);
      renders.push_back(img);
      if (is_input) subset.input_view = int(subset.views.size());
      subset.views.push_back(v);
    }
    ObjectScore score = score_object(subset, torch::stack(renders), options.lpips.get());
    for (const auto& v : score.views) {
      MetricMeans& g = *groups[v.is_input ? 1 : 0];
      g.psnr += v.psnr;
      g.ssim += v.ssim;
      g.lpips += v.lpips;
      ++g.views;
    }
    report.objects.push_back(std::move(score));
    if (bar) bar->advance();
  }
  if (bar) bar->finish();
  for (MetricMeans* g : groups)
    if (g->views > 0) {
      g->psnr /= double(g->views);
      g->ssim /= double(g->views);
      g->lpips /= double(g->views);
    }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace fresnel::synthesis
