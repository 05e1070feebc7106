#include "v2/trainer.hpp"

#include <torch/torch.h>

#include "core/error.hpp"
#include "core/field_table.hpp"
#include "core/torch_pt.hpp"
#include "train/background_loader.hpp"

namespace fresnel::v2 {

namespace {
nlohmann::json options_json(const SlatDecoderOptions& o) { return fields_to_json(o); }

SlatDecoderOptions options_from(const std::string& text, const std::string& path) {
  SlatDecoderOptions o;
  try {
    fields_from_json(nlohmann::json::parse(text), o, path + ": v2_config");
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("malformed v2_config: ") + e.what());
  }
  return o;
}
}  // namespace

std::string v2_checkpoint_stem(const SlatDecoderOptions& o) { return "direct_decoder_" + o.decoder_type; }

struct V2Task::Loader {
  train::BackgroundLoader<TrellisBatch> batches;
  Loader(int64_t n, std::function<TrellisBatch(int64_t)> load, int workers) : batches(n, std::move(load), workers) {}
};

V2Task::V2Task(V2TrainOptions o) : opt_(std::move(o)) {
  const auto samples = find_trellis_samples(opt_.data_dir);
  if (samples.empty())
    throw file_error(opt_.data_dir,
                     "holds no valid sample (folders with features.pt, coords.pt, slat.pt, gaussians.ply)");
  const auto split = split_indices(static_cast<int64_t>(samples.size()));
  for (auto i : split.train) train_.push_back(samples[i]);
  for (auto i : split.val) val_.push_back(samples[i]);
  if (opt_.batch_size < 1) throw Error("batch_size must be >= 1");
  // The feature width comes from the data (DINOv2 ViT-L: 1024; synth --v2: its embedding).
  opt_.model.feature_dim = load_pt_tensor(train_.front() + "/features.pt").size(-1);
  model_ = SlatDecoder(opt_.model);
  if (opt_.position_init == "sinusoidal") model_->pos_encoding->init_sinusoidal();
  else if (opt_.position_init != "normal")
    throw UsageError("--position_init must be normal or sinusoidal, got '" + opt_.position_init + "'");
  if (opt_.attention_gain != 0.1) model_->reinit_attention(opt_.attention_gain);
}

std::string V2Task::describe() const {
  return std::to_string(train_.size()) + " training / " + std::to_string(val_.size()) + " validation samples in " +
         opt_.data_dir + ", " + opt_.model.decoder_type + (opt_.model.pixel_aligned ? ", pixel-aligned" : "") +
         " decoder" + (opt_.model.pixel_visibility ? " with voxel visibility" : "") + " (" + std::to_string(count_parameters(*model_)) + " parameters)";
}

std::map<std::string, std::string> V2Task::checkpoint_records() const {
  return {{"v2_config", options_json(opt_.model).dump()}};
}

void V2Task::check_resume(const std::map<std::string, std::string>& records, const std::string& path) const {
  auto it = records.find("v2_config");
  if (it == records.end()) throw file_error(path, "is not a v2 checkpoint (no v2_config record)");
  // Through the options, so a key added since (read as its default) does not count as a difference.
  if (options_json(options_from(it->second, path)) != options_json(opt_.model))
    throw file_error(path, "was trained with a different model configuration: " + it->second);
}

int64_t V2Task::begin_epoch(int64_t epoch, std::vector<int64_t> order, uint64_t seed) {
  loader_.reset();
  counts_ = {};
  const int64_t B = opt_.batch_size;
  const int64_t n = (static_cast<int64_t>(order.size()) + B - 1) / B;
  TrellisDatasetOptions dataset;
  dataset.max_coords = opt_.max_coords;
  dataset.max_gaussians = opt_.max_gaussians;
  dataset.occupancy_threshold = opt_.occupancy_distance;
  dataset.negative_voxels = opt_.occupancy_negatives;
  dataset.targets_of_decoded_voxels = opt_.targets_of_decoded_voxels;
  dataset.pixel_aligned = opt_.model.pixel_aligned;
  auto files = train_;
  loader_ = std::make_shared<Loader>(
      n,
      [order = std::move(order), files, dataset, B, seed](int64_t b) {
        std::vector<TrellisSample> samples;
        for (int64_t i = b * B; i < std::min<int64_t>((b + 1) * B, order.size()); ++i) {
          // Each sample's random subsets come from its own generator: the same with any number of workers.
          auto gen = at::make_generator<at::CPUGeneratorImpl>(seed * 1000003ull + static_cast<uint64_t>(order[i]));
          samples.push_back(load_trellis_sample(files[order[i]], dataset, gen));
        }
        return collate(samples);
      },
      opt_.num_workers);
  (void)epoch;
  return n;
}

