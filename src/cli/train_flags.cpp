#include "cli/train_flags.hpp"

#include <sstream>

#include "core/error.hpp"
#include "core/log.hpp"

namespace fresnel::cli {

namespace {

std::vector<int64_t> parse_int_list(const std::string& text, const std::string& flag) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      if (used != item.size() || v < 1) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      throw UsageError(flag + ": expected comma-separated positive integers, got '" + text + "'");
    }
  }
  if (out.empty()) throw UsageError(flag + ": empty list");
  return out;
}

// The original's flags for decoders it abandoned or never wired up: each is an error that says why.
void reject_abandoned_flags(const TrainFlags& f) {
  if (f.experiment == 4 || f.experiment == 5)
    throw UsageError("--experiment " + std::to_string(f.experiment) +
                     ": the original's Fibonacci (4) and NCA (5) decoders were abandoned by its own experiments "
                     "(013: blobs, 014: sides collapse) and are not carried over; use --experiment 2");
  if (f.was_given("--n_spiral_points"))
    throw UsageError("--n_spiral_points configures experiment 4 (Fibonacci), which is not carried over");
  if (f.was_given("--nca_steps") || f.was_given("--nca_neighbors") || f.was_given("--nca_step_size"))
    throw UsageError("--nca_* configure experiment 5 (NCA), which is not carried over");
  if (f.use_physics_zones || f.use_diffraction_placement)
    throw UsageError(
        "--use_physics_zones / --use_diffraction_placement selected the original's "
        "PhysicsDirectPatchDecoder, whose training path crashed (unexpected pose arguments) and whose "
        "diffraction module was never used; use --use_qsr for phases with wave rendering");
  if (f.use_multi_wavelength)
    throw UsageError(
        "--use_multi_wavelength was parsed but never used by the original; "
        "use --learnable_wavelengths for per-channel wavelengths");
}

}  // namespace

