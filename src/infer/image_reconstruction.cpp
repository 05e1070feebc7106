#include "infer/image_reconstruction.hpp"

#include <torch/torch.h>

#include <filesystem>

#include "core/error.hpp"
#include "core/image_io.hpp"
#include "decode/saag.hpp"
#include "encode/background_removal.hpp"
#include "encode/image_preprocess.hpp"
#include "encode/weights.hpp"
#include "infer/inference_model.hpp"

namespace fresnel::infer {

namespace F = torch::nn::functional;

struct ImageReconstructor::Impl {
  ReconstructionOptions options;
  std::optional<InferenceModel> model;
  std::optional<encode::Dinov2> dinov2;
  std::optional<encode::DepthAnything> depth_model;
  std::unique_ptr<encode::BackgroundRemover> remover;
};

namespace {

void require_file(const std::string& path, const std::string& what) {
  if (!std::filesystem::exists(path)) throw file_error(path, what + " not found");
}

// Depth Anything on the 518² encoder input → min-max normalised depth (H,W) in [0,1], 1 = near.
torch::Tensor depth_anything_depth(encode::DepthAnything& net, const torch::Tensor& rgb_u8,
                                   const torch::Device& device) {
  torch::NoGradGuard ng;
  auto d = net->forward(encode::encoder_input(rgb_u8).to(device))[0].cpu();
  const float lo = d.min().item<float>(), hi = d.max().item<float>();
  return hi - lo > 1e-6f ? (d - lo) / (hi - lo) : torch::zeros_like(d);
}

}  // namespace

ImageReconstructor::ImageReconstructor(const ReconstructionOptions& o) : impl_(std::make_unique<Impl>()) {
  impl_->options = o;
  if (!o.checkpoint.empty()) {
    require_file(o.checkpoint, "checkpoint (ReconstructionOptions::checkpoint)");
    impl_->model.emplace(InferenceModel::load(o.checkpoint, o.device));
  } else if (o.use_learned_decoder) {
    throw UsageError(
        "the learned decoder needs a checkpoint (ReconstructionOptions::checkpoint, a model from "
        "`fresnel train`); without one use SAAG (use_learned_decoder = false)");
  }
  const bool need_features = impl_->model && impl_->model->needs_features() && o.use_learned_decoder;
  if (need_features) {
    if (o.dinov2_weights.empty() || o.depth_weights.empty())
      throw UsageError(o.checkpoint +
                       " was trained on precomputed DINOv2 features: it needs DINOv2 and Depth Anything "
                       "weights (ReconstructionOptions::dinov2_weights and depth_weights; safetensors, see "
                       "`fresnel models`), or a model trained with the built-in encoder");
  }
  if (!o.dinov2_weights.empty() && need_features) {
    require_file(o.dinov2_weights, "DINOv2 weights (ReconstructionOptions::dinov2_weights)");
    impl_->dinov2.emplace(encode::load_dinov2(o.dinov2_weights));
    (*impl_->dinov2)->eval();
    (*impl_->dinov2)->to(o.device);
  }
  if (!o.depth_weights.empty()) {
    require_file(o.depth_weights, "Depth Anything weights (ReconstructionOptions::depth_weights)");
    impl_->depth_model.emplace(encode::load_depth_anything(o.depth_weights));
    (*impl_->depth_model)->eval();
    (*impl_->depth_model)->to(o.device);
  }
  if (!o.use_learned_decoder && !impl_->model && !impl_->depth_model)
    throw UsageError(
        "SAAG needs a depth map: a checkpoint (ReconstructionOptions::checkpoint, its built-in depth "
        "head) or Depth Anything weights (ReconstructionOptions::depth_weights)");
  if (o.remove_background) impl_->remover = std::make_unique<encode::BackgroundRemover>(o.bg_model);
}

ImageReconstructor::~ImageReconstructor() = default;
ImageReconstructor::ImageReconstructor(ImageReconstructor&&) noexcept = default;

Reconstruction ImageReconstructor::run(const std::string& path) {
  const auto image = load_image(path, /*keep_alpha=*/true);
  return run_image(encode::to_u8(image));
}

Reconstruction ImageReconstructor::run_image(const torch::Tensor& image_u8) {
  auto& s = *impl_;
  const auto& o = s.options;
  // The encoders' 518² input: background removed and cropped, or the whole image.
  const encode::PreparedImage prepared =
      s.remover ? s.remover->prepare(image_u8) : encode::prepare_without_removal(image_u8);
  Reconstruction r;
  r.image = prepared.rgb.to(torch::kFloat32) / 255.0;
  const std::string bg = s.remover ? ", background: " + prepared.method : "";

  PredictInputs extra;
  extra.num_gaussians = o.num_gaussians;
  extra.smoothing_variance_px2 = o.smoothing_variance_px2;
  torch::Tensor da_depth;
  if (s.depth_model) da_depth = depth_anything_depth(*s.depth_model, prepared.rgb, o.device);
  if (s.model && s.model->needs_features() && o.use_learned_decoder) {
    torch::NoGradGuard ng;
    extra.features =
        (*s.dinov2)->patch_features(encode::encoder_input(prepared.rgb).to(o.device))[0].permute({2, 0, 1}).cpu();
    extra.depth = da_depth;
  }

  if (o.use_learned_decoder) {
    const auto p = s.model->predict(r.image, extra);
    r.gaussians = p.gaussians;
    r.method = std::string("learned decoder (") + (s.model->needs_features() ? "DINOv2 features" : "built-in encoder") +
               ")" + bg;
    r.input_camera = s.model->input_camera(int(r.image.size(1)), int(r.image.size(0)));
    r.screen_filter = s.model->config().screen_filter();
    return r;
  }

  // SAAG on the best depth available: the checkpoint's (its depth head or the depth it was given), else Depth
  // Anything's normalised depth.
  torch::Tensor depth;
  decode::SaagOptions so;
  std::array<double, 4> k = kDefaultNormalizedIntrinsics;
  if (s.model) {
    const auto p = s.model->predict(r.image, extra);
    if (p.depth.defined()) {
      depth = p.depth.squeeze(0);
      so.depth_mode = s.model->config().mode();
      k = s.model->config().input_intrinsics;
      r.method = "SAAG (checkpoint depth)" + bg;
    }
  }
  if (!depth.defined()) {
    if (!da_depth.defined())
      throw Error(
          "SAAG: this checkpoint provides no depth map; it needs Depth Anything weights "
          "(ReconstructionOptions::depth_weights)");
    depth = da_depth;
    so.depth_mode = decode::DepthMode::Normalized;
    r.method = "SAAG (Depth Anything depth)" + bg;
  }
  const int64_t H = depth.size(0), W = depth.size(1);
  auto img =
      F::interpolate(
          r.image.permute({2, 0, 1}).unsqueeze(0),
          F::InterpolateFuncOptions().size(std::vector<int64_t>{H, W}).mode(torch::kBilinear).align_corners(false))[0]
          .clamp(0, 1);
  r.gaussians = decode::saag_from_depth(img, depth, torch::tensor({k[0], k[1], k[2], k[3]}, torch::kFloat32), so);
  r.input_camera.fx = k[0] * r.image.size(1);
  r.input_camera.fy = k[1] * r.image.size(0);
  r.input_camera.cx = k[2] * r.image.size(1);
  r.input_camera.cy = k[3] * r.image.size(0);
  r.input_camera.width = int(r.image.size(1));
  r.input_camera.height = int(r.image.size(0));
  return r;
}

}  // namespace fresnel::infer
