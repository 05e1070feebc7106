// `fresnel v2 …`: the TRELLIS distillation pipeline (docs/v2.md).
//   info   parameter count of the decoder for the given sizes
//   check  the dataset's valid samples and why the others are not (the original's "validate dataset" snippet)
//   train  DirectSLatDecoder / MLPSLatDecoder on a dataset (the original's train_direct_decoder.py flags)
//   infer  dataset samples → predicted and target Gaussians ({name}_pred.ply, {name}_target.ply; with --frame
//          camera pred/{name}.ply and target/{name}.ply in the input camera's frame for `fresnel eval`), or an
//          image → its features (the synth --v2 patch embedding, or DINOv2 with --dinov2_weights) → occupancy over
//          the full 64³ grid → Gaussians ({image stem}_pred.ply)
#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/v2_features.hpp"
#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "core/image_io.hpp"
#include "core/log.hpp"
#include "core/object_frame.hpp"
#include "core/torch_pt.hpp"
#include "data/synth_v2.hpp"
#include "encode/weights.hpp"
#include "train/loop.hpp"
#include "v2/generate.hpp"
#include "v2/slat_decoder.hpp"
#include "v2/trainer.hpp"
#include "v2/trellis_dataset.hpp"
#include "v2/trellis_frame.hpp"

