#include "train/checkpoint.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize.h>

#include <filesystem>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace fresnel::train {

std::string checkpoint_name(int e, int64_t epoch) {
  return "decoder_exp" + std::to_string(e) + "_epoch" + std::to_string(epoch) + ".pt";
}
std::string best_checkpoint_name(int e) { return "decoder_exp" + std::to_string(e) + "_best.pt"; }

void save_checkpoint(const std::string& path, FresnelModel& model, torch::optim::Optimizer* optimizer,
                     const TrainingState& st) {
  torch::serialize::OutputArchive root, m;
  model->save(m);
  root.write("model", m);
  root.write("model_config", c10::IValue(model->config().to_json().dump()));
  if (optimizer) {
    torch::serialize::OutputArchive o;
    optimizer->save(o);
    root.write("optimizer", o);
  }
  nlohmann::json s = {{"epochs_done", st.epochs_done}, {"best_loss", st.best_loss},
                      {"skipped_batches", st.skipped_batches}, {"history", st.history},
                      {"train_config", st.train_config}, {"format", "fresnel-decoder-checkpoint"}, {"version", 1}};
  root.write("state", c10::IValue(s.dump()));
  if (st.rng_state.defined()) root.write("rng_state", st.rng_state);
  if (st.extra_params.defined()) root.write("extra_params", st.extra_params.detach());
  atomic_write_path(path, [&](const std::string& tmp) { root.save_to(tmp); });
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

void load_weights(torch::serialize::InputArchive& a, FresnelModel& model, const std::string& path) {
  torch::serialize::InputArchive m;
  if (!a.try_read("model", m)) throw file_error(path, "checkpoint has no model weights");
  try {
    model->load(m);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("model weights do not match the model config: ") + e.what());
  }
}
}  // namespace

ModelConfig read_model_config(const std::string& path) {
  auto a = open_archive(path);
  return config_of(a, path);
}

FresnelModel load_model(const std::string& path) {
  auto a = open_archive(path);
  FresnelModel model(config_of(a, path));
  load_weights(a, model, path);
  model->eval();
  return model;
}

void load_checkpoint(const std::string& path, FresnelModel& model, torch::optim::Optimizer* optimizer,
                     TrainingState& st) {
  auto a = open_archive(path);
  const auto cfg = config_of(a, path);
  if (cfg.to_json() != model->config().to_json())
    throw file_error(path, "checkpoint model config differs from this run's: " + cfg.to_json().dump());
  load_weights(a, model, path);
  if (optimizer) {
    torch::serialize::InputArchive o;
    if (!a.try_read("optimizer", o)) throw file_error(path, "checkpoint has no optimizer state (cannot resume)");
    optimizer->load(o);
  }
  try {
    auto s = nlohmann::json::parse(read_string(a, "state", path));
    st.epochs_done = s.at("epochs_done").get<int64_t>();
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
}

}  // namespace fresnel::train
