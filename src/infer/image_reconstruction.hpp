// One image → 3D Gaussians, the pipeline behind `fresnel infer` and the viewer's image loading:
//   image → (optional) background removal and square crop → encoders (the checkpoint's built-in encoder, or
//   DINOv2 + Depth Anything weights for models trained on precomputed features) → decoder → Gaussians
// or, with use_learned_decoder = false, the non-learned SAAG generator on the same depth.
// Gaussians are in the input camera's frame (OpenCV axes, camera at the origin; infer/inference_model.hpp).
#pragma once
#include <torch/types.h>

#include <memory>
#include <optional>
#include <string>

#include "core/camera.hpp"
#include "core/gaussians.hpp"
#include "render/screen_filter.hpp"

namespace fresnel::infer {

struct ReconstructionOptions {
  std::string checkpoint;           // decoder checkpoint (`fresnel train`)
  bool use_learned_decoder = true;  // false: SAAG on the depth map
  bool remove_background = false;
  std::string bg_model;                  // U²-Net ONNX for background removal; empty: built-in GrabCut
  std::string dinov2_weights;            // for checkpoints trained on precomputed DINOv2 features
  std::string depth_weights;             // Depth Anything V2 (those checkpoints, or SAAG without a checkpoint)
  std::optional<int64_t> num_gaussians;  // keep the first k Gaussians per patch
  torch::Device device = torch::kCPU;    // where the encoders and the decoder run; results come back on the CPU
  double smoothing_variance_px2 = 0;     // anti-aliasing of the learned decoder's Gaussians (0: off)
};

struct Reconstruction {
  Gaussians gaussians;         // unbatched, input camera frame
  std::string method;          // e.g. "learned decoder (built-in encoder)", "SAAG (Depth Anything depth)"
  torch::Tensor image;         // (H,W,3) float [0,1]: the image the encoders saw (after cropping)
  Camera input_camera;         // renders the Gaussians from the input view at the image's size
  ScreenFilter screen_filter;  // the rasterizer filter they are meant for (the checkpoint's; SAAG: dilation)
};

class ImageReconstructor {
 public:
  // Loads the checkpoint and encoder weights once. Throws fresnel::Error (missing files, a checkpoint that needs
  // encoder weights which were not given, …) or UsageError (no way to get depth for SAAG).
  explicit ImageReconstructor(const ReconstructionOptions& options);
  ~ImageReconstructor();
  ImageReconstructor(ImageReconstructor&&) noexcept;
  Reconstruction run(const std::string& image_path);
  Reconstruction run_image(const torch::Tensor& image_u8);  // (H,W,3|4) uint8

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fresnel::infer