train::LossTerms V2Task::next_losses() {
  auto batch = loader_->batches.next();
  auto out = model_->forward(batch.features, batch.coords, batch.coord_mask, batch.pixel);
  const int64_t G = opt_.model.num_gaussians;
  // Predictions of padded voxels are not matched (the original matched them too; docs/differences.md).
  // Negative voxels (--occupancy_negatives) only train the occupancy head: they have no Gaussians to match.
  auto pred_mask = batch.surface_mask.unsqueeze(-1).expand({-1, -1, G}).reshape({batch.surface_mask.size(0), -1});
  train::LossTerms terms;
  terms.terms = gaussian_matching_loss(out.gaussians, batch.gaussians, pred_mask, batch.gaussian_mask, opt_.weights);
  if (out.occupancy_logits.defined()) {
    terms.terms["occupancy"] =
        opt_.occupancy_weight * occupancy_loss(out.occupancy_logits, batch.occupancy_target, batch.coord_mask);
    counts_.add(out.occupancy_logits, batch.occupancy_target, batch.coord_mask, G);
  }
  if (opt_.render_weight > 0) {
    auto sum = torch::zeros({}, out.gaussians.options());
    const int64_t B = out.gaussians.size(0);
    for (int64_t b = 0; b < B; ++b) {
      auto pred = out.gaussians[b].index({pred_mask[b]});
      auto target = batch.gaussians[b].index({batch.gaussian_mask[b]});
      if (pred.size(0) > 0 && target.size(0) > 0)
        sum = sum + render_loss(pred, target, opt_.render_views, opt_.render_resolution);
    }
    terms.terms["render"] = opt_.render_weight * sum / static_cast<double>(B);
  }
  torch::Tensor total;
  for (const auto& [k, v] : terms.terms) total = total.defined() ? total + v : v;
  terms.total = total;
  return terms;
}

std::map<std::string, double> V2Task::epoch_info(int64_t) const {
  if (!opt_.model.transformer() || !opt_.model.predict_occupancy) return {};
  return {{"occ_accuracy", counts_.accuracy()},
          {"occ_recall", counts_.recall()},
          {"avg_gaussians", counts_.avg_gaussians()}};
}

nlohmann::json V2Task::config_json() const {
  auto j = fields_to_json(opt_);
  j["model"] = options_json(opt_.model);
  return j;
}

SlatDecoder load_v2_model(const std::string& path) {
  torch::serialize::InputArchive a;
  try {
    a.load_from(path);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("cannot read checkpoint: ") + e.what());
  }
  c10::IValue v;
  if (!a.try_read("v2_config", v) || !v.isString())
    throw file_error(path, "is not a v2 checkpoint (no v2_config record); v1 checkpoints are used by `fresnel infer`");
  SlatDecoder model(options_from(v.toStringRef(), path));
  torch::serialize::InputArchive m;
  if (!a.try_read("model", m)) throw file_error(path, "checkpoint has no model weights");
  try {
    model->load(m);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("model weights do not match the model: ") + e.what());
  }
  model->eval();
  return model;
}

void save_v2_model(const std::string& path, SlatDecoder& model, const nlohmann::json& train_config) {
  train::TrainingState state;
  state.train_config = train_config;
  train::save_training_checkpoint(path, *model, nullptr, state,
                                  {kV2CheckpointFormat, {{"v2_config", options_json(model->options()).dump()}}});
}

}  // namespace fresnel::v2
