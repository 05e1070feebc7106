#include "v2/import_checkpoint.hpp"

#include <torch/torch.h>

#include <map>
#include <regex>
#include <set>

#include "core/error.hpp"
#include "core/torch_pt.hpp"
#include "decode/saag_decoders.hpp"
#include "train/checkpoint.hpp"
#include "train/model.hpp"
#include "v2/trainer.hpp"

namespace fresnel::v2 {
namespace {

using Tensors = std::map<std::string, torch::Tensor>;

// The original's config may hold credentials (VLM endpoints); nothing named like one is copied.
nlohmann::json without_secrets(const nlohmann::json& config) {
  nlohmann::json out = nlohmann::json::object();
  if (!config.is_object()) return out;
  for (const auto& [k, v] : config.items()) {
    std::string lower = k;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("key") != std::string::npos || lower.find("token") != std::string::npos ||
        lower.find("secret") != std::string::npos || lower.find("password") != std::string::npos)
      continue;
    out[k] = v;
  }
  return out;
}

template <class T>
T config_value(const nlohmann::json& config, const char* key, T fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  return config[key].get<T>();
}

// Renames `prefix<i>.<w>` keys by a table of prefixes; returns the Linear indices of an MLP's Sequential.
std::vector<int> sequential_linears(const Tensors& sd, const std::string& prefix) {
  std::set<int> idx;
  const std::regex re("^" + std::regex_replace(prefix, std::regex(R"([.])"), R"(\.)") + R"((\d+)\.weight$)");
  std::smatch m;
  for (const auto& [k, v] : sd)
    if (std::regex_match(k, m, re) && v.dim() == 2) idx.insert(std::stoi(m[1]));
  return {idx.begin(), idx.end()};
}

bool has_prefix(const Tensors& sd, const std::string& prefix) {
  auto it = sd.lower_bound(prefix);
  return it != sd.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

// Our rotation frame is the original's conjugated by S = diag(1, −1, −1) (OpenCV vs its −Z axes). On the 6D
// representation R ↦ S·R·S is a1 ↦ S·a1, a2 ↦ −S·a2; we then add the identity 6D vector at run time, so the
// bias loses it here.
const float kRot6dSign[6] = {1, -1, -1, -1, 1, 1};
const float kEye6[6] = {1, 0, 0, 0, 1, 0};

// rows slot0 + k·P of a (K·P, in) weight and (K·P) bias: the 6D rotation of each of the K Gaussians.
void conjugate_rotation_rows(torch::Tensor& weight, torch::Tensor& bias, int64_t P, int64_t first_slot) {
  const int64_t K = weight.size(0) / P;
  for (int64_t k = 0; k < K; ++k)
    for (int s = 0; s < 6; ++s) {
      const int64_t row = k * P + first_slot + s;
      weight[row].mul_(kRot6dSign[s]);
      bias[row].mul_(kRot6dSign[s]).sub_(kEye6[s]);
    }
}

void flip_rows(torch::Tensor& weight, torch::Tensor& bias, std::initializer_list<int64_t> rows) {
  for (int64_t r : rows) {
    weight[r].neg_();
    bias[r].neg_();
  }
}

struct V1Conversion {
  train::ModelConfig config;
  Tensors renamed;  // our names → values
};

V1Conversion convert_v1(const Tensors& sd, const nlohmann::json& cfg, const std::string& path) {
  V1Conversion c;
  auto& mc = c.config;
  const int experiment = config_value<int>(cfg, "experiment", 2);
  if (experiment == 4 || experiment == 5)
    throw file_error(path, "config experiment " + std::to_string(experiment) + " (" +
                               (experiment == 4 ? "FibonacciPatchDecoder" : "NCAGaussianDecoder") +
                               ") has no counterpart in Fresnel; it cannot be converted (docs/differences.md)");
  mc.kind = decode::decoder_kind_from_experiment(experiment, path + ": config experiment");
  mc.encoder = "precomputed";
  mc.depth_mode = "normalized";
  mc.image_size = config_value<int>(cfg, "image_size", 256);
  auto& d = mc.decoder;
  auto take = [&](const std::string& from, const std::string& to) {
    auto it = sd.find(from);
    if (it == sd.end()) throw file_error(path, "model_state_dict has no '" + from + "'");
    c.renamed["decoder." + to] = it->second.clone();
  };
  // An MLP's Sequential: Linear indices tell the dropout (Linear, ReLU, Dropout) and the widths the hidden sizes.
  auto take_mlp = [&](const std::string& from, const std::string& to) {
    auto lin = sequential_linears(sd, from);
    if (lin.empty()) throw file_error(path, "model_state_dict has no '" + from + "0.weight'");
    d.hidden.clear();
    for (size_t i = 0; i + 1 < lin.size(); ++i)
      d.hidden.push_back(sd.at(from + std::to_string(lin[i]) + ".weight").size(0));
    d.dropout = lin.size() > 1 && lin[1] - lin[0] == 3 ? 0.1 : 0.0;  // the original's decoders use 0.1
    for (int i : lin)
      for (const char* w : {".weight", ".bias"}) take(from + std::to_string(i) + w, to + std::to_string(i) + w);
    return lin;
  };

  if (mc.kind == decode::DecoderKind::DirectPatch) {
    d.use_depth_fusion = has_prefix(sd, "depth_encoder.");
    if (d.use_depth_fusion) {
      d.depth_feature_dim = sd.at("depth_encoder.encoder.4.weight").size(0);
      for (int i : {0, 2, 4})
        for (const char* w : {".weight", ".bias"})
          take("depth_encoder.encoder." + std::to_string(i) + w, "depth_encoder.net." + std::to_string(i) + w);
    }
    auto lin = take_mlp("mlp.net.", "mlp.");
    d.feature_dim =
        sd.at("mlp.net." + std::to_string(lin[0]) + ".weight").size(1) - (d.use_depth_fusion ? d.depth_feature_dim : 0);
    d.gaussians_per_patch = config_value<int64_t>(cfg, "gaussians_per_patch", 4);
    const int64_t out = sd.at("mlp.net." + std::to_string(lin.back()) + ".weight").size(0);
    if (d.gaussians_per_patch < 1 || out % d.gaussians_per_patch != 0 ||
        (out / d.gaussians_per_patch != 16 && out / d.gaussians_per_patch != 19))
      throw file_error(path, "the decoder's last layer has " + std::to_string(out) +
                                 " outputs, not 16 or 19 per Gaussian for gaussians_per_patch " +
                                 std::to_string(d.gaussians_per_patch));
    const int64_t P = out / d.gaussians_per_patch;
    d.use_phase_output = P == 19;
    d.use_fresnel_zones = config_value<bool>(cfg, "use_fresnel_zones", false);
    d.num_fresnel_zones = config_value<int64_t>(cfg, "num_fresnel_zones", 8);
    d.edge_scale_factor = config_value<double>(cfg, "edge_scale_factor", 0.5);
    d.edge_opacity_boost = config_value<double>(cfg, "edge_opacity_boost", 0.2);
    d.use_edge_aware = has_prefix(sd, "edge_detector.");
    if (d.use_edge_aware)
      for (int i : {1, 2, 3})
        for (const char* w : {".weight", ".bias"})
          take("edge_detector.conv" + std::to_string(i) + w, "edge_detector.net." + std::to_string(2 * (i - 1)) + w);
    d.use_pose_encoding = has_prefix(sd, "pose_encoder.");
    if (d.use_pose_encoding) {
      d.pose_embed_dim = sd.at("pose_encoder.mlp.2.weight").size(0);
      for (int i : {0, 2})
        for (const char* w : {".weight", ".bias"}) {
          take("pose_encoder.mlp." + std::to_string(i) + w, "pose_encoder.mlp." + std::to_string(i) + w);
          take("opacity_modulator." + std::to_string(i) + w, "pose_modulator." + std::to_string(i) + w);
        }
    }
    auto it = sd.find("depth_offset");
    if (it == sd.end()) throw file_error(path, "model_state_dict has no 'depth_offset'");
    c.renamed["decoder.depth_offset"] = -it->second.reshape({1}).to(torch::kFloat32);
    const std::string last = "decoder.mlp." + std::to_string(lin.back());
    conjugate_rotation_rows(c.renamed[last + ".weight"], c.renamed[last + ".bias"], P, 6);
  } else if (mc.kind == decode::DecoderKind::SaagRefinement) {
    auto lin = take_mlp("mlp.net.", "mlp.");
    if (d.hidden != decode::SaagRefinementOptions{}.hidden)
      throw file_error(path, "SAAGRefinementNet with hidden widths other than the original's [256, 128]");
    d.hidden = train::ModelConfig{}.decoder.hidden;  // experiment 1's widths are fixed; keep the config's default
    d.feature_dim = sd.at("mlp.net." + std::to_string(lin[0]) + ".weight").size(1) - 14;
    for (const char* p : {"pos_scale", "scale_scale", "color_scale", "opacity_scale"}) take(p, p);
    // Inputs: features | position 3 | scale 3 | quaternion 4 | colour 3 | opacity 1.
    const int64_t C = d.feature_dim;
    auto& w0 = c.renamed["decoder.mlp." + std::to_string(lin[0]) + ".weight"];
    for (int64_t col : {C + 1, C + 2, C + 6 + 2, C + 6 + 3}) w0.select(1, col).neg_();
    const std::string last = "decoder.mlp." + std::to_string(lin.back());
    auto& w = c.renamed[last + ".weight"];
    auto& b = c.renamed[last + ".bias"];
    flip_rows(w, b, {1, 2});
    conjugate_rotation_rows(w, b, 16, 6);
  } else {
    auto lin = sequential_linears(sd, "net.");
    if (lin.size() != 2) throw file_error(path, "FeatureGuidedSAAG needs net.0 and net.2");
    d.feature_dim = sd.at("net.0.weight").size(1);
    for (int i : lin)
      for (const char* w : {".weight", ".bias"}) take("net." + std::to_string(i) + w, "head." + std::to_string(i) + w);
  }
  return c;
}

// Loads `tensors` into `module` by name: every parameter must be provided with its shape, nothing may be left over.
void load_exact(torch::nn::Module& module, Tensors tensors, const std::string& path) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.named_parameters(true)) {
    auto it = tensors.find(p.key());
    if (it == tensors.end()) throw file_error(path, "has no weights for our parameter '" + p.key() + "'");
    if (it->second.sizes() != p.value().sizes())
      throw file_error(path, "parameter '" + p.key() + "' has shape " + c10::str(it->second.sizes()) + ", expected " +
                                 c10::str(p.value().sizes()));
    p.value().copy_(it->second.to(p.value().dtype()));
    tensors.erase(it);
  }
  if (!tensors.empty())
    throw file_error(path, "weights without a place in the converted model: '" + tensors.begin()->first + "'");
}

}  // namespace