void add_train_flags(CLI::App& cmd, TrainFlags& f) {
  auto& c = f.cfg;
  // Core (original names and defaults).
  cmd.add_option("--experiment", f.experiment, "Decoder: " + decode::describe_decoder_kinds())->capture_default_str();
  cmd.add_option("--data_dir", c.data_dir,
                 "Training data: a multi-view dataset (fresnel synth) or a folder of images with features/ beside "
                 "them (the original layout)")
      ->capture_default_str();
  cmd.add_option("--output_dir", c.loop.output_dir, "Directory for checkpoints and history")->capture_default_str();
  cmd.add_option("--epochs", c.loop.epochs, "Number of epochs")->capture_default_str();
  cmd.add_option("--batch_size", c.batch_size, "Batch size")->capture_default_str();
  cmd.add_option("--lr", c.loop.lr, "Learning rate (AdamW; cosine schedule, see --lr_schedule)")->capture_default_str();
  cmd.add_option("--weight_decay", c.loop.weight_decay, "AdamW weight decay")->capture_default_str();
  cmd.add_option("--grad_clip", c.loop.grad_clip, "Clip the global gradient norm to this (0 = off)")
      ->capture_default_str();
  cmd.add_option("--lr_schedule", f.lr_schedule, "Cosine learning rate stepped per epoch (the original's) or per step")
      ->check(CLI::IsMember({"epoch", "step"}))
      ->capture_default_str();
  cmd.add_option("--warmup_steps", c.loop.warmup_steps, "Linear learning-rate warm-up over this many steps")
      ->capture_default_str();
  cmd.add_option("--ema_decay", c.loop.ema_decay,
                 "Keep an exponential moving average of the weights with this decay, e.g. 0.999 (0 = off); "
                 "saved in checkpoints")
      ->capture_default_str();
  cmd.add_option("--lpips_weight", c.loss.lpips_weight,
                 "LPIPS loss weight (needs --lpips_weights; without them the term is off)")
      ->capture_default_str();
  cmd.add_option("--lpips_weights", c.lpips_weights,
                 "LPIPS weights (safetensors, AlexNet or VGG16 trunk + lin0..lin4; see docs/metrics.md)");
  cmd.add_option("--image_size", c.image_size, "Image (and full render) size")->capture_default_str();
  cmd.add_option("--feature_dim", f.feature_dim,
                 "Feature width: 384/768/1024 for DINOv2 small/base/large; with --encoder builtin the "
                 "built-in encoder's width (default 64 there)")
      ->capture_default_str();
  cmd.add_flag("--use_depth_fusion", c.model.decoder.use_depth_fusion, "Fuse a depth-map encoding into the features");
  cmd.add_option("--depth_feature_dim", c.model.decoder.depth_feature_dim, "Depth encoder width")
      ->capture_default_str();
  cmd.add_option("--resume", c.loop.resume, "Resume from a checkpoint (model, optimizer, schedule, epoch and RNG)");
  cmd.add_option("--gaussians_per_patch", c.model.decoder.gaussians_per_patch, "Gaussians per patch K (experiment 2)")
      ->capture_default_str();
  cmd.add_option("--n_spiral_points", f.n_spiral_points, "Experiment 4 only (not available)");
  cmd.add_flag("--use_tensegrity_loss", c.loss.tensegrity, "Nearest-neighbour spacing loss on Gaussian positions");
  cmd.add_option("--tensegrity_weight", c.loss.tensegrity_weight, "Tensegrity loss weight")->capture_default_str();
  cmd.add_option("--nca_steps", f.nca_steps, "Experiment 5 only (not available)");
  cmd.add_option("--nca_neighbors", f.nca_neighbors, "Experiment 5 only (not available)");
  cmd.add_option("--nca_step_size", f.nca_step_size, "Experiment 5 only (not available)");
  cmd.add_option("--max_images", f.max_images, "Use at most this many training images/objects (0 = all)");
  cmd.add_flag("--use_vlm_guidance", c.loss.use_vlm, "Weight the L1 loss by {stem}_vlm_density.npy");
  cmd.add_option("--vlm_weight", c.loss.vlm_weight, "VLM weighting strength in [0,1]")->capture_default_str();
  // Fresnel heuristics.
  cmd.add_flag("--use_fresnel_zones", c.model.decoder.use_fresnel_zones,
               "Snap depth to Fresnel zones; adds the boundary loss");
  cmd.add_option("--num_fresnel_zones", c.model.decoder.num_fresnel_zones, "Number of depth zones")
      ->capture_default_str();
  cmd.add_option("--boundary_weight", c.loss.boundary_weight, "Zone-boundary L1 weight")->capture_default_str();
  cmd.add_flag("--use_edge_aware", c.model.decoder.use_edge_aware, "Smaller, more opaque Gaussians at depth edges");
  cmd.add_flag("--use_phase_blending", c.use_phase_blending, "Interference-like alpha compositing with phases");
  cmd.add_flag("--use_phase_output", c.model.decoder.use_phase_output, "Decoder predicts per-channel phases");
  cmd.add_option("--edge_scale_factor", c.model.decoder.edge_scale_factor, "Scale shrink at edges")
      ->capture_default_str();
  cmd.add_option("--edge_opacity_boost", c.model.decoder.edge_opacity_boost, "Opacity boost at edges")
      ->capture_default_str();
  cmd.add_option("--phase_amplitude", c.phase_amplitude, "Phase interference amplitude")->capture_default_str();
  // Physics.
  cmd.add_flag("--use_wave_rendering", c.use_wave_rendering, "Coherent wave-field renderer (needs phase output)");
  cmd.add_option("--wavelength", c.loss.wavelength, "Wavelength for phase retrieval / wave equation")
      ->capture_default_str();
  cmd.add_flag("--learnable_wavelength,--learnable_wavelengths", c.learnable_wavelengths,
               "Learn the RGB wavelengths (saved in checkpoints)");
  cmd.add_flag("--use_physics_zones", f.use_physics_zones, "Not available (see docs/training.md)");
  cmd.add_flag("--use_diffraction_placement", f.use_diffraction_placement, "Not available (see docs/training.md)");
  cmd.add_option("--focal_depth", c.loss.focal_depth, "Focal depth of the phase mapping")->capture_default_str();
  cmd.add_option("--wave_equation_weight", c.loss.wave_equation_weight, "Helmholtz residual weight")
      ->capture_default_str();
  cmd.add_flag("--use_multi_wavelength", f.use_multi_wavelength, "Not available (see docs/training.md)");
  // HFGS.
  cmd.add_flag("--use_fourier_renderer", f.use_fourier,
               "The original's HFGS switch: phase blending with amplitude 0.3");
  cmd.add_flag("--use_phase_retrieval_loss", c.loss.phase_retrieval, "Fourier-magnitude phase-retrieval loss");
  cmd.add_option("--phase_retrieval_weight", c.loss.phase_retrieval_weight, "Phase-retrieval weight")
      ->capture_default_str();
  cmd.add_flag("--use_frequency_loss", c.loss.frequency, "Low/high-frequency Fourier magnitude loss");
  cmd.add_option("--frequency_loss_weight", c.loss.frequency_weight, "Frequency loss weight")->capture_default_str();
  cmd.add_option("--high_freq_weight", c.loss.high_freq_weight, "High-frequency emphasis")->capture_default_str();
  cmd.add_option("--frequency_cutoff", c.loss.frequency_cutoff, "Low/high cutoff (cycles/pixel)")
      ->capture_default_str();
  cmd.add_option("--wavelength_r", c.wavelengths[0], "Initial red wavelength")->capture_default_str();
  cmd.add_option("--wavelength_g", c.wavelengths[1], "Initial green wavelength")->capture_default_str();
  cmd.add_option("--wavelength_b", c.wavelengths[2], "Initial blue wavelength")->capture_default_str();
  // QSR.
  cmd.add_flag("--use_qsr", f.use_qsr, "Per-channel phases + wave-field renderer + phase-retrieval loss");
  // HFTS.
  cmd.add_option("--train_resolution", f.train_resolution, "Render resolution during training (HFTS)");
  cmd.add_flag("--progressive_schedule", c.hfts.progressive, "Grow Gaussians per patch 1 → 2 → 4 (HFTS)");
  cmd.add_option("--stochastic_k", f.stochastic_k, "Render an importance-sampled subset of about K Gaussians (HFTS)");
  cmd.add_flag("--fast_mode", c.hfts.fast_mode, "All HFTS speed-ups: 64², progressive, 256 stochastic");
  // Multi-pose.
  cmd.add_flag("--multi_pose_augmentation", c.multi_pose_augmentation,
               "Supervise a random other view per batch (needs a multi-view dataset and --use_pose_encoding)");
  cmd.add_option("--pose_range_elevation", f.pose_el, "Accepted for compatibility (poses come from the dataset)")
      ->expected(2);
  cmd.add_option("--pose_range_azimuth", f.pose_az, "Accepted for compatibility (poses come from the dataset)")
      ->expected(2);
  cmd.add_option("--frontal_prob", c.frontal_prob, "Probability of the input view in multi-pose mode")
      ->capture_default_str();
  cmd.add_flag("--use_pose_encoding", c.model.decoder.use_pose_encoding, "Pose-conditioned opacity modulation");
  // Ours.
  cmd.add_option("--encoder", f.encoder, "precomputed ({stem}_dinov2.bin) or builtin (CNN trained end to end)")
      ->check(CLI::IsMember({"precomputed", "builtin"}))
      ->capture_default_str();
  cmd.add_option("--dinov2_size", c.feature_file, "Which feature files: small, base or large")->capture_default_str();
  cmd.add_option("--decoder_hidden", f.hidden, "Decoder MLP widths (the original's: 512,512,256,128)")
      ->capture_default_str();
  cmd.add_option("--novel_view_weight", c.loss.novel_view_weight,
                 "Weight of the losses on other views of multi-view datasets (0 = input view only)")
      ->capture_default_str();
  cmd.add_flag("--pixel_aligned", c.model.decoder.pixel_aligned,
               "Ours: experiment 2 on a feature grid at image resolution, colours as residuals on the image, "
               "scales relative to the pixel footprint; an untrained model equals the unprojected-pixels baseline");
  cmd.add_option("--pixel_scale_floor", c.model.decoder.pixel_scale_floor,
                 "With --pixel_aligned: smallest Gaussian scale as a fraction of the pixel footprint, in [0, 0.3) "
                 "(keeps splats from shrinking to dots that show when rendered larger than trained)")
      ->capture_default_str();
  cmd.add_option("--feature_grid", c.model.feature_grid,
                 "Built-in encoder output grid (default 37, DINOv2's; with --pixel_aligned: --image_size)");
  cmd.add_option("--decoder_depth", c.model.decoder_depth,
                 "Built-in encoder: depth the decoder places Gaussians with: predicted (depth head) or data "
                 "(the dataset's depth, also used at evaluation; inference falls back to predicted)")
      ->check(CLI::IsMember({"predicted", "data"}))
      ->capture_default_str();
  cmd.add_option("--depth_head", c.model.depth_head,
                 "Built-in encoder with --pixel_aligned: coarse (depth on a quarter-resolution grid, upsampled) or "
                 "fine (refined at full resolution from the fused features: sharp object edges)")
      ->check(CLI::IsMember({"coarse", "fine"}))
      ->capture_default_str();
  cmd.add_option("--antialias", c.model.smoothing_variance_px2,
                 "Train with Mip-Splatting's 3D smoothing filter in the model: every Gaussian gets this variance in "
                 "pixels² of --image_size at its depth, in training and at inference (no dots when shown larger), "
                 "with Mip-Splatting's opacity compensation; renders use the 2D Mip filter (--screen_filter auto). "
                 "0: off")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  cmd.add_option("--screen_filter", f.screen_filter,
                 "Rasterizer screen filter in training, saved in the checkpoint for eval/infer/render: auto (mip with "
                 "--antialias, else dilation), dilation (3DGS's 0.3 px²), mip (Mip-Splatting's 2D filter, 0.1 px²) "
                 "or mip:V / dilation:V (V in pixels²)")
      ->capture_default_str();
  cmd.add_option("--dropout", c.model.decoder.dropout,
                 "Decoder MLP dropout (the original's 0.1; 0 with --pixel_aligned)");
  cmd.add_option("--novel_views", c.novel_views, "Other views rendered per sample")->capture_default_str();
  cmd.add_option("--mask_weight", c.loss.mask_weight,
                 "Rendered alpha vs object mask loss (datasets with masks; 0 = off)")
      ->capture_default_str();
  cmd.add_option("--ssim_weight", c.loss.ssim_weight, "SSIM loss weight")->capture_default_str();
  cmd.add_option("--depth_weight", c.loss.depth_weight, "Rendered-depth loss weight")->capture_default_str();
  cmd.add_option("--depth_head_weight", c.loss.depth_head_weight, "Built-in depth head loss weight")
      ->capture_default_str();
  cmd.add_option("--depth_grad_weight", c.loss.depth_grad_weight,
                 "Built-in depth head: multi-scale gradient-matching loss weight (MiDaS's; sharp depth edges)")
      ->capture_default_str();
  cmd.add_flag("--depth_all_views", c.loss.depth_all_views,
               "Built-in depth head: supervise it on every loaded view of a multi-view dataset (their images and depth "
               "maps), not only the input view");
  cmd.add_option("--seed", c.loop.seed, "Random seed (same seed, same run)")->capture_default_str();
  cmd.add_option("--num_workers", c.num_workers, "Background data-loading threads")->capture_default_str();
  cmd.add_option("--device", c.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  cmd.add_option("--save_interval", c.loop.save_interval, "Save a checkpoint every N epochs (plus best and last)")
      ->capture_default_str();
  cmd.add_option("--stop_after_epoch", c.loop.stop_after_epoch,
                 "Stop after this many epochs while keeping the --epochs schedule (continue with --resume)");
  cmd.add_flag("--no_augmentation", f.no_aug, "Disable colour jitter");
  cmd.add_option("--saag_subsample", c.model.saag_subsample, "Experiments 1/3: SAAG pixel stride")
      ->capture_default_str();
}

void record_given_flags(const CLI::App& cmd, TrainFlags& flags) {
  for (const CLI::Option* o : cmd.get_options())
    if (o->count() > 0) flags.given.insert(o->get_name());
}

train::TrainConfig resolve_train_flags(const TrainFlags& f) {
  reject_abandoned_flags(f);
  train::TrainConfig c = f.cfg;
  try {
    c.model.kind = decode::decoder_kind_from_experiment(f.experiment, "--experiment");
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  c.model.encoder = f.encoder;
  c.model.decoder.feature_dim = (f.encoder == "builtin" && !f.was_given("--feature_dim")) ? 64 : f.feature_dim;
  c.model.decoder.hidden = parse_int_list(f.hidden, "--decoder_hidden");
  c.model.image_size = c.image_size;
  if (c.model.decoder.pixel_aligned) {
    if (c.model.kind != decode::DecoderKind::DirectPatch) throw UsageError("--pixel_aligned applies to --experiment 2");
    if (!f.was_given("--feature_grid")) c.model.feature_grid = c.image_size;
    if (!f.was_given("--dropout")) c.model.decoder.dropout = 0.0;  // a per-pixel head needs every pixel's output
  }
  // Anti-aliasing: the 3D filter with Mip-Splatting's opacity compensation, rendered with its 2D Mip filter.
  c.model.smoothing_compensates_opacity = c.model.smoothing_variance_px2 > 0;
  const ScreenFilter screen =
      f.screen_filter == "auto" ? (c.model.smoothing_variance_px2 > 0 ? ScreenFilter::mip() : ScreenFilter::dilation())
                                : parse_screen_filter(f.screen_filter);
  if (!screen.is_mip() && screen.variance_px2 != ScreenFilter::dilation().variance_px2)
    throw UsageError("--screen_filter: the dilation is fixed at 0.3 px² in training (use mip:V to choose a variance)");
  c.model.mip_filter_px2 = screen.is_mip() ? screen.variance_px2 : 0.0;
  c.max_images = f.max_images;
  c.augment = !f.no_aug;
  c.loop.schedule = f.lr_schedule == "step" ? train::LrSchedule::CosinePerStep : train::LrSchedule::CosinePerEpoch;
  if (f.use_qsr) {
    c.model.decoder.use_phase_output = true;
    c.use_wave_rendering = true;
    c.loss.phase_retrieval = true;
  }
  if (f.use_fourier) {
    c.use_phase_blending = true;
    c.phase_amplitude = 0.3;
  }
  if (c.use_phase_blending || c.use_wave_rendering) c.model.decoder.use_phase_output = true;
  if (c.model.kind != decode::DecoderKind::DirectPatch &&
      (c.use_phase_blending || c.use_wave_rendering || c.model.decoder.use_pose_encoding))
    throw UsageError("phases and pose encoding belong to experiment 2's decoder; add --experiment 2");
  c.loss.boundary = c.model.decoder.use_fresnel_zones;
  if (c.loss.lpips_weight > 0 && c.lpips_weights.empty()) {
    log_info("LPIPS term off: --lpips_weight needs --lpips_weights FILE (no LPIPS weights ship with Fresnel)");
    c.loss.lpips_weight = 0;
  } else if (c.loss.lpips_weight > 0) {
    log_info("LPIPS term on: weight " + std::to_string(c.loss.lpips_weight) + ", weights " + c.lpips_weights);
  }
  c.hfts.image_size = c.image_size;
  if (f.train_resolution > 0) c.hfts.train_resolution = f.train_resolution;
  if (f.stochastic_k > 0) c.hfts.stochastic_k = f.stochastic_k;
  c.hfts.base_k = c.model.decoder.gaussians_per_patch;
  c.hfts.epochs = c.loop.epochs;
  if (c.loop.epochs < 1) throw UsageError("--epochs must be >= 1");
  if (c.batch_size < 1) throw UsageError("--batch_size must be >= 1");
  if (c.image_size < 8) throw UsageError("--image_size must be >= 8");
  if (c.loop.ema_decay < 0 || c.loop.ema_decay >= 1) throw UsageError("--ema_decay must be in [0, 1)");
  if (c.loop.warmup_steps < 0) throw UsageError("--warmup_steps must be >= 0");
  return c;
}

std::unique_ptr<train::SampleSource> open_training_source(train::TrainConfig& c, const TrainFlags& f) {
  train::SourceOptions so;
  so.data_dir = c.data_dir;
  so.image_size = c.image_size;
  so.max_images = c.max_images;
  so.feature_file = c.feature_file;
  so.feature_dim = c.model.decoder.feature_dim;
  so.load_features = !c.model.builtin();
  so.augment = c.augment;
  so.novel_views = 0;
  auto probe = train::open_source(so);
  so.novel_views = c.loss.novel_view_weight > 0 || c.multi_pose_augmentation ? c.novel_views : 0;
  // The default view count adapts to the dataset; an explicit --novel_views above it is an error (open_source).
  if (!f.was_given("--novel_views")) so.novel_views = std::min(so.novel_views, probe->extra_views_per_sample());
  if (!probe->has_extra_views()) so.novel_views = 0;
  c.novel_views = so.novel_views;
  if (c.multi_pose_augmentation) {
    if (!probe->has_extra_views())
      throw UsageError(
          "--multi_pose_augmentation needs a multi-view dataset: the original supervised every pose "
          "with the input image, which teaches nothing about other views");
    if (!c.model.decoder.use_pose_encoding)
      throw UsageError("--multi_pose_augmentation takes effect with --use_pose_encoding (as in the original)");
  }
  auto source = train::open_source(so);
  c.model.depth_mode = source->depth_mode() == decode::DepthMode::Metric ? "metric" : "normalized";
  // The model's input camera: the dataset's input intrinsics (single-view layout: the original's camera).
  auto k = source->load(0, 0).intrinsics.to(torch::kDouble);
  for (int i = 0; i < 4; ++i) c.model.input_intrinsics[i] = k[i].item<double>();
  return source;
}

train::TrainConfig train_config_from_args(const std::vector<std::string>& args) {
  CLI::App app;
  TrainFlags flags;
  add_train_flags(app, flags);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes arguments in reverse order
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    throw UsageError(std::string(e.get_name()) + ": " + e.what());
  }
  record_given_flags(app, flags);
  return resolve_train_flags(flags);
}

}  // namespace fresnel::cli