namespace fresnel::cli {

namespace {

// The original's model flags (train_direct_decoder.py), shared by info and train.
void add_model_flags(CLI::App* cmd, v2::SlatDecoderOptions& o) {
  cmd->add_option("--decoder_type", o.decoder_type, "transformer (DirectSLatDecoder) or mlp (MLPSLatDecoder)")
      ->check(CLI::IsMember({"transformer", "mlp"}))
      ->capture_default_str();
  cmd->add_option("--hidden_dim", o.hidden_dim, "Hidden width")->capture_default_str();
  cmd->add_option("--num_layers", o.num_layers, "Transformer blocks (or MLP layers)")->capture_default_str();
  cmd->add_option("--num_gaussians", o.num_gaussians, "Gaussians per voxel")->capture_default_str();
  cmd->add_flag("--pixel_aligned", o.pixel_aligned,
                "Each voxel query also gets the image tokens where the voxel shows in the input image (needs each "
                "sample's metadata.json trellis_frame and cameras.json, as synth --v2 writes them; beyond the "
                "original)");
  cmd->add_flag("--pixel_colour_residual", o.pixel_colour_residual,
                "With --pixel_aligned: each Gaussian's colour is a residual over the colour its voxel sees in the image "
                "(a visible voxel starts at the image's colour, as v1's pixel-aligned Gaussians)");
  cmd->add_flag("--pixel_visibility", o.pixel_visibility,
                "With --pixel_aligned: each voxel query is also told whether the input view sees its voxel past the "
                "object's other voxels, and --pixel_colour_residual starts only those at the image's colour");
}

using v2::to_gaussians;  // rows → Gaussians in TRELLIS's frame, as direct_decoder_inference.py writes them

void add_info(CLI::App* v2cmd) {
  auto* cmd = v2cmd->add_subcommand("info", "Print the v2 decoder's parameter count for the given sizes");
  auto o = std::make_shared<v2::SlatDecoderOptions>();
  add_model_flags(cmd, *o);
  cmd->add_option("--feature_dim", o->feature_dim, "Conditioning feature width (DINOv2 ViT-L/14: 1024)")
      ->capture_default_str();
  cmd->add_option("--num_heads", o->num_heads, "Attention heads")->capture_default_str();
  set_guarded_callback(cmd, [o] {
    v2::SlatDecoder model(*o);
    std::cout << o->decoder_type << " decoder: " << v2::count_parameters(*model) << " parameters\n";
    for (const auto& child : model->named_children())
      std::cout << "  " << child.key() << ": " << v2::count_parameters(*child.value()) << "\n";
  });
}

void add_check(CLI::App* v2cmd) {
  auto* cmd =
      v2cmd->add_subcommand("check", "Validate a TRELLIS distillation dataset: valid samples and why others are not");
  auto dir = std::make_shared<std::string>();
  cmd->add_option("data_dir", *dir, "Dataset folder (one folder per object)")->required();
  set_guarded_callback(cmd, [dir] {
    const auto report = v2::check_trellis_dataset(*dir);
    for (const auto& s : report.samples)
      if (!s.valid) std::cout << "invalid " << s.name << ": " << s.problem << "\n";
    for (const auto& s : report.skipped_images) std::cout << "skipped by the generator (2 failures): " << s << "\n";
    std::cout << "Valid samples: " << report.valid() << " of " << report.samples.size() << "\n";
    if (report.valid() == 0) throw Error(*dir + ": no valid sample");
  });
}

void add_train(CLI::App* v2cmd) {
  auto* cmd = v2cmd->add_subcommand("train", "Train the v2 direct decoder on a TRELLIS distillation dataset");
  struct Flags {
    v2::V2TrainOptions task;
    train::LoopOptions loop;
    std::string mode = "structure_supervised";
    bool no_amp = false, no_checkpoint = false, no_occupancy = false;
    int64_t num_gaussians = 8;
  };
  auto f = std::make_shared<Flags>();
  f->task.model.dropout = 0.2;  // the original trainer's TrainingConfig
  f->loop.output_dir = "checkpoints/fresnel_v2";
  f->loop.lr = 1e-4;
  f->loop.weight_decay = 1e-3;
  f->loop.grad_clip = 1.0;
  f->loop.save_interval = 10;
  cmd->add_option("--data_dir", f->task.data_dir, "Dataset folder")->capture_default_str();
  cmd->add_option("--output_dir", f->loop.output_dir, "Checkpoints and history")->capture_default_str();
  cmd->add_option("--mode", f->mode, "structure_supervised or end_to_end (accepted; no effect, as in the original)")
      ->check(CLI::IsMember({"structure_supervised", "end_to_end"}));
  add_model_flags(cmd, f->task.model);
  cmd->add_option("--epochs", f->loop.epochs, "Epochs")->capture_default_str();
  cmd->add_option("--batch_size", f->task.batch_size, "Samples per batch")->capture_default_str();
  cmd->add_option("--lr", f->loop.lr, "Learning rate (AdamW, cosine per epoch)")->capture_default_str();
  cmd->add_option("--resume", f->loop.resume, "Continue from a checkpoint");
  cmd->add_flag("--no_amp", f->no_amp, "Mixed precision off (we always train in float32; accepted for compatibility)");
  cmd->add_option("--max_coords", f->task.max_coords, "Voxels per sample (random subset)")->capture_default_str();
  cmd->add_flag("--no_checkpoint", f->no_checkpoint,
                "Gradient checkpointing off (libtorch C++ has none: always off; accepted for compatibility)");
  cmd->add_flag("--no_occupancy", f->no_occupancy, "No occupancy head and no occupancy loss");
  cmd->add_option("--dropout", f->task.model.dropout, "Dropout in attention and MLPs (the original trainer's 0.2)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  cmd->add_option("--occupancy_weight", f->task.occupancy_weight, "Weight of the occupancy BCE")->capture_default_str();
  cmd->add_option("--occupancy_negatives", f->task.occupancy_negatives,
                  "Empty voxels per sample that the occupancy head learns to reject (0 = the original: none, so it "
                  "marks every voxel occupied when asked without coords.pt)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max_gaussians", f->task.max_gaussians,
                  "Target Gaussians per sample (random subset of those of the decoded voxels)")
      ->capture_default_str();
  cmd->add_flag_callback(
      "--independent_target_subset", [f] { f->task.targets_of_decoded_voxels = false; },
      "The original's sampling: target Gaussians drawn from the whole object, independently of the --max_coords "
      "voxels (most then lie in voxels that are not decoded); default: the targets of the decoded voxels");
  cmd->add_option("--render_weight", f->task.render_weight,
                  "Weight of a render loss: predicted vs target Gaussians from --render_views views, L1 + 0.5(1-SSIM)")
      ->capture_default_str();
  cmd->add_option("--render_views", f->task.render_views, "Views of the render loss")->capture_default_str();
  cmd->add_option("--attention_gain", f->task.attention_gain,
                  "Xavier gain of the attention projections and feature_proj (the original's 0.1)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--position_init", f->task.position_init,
                  "Voxel position tables: normal (the original's N(0, 0.02)) or sinusoidal (a smooth code of the "
                  "index; learns where voxels show in the image sooner)")
      ->capture_default_str()
      ->check(CLI::IsMember({"normal", "sinusoidal"}));
  // GaussianMatchingLoss's weights; the defaults are the original config's (not its constructor's).
  v2::MatchingWeights::fields(f->task.weights, [cmd](const std::string& name, double& value) {
    cmd->add_option("--" + name, value, "Matching-loss weight (" + name.substr(0, name.size() - 7) + " term)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
  });
  cmd->add_option("--render_resolution", f->task.render_resolution, "Render loss image size")->capture_default_str();
  cmd->add_option("--save_interval", f->loop.save_interval, "Save every N epochs (plus best and last)")
      ->capture_default_str();
  cmd->add_option("--seed", f->loop.seed, "Random seed")->capture_default_str();
  cmd->add_option("--stop_after_epoch", f->loop.stop_after_epoch,
                  "Stop after this many epochs while keeping the --epochs schedule (continue with --resume)");
  cmd->add_option("--num_workers", f->task.num_workers, "Loader threads")->capture_default_str();
  set_guarded_callback(cmd, [f] {
    if (f->loop.epochs < 1) throw UsageError("--epochs must be >= 1");
    if (f->task.batch_size < 1) throw UsageError("--batch_size must be >= 1");
    if (f->task.max_coords < 1 || f->task.max_gaussians < 1)
      throw UsageError("--max_coords/--max_gaussians must be >= 1");
    f->task.model.predict_occupancy = !f->no_occupancy;
    f->loop.checkpoint_stem = v2::v2_checkpoint_stem(f->task.model);
    f->loop.history_tag = "v2_" + f->task.model.decoder_type;
    torch::manual_seed(f->loop.seed);
    v2::V2Task task(f->task);
    log_info("v2 train: " + task.describe());
    train::TrainingLoop loop(f->loop, task);
    const auto& st = loop.run();
    std::cout << "trained " << st.epochs_done << " epochs (" << st.skipped_batches << " non-finite steps skipped); "
              << "checkpoints in " << f->loop.output_dir << "\n";
  });
}

// The features `v2 infer --image` gives a checkpoint: its feature width decides. 620 is the fixed patch embedding
// (synth --v2 without weights); any other width needs --dinov2_weights of a DINOv2 of that width.
torch::Tensor image_features_for(const std::string& checkpoint, int64_t width, const std::string& image,
                                 const V2FeatureFlags& dino) {
  const auto rgb = synth::v2_load_image(image);
  const std::string trained = checkpoint + ": the model was trained on " + std::to_string(width) + "-wide features";
  if (dino.dinov2_weights.empty()) {
    if (width != synth::kV2PatchFeatureDim)
      throw Error(trained + " (DINOv2's); give --dinov2_weights of a DINOv2 of width " + std::to_string(width) +
                  " (without weights only the fixed " + std::to_string(synth::kV2PatchFeatureDim) +
                  "-wide patch embedding is available)");
    std::cout << "features: the fixed patch embedding of synth --v2 (1, 1369, " << synth::kV2PatchFeatureDim << ")\n";
    return synth::v2_patch_features(rgb);
  }
  auto dinov2 = encode::load_dinov2(dino.dinov2_weights, dino.dinov2_size);
  if (dinov2->config.hidden != width)
    throw Error(trained + ", but " + dino.dinov2_weights + " is DINOv2-" + dinov2->config.name + " of width " +
                std::to_string(dinov2->config.hidden) +
                (width == synth::kV2PatchFeatureDim ? " (this checkpoint wants the fixed patch embedding: drop "
                                                      "--dinov2_weights)"
                                                    : ""));
  std::cout << "features: TRELLIS conditioning, " << encode::trellis_condition_description(dinov2->config) << " from "
            << dino.dinov2_weights << "\n";
  return encode::trellis_condition_features(*dinov2, rgb);
}

// `v2 infer --image`: no coords, so the occupied voxels come from the occupancy head over the whole grid.
// A pixel-aligned checkpoint's view of the grid in an input image taken by a sample's camera (none for the others).
v2::VoxelProjection projection_for(const v2::SlatDecoder& model, const std::string& sample_dir,
                                   const std::string& image_path) {
  if (!model->options().pixel_aligned) return {};  // the image is read only when the model looks at it
  const auto frame = v2::load_sample_frame(sample_dir);
  const auto image = load_image(image_path);
  const int64_t R = model->options().max_resolution;
  return [frame, image, R](const torch::Tensor& xyz, const torch::Tensor& occupied) {
    return v2::pixel_query(xyz, frame, image, R, occupied);
  };
}

void infer_image(const std::string& checkpoint, const std::string& image, const std::string& camera_sample,
                 const std::string& output_dir, double threshold, int64_t max_voxels, const V2FeatureFlags& dino) {
  auto model = v2::load_v2_model(checkpoint);
  if (model->options().pixel_aligned && camera_sample.empty())
    throw UsageError(checkpoint +
                     " is pixel-aligned: give --camera_sample, a sample folder whose metadata.json and cameras.json "
                     "hold the image's camera and frame");
  const auto features = image_features_for(checkpoint, model->options().feature_dim, image, dino);
  const auto pred = v2::predict_occupied_grid(model, features, threshold, max_voxels, 8192,
                                              projection_for(model, camera_sample, image));
  std::filesystem::create_directories(output_dir);
  const std::string path = output_dir + "/" + std::filesystem::path(image).stem().string() + "_pred.ply";
  save_gaussians(path, to_gaussians(pred.gaussians));
  std::cout << image << ": " << pred.voxels.size(0) << " occupied voxels, " << pred.gaussians.size(0)
            << " predicted Gaussians -> " << path << "\n";
}

void add_infer(CLI::App* v2cmd) {
  auto* cmd = v2cmd->add_subcommand(
      "infer", "Predict Gaussians with a v2 checkpoint for dataset samples (--data_dir) or an image (--image)");
  struct Flags {
    std::string checkpoint, data_dir, image, camera_sample, output_dir = "output/inference", frame = "trellis",
                                                           coords = "dataset";
    int64_t sample_idx = 0, num_samples = 1, max_coords = 4000, max_voxels = 100000;
    double threshold = 0.5;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("--checkpoint", f->checkpoint, "v2 checkpoint (direct_decoder_*.pt)")
      ->required()
      ->check(CLI::ExistingFile);
  auto* data_opt = cmd->add_option("--data_dir", f->data_dir, "Dataset folder");
  auto* image_opt = cmd->add_option("--image", f->image,
                                    "Input image (resized to 518²; features as the checkpoint was trained: the fixed "
                                    "patch embedding, or DINOv2 with --dinov2_weights): voxels come from the "
                                    "predicted occupancy over the full 64³ grid");
  data_opt->excludes(image_opt);
  cmd->add_option("--camera_sample", f->camera_sample,
                  "--image with a pixel-aligned checkpoint: a sample folder (metadata.json trellis_frame, "
                  "cameras.json) whose input camera took the image")
      ->check(CLI::ExistingDirectory)
      ->excludes(data_opt);
  cmd->add_option("--output_dir", f->output_dir,
                  "Where {name}_pred.ply and {name}_target.ply (or {image stem}_pred.ply) go")
      ->capture_default_str();
  cmd->add_option("--sample_idx", f->sample_idx, "First sample (in the dataset's sorted order)")->capture_default_str();
  cmd->add_option("--num_samples", f->num_samples, "How many samples")->capture_default_str();
  cmd->add_option("--max_coords", f->max_coords, "Voxels per sample")->capture_default_str();
  cmd->add_option("--frame", f->frame,
                  "--data_dir: trellis ({name}_pred.ply, {name}_target.ply in TRELLIS's frame, as the original) or "
                  "camera (pred/{name}.ply, target/{name}.ply and {name}.cameras.json in the sample's input camera "
                  "frame: `fresnel eval --gaussians OUT/pred` on the `fresnel synth` set of the same objects)")
      ->check(CLI::IsMember({"trellis", "camera"}))
      ->capture_default_str();
  cmd->add_option("--coords", f->coords,
                  "--data_dir: voxels from the sample's coords.pt (dataset, as TRELLIS stage 1 gives them) or from "
                  "the predicted occupancy over the full 64³ grid (predicted, like --image)")
      ->check(CLI::IsMember({"dataset", "predicted"}))
      ->capture_default_str();
  cmd->add_option("--threshold", f->threshold,
                  "--image, --coords predicted: occupancy probability above which a voxel is kept")
      ->capture_default_str();
  cmd->add_option("--max_voxels", f->max_voxels,
                  "--image, --coords predicted: stop with an error when more voxels are predicted occupied")
      ->capture_default_str();
  auto dino = std::make_shared<V2FeatureFlags>();
  add_v2_feature_flags(cmd, *dino);
  set_guarded_callback(cmd, [f, dino] {
    if (!f->image.empty() && (f->frame == "camera" || f->coords == "predicted"))
      throw UsageError(
          "--frame camera and --coords predicted are for --data_dir samples (an image has no dataset "
          "camera, and its voxels always come from the predicted occupancy)");
    if (!f->image.empty())
      return infer_image(f->checkpoint, f->image, f->camera_sample, f->output_dir, f->threshold, f->max_voxels, *dino);
    if (!dino->dinov2_weights.empty()) throw UsageError("--dinov2_weights is for --image (datasets hold features.pt)");
    if (f->data_dir.empty()) throw UsageError("v2 infer needs --data_dir or --image");
    auto model = v2::load_v2_model(f->checkpoint);
    const auto samples = v2::find_trellis_samples(f->data_dir);
    if (f->sample_idx < 0 || f->sample_idx >= static_cast<int64_t>(samples.size()))
      throw UsageError("--sample_idx " + std::to_string(f->sample_idx) + " is outside the dataset's " +
                       std::to_string(samples.size()) + " samples");
    std::filesystem::create_directories(f->output_dir);
    v2::TrellisDatasetOptions dataset;
    dataset.max_coords = f->max_coords;
    dataset.pixel_aligned = model->options().pixel_aligned;
    torch::NoGradGuard no_grad;
    const int64_t end = std::min<int64_t>(samples.size(), f->sample_idx + std::max<int64_t>(1, f->num_samples));
    const bool camera = f->frame == "camera";
    if (camera) {
      std::filesystem::create_directories(f->output_dir + "/pred");
      std::filesystem::create_directories(f->output_dir + "/target");
    }
    for (int64_t i = f->sample_idx; i < end; ++i) {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(42);
      auto s = v2::load_trellis_sample(samples[i], dataset, gen);
      torch::Tensor pred;
      if (f->coords == "predicted") {
        const auto grid = v2::predict_occupied_grid(model, s.features.unsqueeze(0), f->threshold, f->max_voxels, 8192,
                                                    projection_for(model, samples[i], samples[i] + "/image.png"));
        pred = grid.gaussians;
        auto truth = load_pt_tensor(samples[i] + "/coords.pt").narrow(1, 1, 3);
        // The model's voxels are on gaussians.ply's grid; TRELLIS's coords.pt is on its Z-up grid.
        if (v2::sample_coords_frame(samples[i]) == v2::CoordsFrame::TrellisZUp)
          truth = v2::trellis_grid_to_ply_grid(truth);
        const auto a = v2::grid_occupancy_agreement(grid.voxels, truth, model->options().max_resolution);
        std::printf(
            "%s: predicted occupancy vs coords.pt over the grid: accuracy %.4f recall %.4f precision %.4f "
            "(%lld predicted, %lld true voxels)\n",
            s.name.c_str(), a.accuracy(), a.recall(), a.precision(), (long long)(a.true_pos + a.false_pos),
            (long long)(a.true_pos + a.false_neg));
      } else {
        auto b = v2::collate({s});
        auto out = model->forward(b.features, b.coords, b.coord_mask, b.pixel);
        pred = model->occupied_gaussians(out, b.coord_mask, 0);
      }
      // The target is scored in images with --frame camera: all of its Gaussians, not the training subset.
      const auto pred_g = to_gaussians(pred),
                 target_g = to_gaussians(camera ? v2::trellis_gaussian_targets(samples[i] + "/gaussians.ply")
                                                : s.gaussians.narrow(0, 0, s.n_gaussians));
      std::string pred_path = f->output_dir + "/" + s.name + "_pred.ply",
                  target_path = f->output_dir + "/" + s.name + "_target.ply";
      if (camera) {
        // Into the input camera's frame (camera at the origin), where `fresnel eval` renders the dataset's views.
        const auto sf = v2::load_sample_frame(samples[i]);
        pred_path = f->output_dir + "/pred/" + s.name + ".ply";
        target_path = f->output_dir + "/target/" + s.name + ".ply";
        v2::save_in_camera_frame(pred_g, sf, pred_path);
        v2::save_in_camera_frame(target_g, sf, target_path);
      } else {
        save_gaussians(pred_path, pred_g);
        save_gaussians(target_path, target_g);
      }
      std::cout << s.name << ": " << pred.size(0) << " predicted Gaussians (" << s.n_gaussians << " in the target) -> "
                << pred_path << "\n";
    }
  });
}

void add_generate(CLI::App* v2cmd) {
  auto* cmd = v2cmd->add_subcommand(
      "generate", "Run TRELLIS over a folder of images (a fresh worker per batch, failures in _failures.json)");
  auto o = std::make_shared<v2::GenerateOptions>();
  cmd->add_option("--input_dir", o->input_dir, "Folder of images")->required();
  cmd->add_option("--output_dir", o->output_dir, "Dataset folder to fill")->capture_default_str();
  cmd->add_option("--num_samples", o->num_samples, "Images to use (0 = all)")->capture_default_str();
  cmd->add_option("--num_steps", o->num_steps, "Sampler steps of both TRELLIS stages")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Sampling seed")->capture_default_str();
  cmd->add_flag("--resume", o->resume, "Keep samples that already have gaussians.ply");
  cmd->add_option("--batch_size", o->batch_size, "Images per worker process (0 = all)")->capture_default_str();
  cmd->add_option("--trellis_dir", o->trellis_dir, "TRELLIS checkout with its .venv")->capture_default_str();
  cmd->add_option("--python", o->python, "Python to run the worker (default <trellis_dir>/.venv/bin/python)");
  cmd->add_option("--worker", o->worker, "Worker script")->capture_default_str();
  set_guarded_callback(cmd, [o] {
    const auto s = v2::run_generation(*o);
    std::cout << s.done << " samples done, " << s.skipped << " images skipped after " << o->max_failures
              << " failures, " << s.rounds << " worker runs\n";
  });
}

}  // namespace

void register_v2(CLI::App& app) {
  auto* v2cmd = app.add_subcommand("v2", "Fresnel v2: TRELLIS distillation (info, check, train, infer, generate)");
  v2cmd->require_subcommand(1);
  add_info(v2cmd);
  add_check(v2cmd);
  add_train(v2cmd);
  add_infer(v2cmd);
  add_generate(v2cmd);
}

}  // namespace fresnel::cli
