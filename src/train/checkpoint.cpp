#include "train/checkpoint.hpp"

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize.h>

#include <filesystem>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace fresnel::train {

std::string checkpoint_stem(int e) { return "decoder_exp" + std::to_string(e); }
std::string checkpoint_name(int e, int64_t epoch) {
  return checkpoint_stem(e) + "_epoch" + std::to_string(epoch) + ".pt";
}
std::string best_checkpoint_name(int e) { return checkpoint_stem(e) + "_best.pt"; }

void save_training_checkpoint(const std::string& path, torch::nn::Module& module, torch::optim::Optimizer* optimizer,
                              const TrainingState& st, const CheckpointMeta& meta) {
  torch::serialize::OutputArchive root, m;
  module.save(m);
  root.write("model", m);
  for (const auto& [key, text] : meta.records) root.write(key, c10::IValue(text));
  if (optimizer) {
    torch::serialize::OutputArchive o;
    optimizer->save(o);
    root.write("optimizer", o);
  }
  nlohmann::json s = {{"epochs_done", st.epochs_done}, {"steps_done", st.steps_done},
                      {"best_loss", st.best_loss},     {"skipped_batches", st.skipped_batches},
                      {"history", st.history},         {"train_config", st.train_config},
                      {"format", meta.format},         {"version", 2}};
  root.write("state", c10::IValue(s.dump()));
  if (st.rng_state.defined()) root.write("rng_state", st.rng_state);
  if (st.extra_params.defined()) root.write("extra_params", st.extra_params.detach());
  if (!st.ema.empty()) {
    torch::serialize::OutputArchive e;
    for (const auto& [name, t] : st.ema) e.write(name, t.detach());
    root.write("ema", e);
  }
  atomic_write_path(path, [&](const std::string& tmp) { root.save_to(tmp); });
}

void save_checkpoint(const std::string& path, FresnelModel& model, torch::optim::Optimizer* optimizer,
                     const TrainingState& state) {
  save_training_checkpoint(path, *model, optimizer, state,
                           {kDecoderCheckpointFormat, {{"model_config", model->config().to_json().dump()}}});
}

namespace {
torch::serialize::InputArchive open_archive(const std::string& path) {
  if (!std::filesystem::exists(path)) throw file_error(path, "checkpoint not found");
  torch::serialize::InputArchive a;
  try {
    a.load_from(path);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("not a readable checkpoint (") + e.what() + ")");
  }
  return a;
}

std::string read_string(torch::serialize::InputArchive& a, const std::string& key, const std::string& path) {
  c10::IValue v;
  if (!a.try_read(key, v) || !v.isString()) throw file_error(path, "checkpoint has no '" + key + "' record");
  return v.toStringRef();
}

ModelConfig config_of(torch::serialize::InputArchive& a, const std::string& path) {
  try {
    return ModelConfig::from_json(nlohmann::json::parse(read_string(a, "model_config", path)));
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("malformed model config: ") + e.what());
  } catch (const Error& e) {
    throw file_error(path, e.what());
  }
}

void load_weights(torch::serialize::InputArchive& a, torch::nn::Module& module, const std::string& path) {
  torch::serialize::InputArchive m;
  if (!a.try_read("model", m)) throw file_error(path, "checkpoint has no model weights");
  try {
    module.load(m);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("model weights do not match the model: ") + e.what());
  }
}

// The EMA tensors of the module's parameters, by name; empty when the checkpoint has none.
std::map<std::string, torch::Tensor> read_ema(torch::serialize::InputArchive& a, torch::nn::Module& module,
                                              const std::string& path) {
  std::map<std::string, torch::Tensor> ema;
  torch::serialize::InputArchive e;
  if (!a.try_read("ema", e)) return ema;
  for (const auto& p : module.named_parameters()) {
    torch::Tensor t;
    if (!e.try_read(p.key(), t)) throw file_error(path, "checkpoint EMA lacks parameter '" + p.key() + "'");
    if (!t.sizes().equals(p.value().sizes()))
      throw file_error(path, "checkpoint EMA of '" + p.key() + "' has the wrong shape");
    ema[p.key()] = t;
  }
  return ema;
}
}  // namespace

void load_training_checkpoint(const std::string& path, torch::nn::Module& module, torch::optim::Optimizer* optimizer,
                              TrainingState& st, const std::vector<std::string>& record_keys,
                              const RecordCheck& check_records) {
  auto a = open_archive(path);
  std::map<std::string, std::string> records;
  for (const auto& key : record_keys) records[key] = read_string(a, key, path);
  if (check_records) check_records(records);
  load_weights(a, module, path);
  if (optimizer) {
    torch::serialize::InputArchive o;
    if (!a.try_read("optimizer", o)) throw file_error(path, "checkpoint has no optimizer state (cannot resume)");
    try {
      optimizer->load(o);
    } catch (const std::exception& e) {
      throw file_error(path, std::string("optimizer state does not match this run: ") + e.what());
    }
  }
  try {
    auto s = nlohmann::json::parse(read_string(a, "state", path));
    st.epochs_done = s.at("epochs_done").get<int64_t>();
    st.steps_done = s.value("steps_done", int64_t(0));  // version 1 files predate it
    st.best_loss = s.at("best_loss").get<double>();
    st.skipped_batches = s.at("skipped_batches").get<int64_t>();
    st.history = s.at("history");
    st.train_config = s.at("train_config");
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("malformed training state: ") + e.what());
  }
  torch::Tensor t;
  if (a.try_read("rng_state", t)) st.rng_state = t;
  torch::Tensor x;
  if (a.try_read("extra_params", x)) st.extra_params = x;
  st.ema = read_ema(a, module, path);
}

ModelConfig read_model_config(const std::string& path) {
  auto a = open_archive(path);
  return config_of(a, path);
}

FresnelModel load_model(const std::string& path, Weights weights) {
  auto a = open_archive(path);
  FresnelModel model(config_of(a, path));
  load_weights(a, *model, path);
  if (weights == Weights::Ema) {
    auto ema = read_ema(a, *model, path);
    if (ema.empty()) throw file_error(path, "checkpoint has no EMA weights (trained without ema_decay)");
    torch::NoGradGuard ng;
    for (auto& p : model->named_parameters()) p.value().copy_(ema.at(p.key()));
  }
  model->eval();
  return model;
}

}  // namespace fresnel::train
