// `fresnel cvs generate` (= the original's inference/cvs_multiview.py): novel views of one image from a CVS
// checkpoint's EMA weights, with their cameras, and `--optimize_3dgs` (left unimplemented in the original): 3D Gaussians
// fitted to the input view and the generated views with our differentiable rasterizer.
//
// Cameras live in the INPUT camera's frame (OpenCV, input camera = identity, docs/conventions.md). The object
// centre is at (0,0,radius) on the optical axis; view i of an orbit is at azimuth 2πi/n around it (view 0 at
// elevation 0 is the input camera itself); hemisphere mode spreads the views on a Fibonacci spiral over the
// upper half. The pose fed to the network is relative_pose(input camera, view camera) — the function training
// uses (cvs_data.hpp).
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/camera.hpp"
#include "core/gaussians.hpp"
#include "data/multiview_dataset.hpp"
#include "evaluate/evaluate.hpp"
#include "synthesis/cvs_data.hpp"

namespace fresnel::synthesis {

enum class CameraMode { Orbit, Hemisphere };
CameraMode parse_camera_mode(const std::string& name);  // "orbit" | "hemisphere"; UsageError otherwise

struct ViewCameraOptions {
  int num_views = 8;
  CameraMode mode = CameraMode::Orbit;
  double orbit_elevation = 0.0;  // degrees, positive = above
  double radius = 2.6;           // input camera to object centre (fresnel synth's camera distance)
  double focal = 1.0;            // fx = fy = focal·image size (fresnel synth's and the original bootstrap's)
  int image_size = 256;
};
Camera generation_input_camera(const ViewCameraOptions& o);
std::vector<Camera> generation_cameras(const ViewCameraOptions& o);
// The network's pose for each target camera seen from the input camera.
std::vector<RelativePose> poses_for_cameras(const Camera& input_camera, const std::vector<Camera>& targets);

struct GenerateOptions {
  std::string image, checkpoint, out_dir;
  // Dataset mode (instead of `image`): every object of a split of a multi-view dataset, generated at the
  // dataset's own cameras into out_dir/<object_id>/ (and out_dir/<object_id>.ply with optimize_3dgs), so
  // `fresnel eval --views_dir` / `--gaussians` score them against the real views.
  std::string dataset, split = "test";
  int64_t max_objects = 0;
  std::string features;  // DINOv2 features file ({stem}_dinov2.bin) for models trained on them
  ViewCameraOptions cameras;
  int64_t num_steps = 1;
  uint64_t seed = 0;
  bool optimize_3dgs = false;
  int64_t gs_iterations = 3000;
  double gs_lr = 0.01;
  std::string decoder_checkpoint;  // initial Gaussians from a decoder; else the unprojected input
  bool progress = true;
};

struct GenerateResult {
  std::vector<std::string> files;  // written, in order
  double seconds_generation = 0;   // the network's share (all views)
  double final_fit_l1 = 0;         // --optimize_3dgs: mean L1 of the last iteration
};

// Writes DIR/view_000.png (the input at the model's size), view_001… (generated), cameras.json (all views, input
// first) and, with optimize_3dgs, gaussians.ply. Inputs are read and checked before anything is written; each
// file is written atomically. Throws fresnel::Error naming the file on bad input.
GenerateResult generate_views(const GenerateOptions& options);

// Scores generated view images DIR/<object_id>/view_NNN.png against a split's real views (PSNR, SSIM, LPIPS
// with weights), input and novel views apart, in the report format of `fresnel eval`. Throws fresnel::Error
// naming a missing or mis-sized image.
EvalReport evaluate_view_images(const MultiViewDataset& dataset, const std::string& views_dir,
                                const EvalOptions& options);

// Fits Gaussians to images (C,H,W,3 in [0,1]) seen by `cameras` with Adam on raw parameters (log scales, logit
// opacities and colours) and L1; returns the fitted set and the last iteration's loss.
std::pair<Gaussians, double> fit_gaussians(const Gaussians& init, const torch::Tensor& images,
                                           const std::vector<Camera>& cameras, int64_t iterations, double lr,
                                           bool progress);

// Gaussians of the input image unprojected at a constant depth `z` (the object centre's), one per pixel whose
// colour is not background black.
Gaussians unprojected_input(const torch::Tensor& image_hwc01, const Camera& input_camera, double z);

}  // namespace fresnel::synthesis
