// `fresnel cvs`: Consistency View Synthesis (docs/cvs.md; spec §9) — `info`, `train` (= train_cvs.py, its flag
// names kept), `generate` (= cvs_multiview.py) and `bootstrap` (= generate_cvs_bootstrap_data.py).
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/memory.hpp"
#include "synthesis/cvs_bootstrap.hpp"
#include "synthesis/cvs_generate.hpp"
#include "synthesis/cvs_trainer.hpp"

namespace fresnel::cli {
namespace {

using synthesis::CVSConfig;

// The architecture flags every subcommand that builds a model shares. The original exposes image_size and
// base_channels; the others (defaults = the original's) make small configurations possible.
void add_model_flags(CLI::App* cmd, CVSConfig& c) {
  cmd->add_option("--image_size", c.image_size, "Image size (square)")->capture_default_str();
  cmd->add_option("--base_channels", c.base_channels, "Base channel count of the U-Net (multiple of 32)")
      ->capture_default_str();
  cmd->add_option("--channel_mult", c.channel_mult, "Channel multipliers per stage")->capture_default_str();
  cmd->add_option("--num_res_blocks", c.num_res_blocks, "ResBlocks per encoder stage (decoder: one more)")
      ->capture_default_str();
  cmd->add_option("--attention_resolutions", c.attention_resolutions, "Resolutions with attention blocks")
      ->capture_default_str();
  cmd->add_option("--pose_embed_dim", c.pose_embed_dim, "Pose embedding width")->capture_default_str();
  cmd->add_option("--cross_attention_dim", c.cross_attention_dim, "Conditioning token width")->capture_default_str();
  cmd->add_option("--time_embed_dim", c.time_embed_dim, "Timestep embedding width")->capture_default_str();
  cmd->add_option("--num_timesteps", c.num_timesteps, "Diffusion timesteps")->capture_default_str();
}

// --fast_mode sets 128², base 64, batch 8 (the original's __post_init__); flags given explicitly win.
void apply_fast_mode(CLI::App* cmd, bool fast, CVSConfig& c, int64_t* batch_size) {
  if (!fast) return;
  if (cmd->count("--image_size") == 0) c.image_size = 128;
  if (cmd->count("--base_channels") == 0) c.base_channels = 64;
  if (batch_size && cmd->count("--batch_size") == 0) *batch_size = 8;
}

void register_info(CLI::App* parent) {
  auto* cmd = parent->add_subcommand("info", "Print a CVS configuration and its parameter count per part.");
  auto c = std::make_shared<CVSConfig>();
  auto fast = std::make_shared<bool>(false);
  auto builtin = std::make_shared<int64_t>(0);
  add_model_flags(cmd, *c);
  cmd->add_flag("--fast_mode", *fast, "128x128, base 64 (the original's fast mode)");
  cmd->add_option("--builtin_channels", *builtin, "Count the built-in encoder of this width too (0: DINOv2 input)")
      ->capture_default_str();
  set_guarded_callback(cmd, [cmd, c, fast, builtin] {
    apply_fast_mode(cmd, *fast, *c, nullptr);
    if (*builtin > 0) {
      c->builtin_encoder = true;
      c->image_embed_dim = *builtin;
    }
    synthesis::ConsistencyViewSynthesizer m(*c);
    std::cout << "CVS configuration: " << c->to_json().dump() << "\n";
    std::cout << "U-Net channels:";
    for (auto ch : c->channels()) std::cout << " " << ch;
    std::cout << "\nparameters:\n";
    for (const auto& [k, v] : synthesis::parameter_breakdown(*m)) std::cout << "  " << k << ": " << v << "\n";
  });
}

void register_cvs_train(CLI::App* parent) {
  auto* cmd = parent->add_subcommand(
      "train",
      "Train CVS (train_cvs.py) on a multi-view dataset from `fresnel synth` (default), the bootstrap layout, or "
      "--self_target_dataset; checkpoints cvs_epoch{N}.pt / cvs_best.pt, history and loss curve in "
      "--checkpoint_dir.");
  auto c = std::make_shared<synthesis::CvsTrainConfig>();
  auto fast = std::make_shared<bool>(false);
  auto no_quality = std::make_shared<bool>(false), no_progressive = std::make_shared<bool>(false);
  auto quality = std::make_shared<bool>(true), progressive = std::make_shared<bool>(true);
  c->loop.lr = 1e-4;
  c->loop.weight_decay = 0.01;
  c->loop.output_dir = "checkpoints/cvs";
  c->loop.save_interval = 20;  // the original's save_every
  add_model_flags(cmd, c->model);
  cmd->add_option("--data_dir", c->data_dir, "Training data (multi-view dataset, bootstrap layout or images)")
      ->capture_default_str();
  cmd->add_option("--batch_size", c->batch_size, "Batch size")->capture_default_str();
  cmd->add_option("--num_workers", c->num_workers, "Threads loading a batch")->capture_default_str();
  cmd->add_option("--epochs", c->loop.epochs, "Epochs")->capture_default_str();
  cmd->add_option("--lr", c->loop.lr, "Peak learning rate (AdamW)")->capture_default_str();
  cmd->add_option("--weight_decay", c->loop.weight_decay, "AdamW weight decay")->capture_default_str();
  cmd->add_option("--warmup_epochs", c->warmup_epochs, "Linear warm-up epochs (per step)")->capture_default_str();
  cmd->add_option("--ema_decay", c->model.ema_decay, "EMA decay (updated every step)")->capture_default_str();
  cmd->add_option("--lambda_consistency", c->loss.lambda_consistency, "Consistency loss weight")->capture_default_str();
  cmd->add_option("--lambda_reconstruction", c->loss.lambda_reconstruction, "Reconstruction (L1) weight")
      ->capture_default_str();
  cmd->add_option("--lambda_perceptual", c->loss.lambda_perceptual, "Perceptual loss weight")->capture_default_str();
  cmd->add_flag("--use_gaussian_targets", c->loss.use_gaussian_targets,
                "Quality-aware loss for rendered targets (depth-Laplacian mask, LPIPS with --lpips_weights, "
                "progressive consistency, boundary and gradient terms)");
  cmd->add_flag("--quality_weighting", *quality, "Quality-aware masking (default on)");
  cmd->add_flag("--no_quality_weighting", *no_quality, "Disable quality-aware masking");
  cmd->add_flag("--progressive_consistency", *progressive, "Consistency weight 0.1/0.3/1.0 (default on)");
  cmd->add_flag("--no_progressive_consistency", *no_progressive, "Constant consistency weight");
  cmd->add_option("--lambda_boundary", c->loss.lambda_boundary, "Boundary emphasis weight")->capture_default_str();
  cmd->add_option("--lambda_gradient", c->loss.lambda_gradient, "Gradient (TV) penalty weight")->capture_default_str();
  cmd->add_option("--quality_threshold", c->loss.quality_threshold, "Depth-Laplacian threshold")->capture_default_str();
  cmd->add_option("--quality_sharpness", c->loss.quality_sharpness, "Quality mask sigmoid sharpness")
      ->capture_default_str();
  cmd->add_option("--validate_every", c->validate_every, "Validate every N epochs (0: never)")->capture_default_str();
  cmd->add_option("--validate_steps", c->validate_steps, "Step counts for validation PSNR")->capture_default_str();
  cmd->add_option("--validate_samples", c->validate_samples, "Validation samples (val split when present)")
      ->capture_default_str();
  cmd->add_option("--checkpoint_dir", c->loop.output_dir, "Checkpoint directory")->capture_default_str();
  cmd->add_option("--save_every", c->loop.save_interval, "Save cvs_epoch{N}.pt every N epochs (and the last)")
      ->capture_default_str();
  cmd->add_option("--resume", c->loop.resume, "Resume from a CVS checkpoint");
  cmd->add_flag("--fast_mode", *fast, "128x128, base 64, batch 8 (explicit flags win)");
  cmd->add_option("--features", c->features,
                  "Conditioning features: auto (DINOv2 files when present, else the built-in encoder), dinov2, "
                  "builtin")
      ->capture_default_str();
  cmd->add_option("--builtin_channels", c->builtin_channels, "Built-in encoder feature width")->capture_default_str();
  cmd->add_option("--lpips_weights", c->lpips_weights, "LPIPS safetensors for the quality-aware perceptual term");
  cmd->add_flag("--self_target_dataset", c->self_target_dataset,
                "The original's self-target dataset: each image is its own target under a random pose. It learns "
                "NOTHING about other views (the original's docs: outputs noise); for comparison only");
  cmd->add_option("--max_images", c->max_images, "Use at most N objects/images (0: all)")->capture_default_str();
  cmd->add_option("--seed", c->loop.seed, "Random seed (sample order, noise, timesteps)")->capture_default_str();
  cmd->add_option("--device", c->device, "cpu or cuda")->capture_default_str();
  set_guarded_callback(cmd, [cmd, c, fast, quality, no_quality, progressive, no_progressive] {
    apply_fast_mode(cmd, *fast, c->model, &c->batch_size);
    c->loss.quality_weighting = *quality && !*no_quality;
    c->loss.progressive_consistency = *progressive && !*no_progressive;
    synthesis::CvsTrainer trainer(*c);
    const auto& st = trainer.run();
    std::cout << "trained " << st.epochs_done << " epochs; best loss " << st.best_loss << "; skipped batches "
              << st.skipped_batches << "; peak memory " << peak_memory_mib() << " MiB; checkpoints in "
              << c->loop.output_dir << "\n";
  });
}

void register_cvs_generate(CLI::App* parent) {
  auto* cmd = parent->add_subcommand(
      "generate",
      "Generate novel views of IMAGE (cvs_multiview.py) with a CVS checkpoint's EMA weights: view_000.png (input), "
      "view_001.png…, cameras.json (input camera frame); --optimize_3dgs also fits Gaussians (gaussians.ply). "
      "With --dataset, every object of a split at the dataset's cameras (for fresnel eval --views_dir).");
  auto o = std::make_shared<synthesis::GenerateOptions>();
  auto mode = std::make_shared<std::string>("orbit");
  cmd->add_option("image", o->image, "Input image");
  cmd->add_option("--input_image", o->image, "Input image (the original's flag)");
  cmd->add_option("--checkpoint", o->checkpoint, "CVS checkpoint (cvs_best.pt)")->required();
  cmd->add_option("-o,--output_dir", o->out_dir, "Output directory")->required();
  cmd->add_option("--num_views", o->cameras.num_views, "Views to generate")->capture_default_str();
  cmd->add_option("--camera_mode", *mode, "orbit or hemisphere")->capture_default_str();
  cmd->add_option("--orbit_elevation", o->cameras.orbit_elevation, "Orbit elevation in degrees")->capture_default_str();
  cmd->add_option("--orbit_radius", o->cameras.radius, "Camera distance to the object centre")->capture_default_str();
  cmd->add_option("--focal", o->cameras.focal, "fx = fy = focal x image size")->capture_default_str();
  cmd->add_option("--num_steps", o->num_steps, "Denoising steps (1: one-step generation)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Noise seed")->capture_default_str();
  cmd->add_option("--features", o->features, "DINOv2 features file for models trained on them");
  cmd->add_flag("--optimize_3dgs", o->optimize_3dgs, "Fit 3D Gaussians to the input and generated views");
  cmd->add_option("--gs_iterations", o->gs_iterations, "Fitting iterations")->capture_default_str();
  cmd->add_option("--gs_lr", o->gs_lr, "Fitting learning rate (Adam)")->capture_default_str();
  cmd->add_option("--decoder_checkpoint", o->decoder_checkpoint,
                  "Initialise the fit from this decoder's Gaussians (else the unprojected input)");
  cmd->add_option("--dataset", o->dataset, "Multi-view dataset: generate every object of --split instead of IMAGE");
  cmd->add_option("--split", o->split, "Dataset split")->capture_default_str();
  cmd->add_option("--max_objects", o->max_objects, "At most N objects (0: all)")->capture_default_str();
  auto device = std::make_shared<std::string>("cpu");
  cmd->add_option("--device", *device, "cpu (generation runs on the CPU)")->capture_default_str();
  set_guarded_callback(cmd, [o, mode, device] {
    if (*device != "cpu") throw UsageError("--device: cvs generate runs on the CPU only (got '" + *device + "')");
    if (o->image.empty() == o->dataset.empty()) throw UsageError("give IMAGE (or --input_image) or --dataset");
    o->cameras.mode = synthesis::parse_camera_mode(*mode);
    const auto r = synthesis::generate_views(*o);
    std::cout << "wrote " << r.files.size() << " files to " << o->out_dir << " (network " << r.seconds_generation
              << " s";
    if (o->optimize_3dgs) std::cout << ", 3DGS fit L1 " << r.final_fit_l1;
    std::cout << ")\n";
  });
}

void register_cvs_bootstrap(CLI::App* parent) {
  auto* cmd = parent->add_subcommand(
      "bootstrap",
      "Render multi-view training data for CVS from a Gaussian decoder (generate_cvs_bootstrap_data.py): "
      "<output_dir>/image_NNNN/{input.png, input_features.npy, input_depth.npy, view_NNN/{rgb.png, depth.npy, "
      "pose.json}}. Resumes: finished images are skipped.");
  auto o = std::make_shared<synthesis::BootstrapOptions>();
  cmd->add_option("--input_dir", o->input_dir, "Input images (and features/ for DINOv2 decoders)")->required();
  cmd->add_option("--gaussian_decoder", o->decoder_checkpoint, "Decoder checkpoint (fresnel train)")->required();
  cmd->add_option("--output_dir", o->output_dir, "Output directory")->capture_default_str();
  cmd->add_option("--num_poses_per_image", o->num_poses, "Rendered views per image")->capture_default_str();
  cmd->add_option("--image_size", o->image_size, "Render size")->capture_default_str();
  cmd->add_option("--max_images", o->max_images, "At most N images (0: all)")->capture_default_str();
  cmd->add_flag("--visualize", o->visualize, "Also write grid_visualization.png per image");
  cmd->add_option("--seed", o->seed, "Seed of the random elevations")->capture_default_str();
  auto device = std::make_shared<std::string>("cpu");
  cmd->add_option("--device", *device, "cpu (rendering runs on the CPU)")->capture_default_str();
  set_guarded_callback(cmd, [o, device] {
    if (*device != "cpu") throw UsageError("--device: cvs bootstrap runs on the CPU only (got '" + *device + "')");
    const auto n = synthesis::generate_bootstrap_data(*o);
    std::cout << "wrote " << n << " images x " << o->num_poses << " views to " << o->output_dir << "\n";
  });
}

}  // namespace

void register_cvs(CLI::App& app) {
  auto* cvs = app.add_subcommand("cvs", "Consistency View Synthesis: info, train, generate, bootstrap (docs/cvs.md)");
  cvs->require_subcommand(1);
  register_info(cvs);
  register_cvs_train(cvs);
  register_cvs_generate(cvs);
  register_cvs_bootstrap(cvs);
}

}  // namespace fresnel::cli