ImportSummary import_checkpoint(const std::string& original, const std::string& output) {
  auto f = PtFile::open(original);
  const auto& root = f.root();
  if (!root.is_dict()) throw file_error(original, "is not a checkpoint (a dict with 'model_state_dict')");
  Tensors sd;
  for (auto& [k, v] : f.tensors(f.at(root, "model_state_dict"), "model_state_dict")) sd[k] = v;
  nlohmann::json cfg = root.find("config") ? f.json(f.at(root, "config")) : nlohmann::json::object();
  ImportSummary summary;
  if (const auto* e = root.find("epoch"); e && e->kind == PtObject::Kind::Int) summary.original_epoch = e->i;

  if (sd.count("feature_proj.weight")) {  // a v2 checkpoint: the module names are ours already
    SlatDecoderOptions o;
    o.decoder_type = sd.count("voxel_embed") ? "transformer" : "mlp";
    o.feature_dim = sd.at("feature_proj.weight").size(1);
    o.hidden_dim = sd.at("feature_proj.weight").size(0);
    o.max_resolution =
        sd.count("pos_encoding.pos_embed_x.weight") ? sd.at("pos_encoding.pos_embed_x.weight").size(0) : 64;
    if (!sd.count("gaussian_head.head.4.weight"))
      throw file_error(original, "model_state_dict has no 'gaussian_head.head.4.weight'");
    o.num_gaussians = sd.at("gaussian_head.head.4.weight").size(0) / kSlatGaussianParams;
    int64_t layers = 0;
    while (sd.count(o.transformer() ? "blocks." + std::to_string(layers) + ".norm1.weight"
                                    : "mlp." + std::to_string(3 * layers) + ".weight"))
      ++layers;
    o.num_layers = layers;
    o.num_heads = config_value<int64_t>(cfg, "num_heads", 8);
    o.dropout = config_value<double>(cfg, "dropout", 0.1);
    o.predict_occupancy = o.transformer() && sd.count("occupancy_head.mlp.0.weight");
    o.occupancy_threshold = config_value<double>(cfg, "occupancy_threshold", 0.5);
    SlatDecoder model(o);
    load_exact(*model, sd, original);
    summary.parameters = count_parameters(*model);
    summary.kind = "v2 " + o.decoder_type + " decoder";
    save_v2_model(output, model,
                  {{"imported_from", original},
                   {"original_epoch", summary.original_epoch},
                   {"original_config", without_secrets(cfg)}});
    return summary;
  }
  auto conv = convert_v1(sd, cfg, original);
  // Every original tensor must have been mapped (except the edge detector's fixed Sobel buffers).
  size_t mapped_sources = 0;
  for (const auto& [k, v] : sd) (void)v, mapped_sources += k.find("sobel") == std::string::npos;
  if (conv.renamed.size() != mapped_sources)
    throw file_error(original, "model_state_dict holds " + std::to_string(mapped_sources) + " tensors but only " +
                                   std::to_string(conv.renamed.size()) +
                                   " belong to the original's decoder of this experiment (a physics or other variant "
                                   "decoder cannot be converted)");
  train::FresnelModel model(conv.config);
  load_exact(*model, conv.renamed, original);
  for (const auto& p : model->parameters()) summary.parameters += p.numel();
  summary.kind = "v1 experiment " + std::to_string(conv.config.experiment()) + " (" +
                 decode::decoder_kind_info(conv.config.kind).name + ")";
  train::TrainingState state;
  state.train_config = {{"imported_from", original},
                        {"original_epoch", summary.original_epoch},
                        {"original_config", without_secrets(cfg)}};
  train::save_checkpoint(output, model, nullptr, state);
  return summary;
}

}  // namespace fresnel::v2
