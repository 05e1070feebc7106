#include "encode/weights.hpp"

#include <torch/torch.h>

#include <regex>
#include <set>
#include <sstream>

#include "core/error.hpp"

namespace fresnel::encode {

std::string to_string(CheckpointKind k) {
  switch (k) {
    case CheckpointKind::Dinov2Hf:
      return "DINOv2 (transformers names)";
    case CheckpointKind::Dinov2Original:
      return "DINOv2 (facebookresearch names)";
    case CheckpointKind::DepthAnythingHf:
      return "Depth Anything V2 (transformers names)";
    case CheckpointKind::DepthAnythingOriginal:
      return "Depth Anything V2 (original repo names)";
    default:
      return "unrecognised";
  }
}

CheckpointKind detect_checkpoint(const SafetensorsFile& f) {
  if (f.contains("embeddings.cls_token")) return CheckpointKind::Dinov2Hf;
  if (f.contains("cls_token")) return CheckpointKind::Dinov2Original;
  if (f.contains("backbone.embeddings.cls_token")) return CheckpointKind::DepthAnythingHf;
  if (f.contains("pretrained.cls_token")) return CheckpointKind::DepthAnythingOriginal;
  return CheckpointKind::Unknown;
}

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  return o.str() + "]";
}

// One renaming step: a target name, or a qkv tensor split into three targets.
struct Renamed {
  std::vector<std::string> names;  // 1 entry, or 3 for a fused qkv (query, key, value)
};

// facebookresearch DINOv2 name (without prefix) → transformers name(s).
bool rename_dinov2_original(const std::string& n, const std::string& out_prefix, Renamed& r) {
  static const std::map<std::string, std::string> top = {
      {"cls_token", "embeddings.cls_token"},
      {"mask_token", "embeddings.mask_token"},
      {"pos_embed", "embeddings.position_embeddings"},
      {"register_tokens", "embeddings.register_tokens"},
      {"patch_embed.proj.weight", "embeddings.patch_embeddings.projection.weight"},
      {"patch_embed.proj.bias", "embeddings.patch_embeddings.projection.bias"},
      {"norm.weight", "layernorm.weight"},
      {"norm.bias", "layernorm.bias"}};
  if (auto it = top.find(n); it != top.end()) {
    r.names = {out_prefix + it->second};
    return true;
  }
  static const std::regex block(R"(blocks\.(\d+)\.(.+))");
  std::smatch m;
  if (!std::regex_match(n, m, block)) return false;
  const std::string l = out_prefix + "encoder.layer." + m[1].str() + ".";
  const std::string rest = m[2].str();
  static const std::map<std::string, std::string> inner = {{"norm1.weight", "norm1.weight"},
                                                           {"norm1.bias", "norm1.bias"},
                                                           {"norm2.weight", "norm2.weight"},
                                                           {"norm2.bias", "norm2.bias"},
                                                           {"attn.proj.weight", "attention.output.dense.weight"},
                                                           {"attn.proj.bias", "attention.output.dense.bias"},
                                                           {"ls1.gamma", "layer_scale1.lambda1"},
                                                           {"ls2.gamma", "layer_scale2.lambda1"},
                                                           {"mlp.fc1.weight", "mlp.fc1.weight"},
                                                           {"mlp.fc1.bias", "mlp.fc1.bias"},
                                                           {"mlp.fc2.weight", "mlp.fc2.weight"},
                                                           {"mlp.fc2.bias", "mlp.fc2.bias"},
                                                           {"mlp.w12.weight", "mlp.weights_in.weight"},
                                                           {"mlp.w12.bias", "mlp.weights_in.bias"},
                                                           {"mlp.w3.weight", "mlp.weights_out.weight"},
                                                           {"mlp.w3.bias", "mlp.weights_out.bias"}};
  if (auto it = inner.find(rest); it != inner.end()) {
    r.names = {l + it->second};
    return true;
  }
  if (rest == "attn.qkv.weight" || rest == "attn.qkv.bias") {
    const std::string suffix = rest.substr(rest.rfind('.'));
    r.names = {l + "attention.attention.query" + suffix, l + "attention.attention.key" + suffix,
               l + "attention.attention.value" + suffix};
    return true;
  }
  return false;
}

// Depth-Anything-V2 repo DPT head name → transformers name.
bool rename_dpt_original(const std::string& n, Renamed& r) {
  std::smatch m;
  static const std::regex project(R"(depth_head\.projects\.(\d)\.(weight|bias))");
  static const std::regex resize(R"(depth_head\.resize_layers\.(\d)\.(weight|bias))");
  static const std::regex layer_rn(R"(depth_head\.scratch\.layer(\d)_rn\.weight)");
  static const std::regex refine(
      R"(depth_head\.scratch\.refinenet(\d)\.(out_conv|resConfUnit1|resConfUnit2)(\.conv[12])?\.(weight|bias))");
  static const std::regex head(R"(depth_head\.scratch\.output_conv(1|2\.0|2\.2)\.(weight|bias))");
  if (std::regex_match(n, m, project)) {
    r.names = {"neck.reassemble_stage.layers." + m[1].str() + ".projection." + m[2].str()};
  } else if (std::regex_match(n, m, resize)) {
    r.names = {"neck.reassemble_stage.layers." + m[1].str() + ".resize." + m[2].str()};
  } else if (std::regex_match(n, m, layer_rn)) {
    r.names = {"neck.convs." + std::to_string(std::stoi(m[1].str()) - 1) + ".weight"};
  } else if (std::regex_match(n, m, refine)) {
    // refinenet4 (deepest) runs first: transformers' fusion layer 0.
    const std::string l = "neck.fusion_stage.layers." + std::to_string(4 - std::stoi(m[1].str())) + ".";
    const std::string part = m[2].str();
    if (part == "out_conv") {
      if (m[3].matched) return false;
      r.names = {l + "projection." + m[4].str()};
    } else {
      if (!m[3].matched) return false;
      const std::string unit = part == "resConfUnit1" ? "residual_layer1" : "residual_layer2";
      r.names = {l + unit + ".convolution" + m[3].str().substr(5) + "." + m[4].str()};
    }
  } else if (std::regex_match(n, m, head)) {
    const std::string which = m[1].str() == "1" ? "conv1" : (m[1].str() == "2.0" ? "conv2" : "conv3");
    r.names = {"head." + which + "." + m[2].str()};
  } else {
    return false;
  }
  return true;
}

// Maps one file name to canonical name(s); throws on names the scheme does not know.
Renamed rename(CheckpointKind kind, const std::string& name, const std::string& path) {
  Renamed r;
  bool ok = false;
  switch (kind) {
    case CheckpointKind::Dinov2Hf:
    case CheckpointKind::DepthAnythingHf:
      r.names = {name};
      ok = true;
      break;
    case CheckpointKind::Dinov2Original:
      ok = rename_dinov2_original(name, "", r);
      break;
    case CheckpointKind::DepthAnythingOriginal:
      if (name.rfind("pretrained.", 0) == 0) {
        ok = rename_dinov2_original(name.substr(11), "backbone.", r);
      } else {
        ok = rename_dpt_original(name, r);
      }
      break;
    default:
      throw file_error(path,
                       "unrecognised checkpoint: no DINOv2 or Depth Anything V2 tensor names found "
                       "(expected e.g. 'embeddings.cls_token', 'cls_token', 'backbone.embeddings.cls_token' or "
                       "'pretrained.cls_token')");
  }
  if (!ok) throw file_error(path, "unexpected tensor '" + name + "' for a " + to_string(kind) + " checkpoint");
  return r;
}

CheckpointKind checked_kind(const SafetensorsFile& f) {
  const auto k = detect_checkpoint(f);
  if (k == CheckpointKind::Unknown) rename(k, "", f.path());
  return k;
}

}  // namespace

TensorMap canonical_tensors(const SafetensorsFile& f) {
  const auto kind = checked_kind(f);
  TensorMap out;
  for (const auto& name : f.keys()) {
    const auto r = rename(kind, name, f.path());
    auto t = f.tensor(name);
    if (r.names.size() == 3) {
      if (t.dim() < 1 || t.size(0) % 3 != 0)
        throw file_error(f.path(), "tensor '" + name + "' has shape " + shape_str(t.sizes().vec()) +
                                       ": a fused qkv needs a first dimension divisible by 3");
      auto parts = t.chunk(3, 0);
      for (int i = 0; i < 3; ++i) out[r.names[i]] = parts[i].contiguous();
    } else {
      out[r.names[0]] = t;
    }
  }
  return out;
}

ShapeTable canonical_shapes(const SafetensorsFile& f) {
  const auto kind = checked_kind(f);
  ShapeTable out;
  for (const auto& name : f.keys()) {
    const auto r = rename(kind, name, f.path());
    auto s = f.shape(name);
    if (r.names.size() == 3) {
      if (s.empty() || s[0] % 3 != 0)
        throw file_error(f.path(), "tensor '" + name + "' has shape " + shape_str(s) +
                                       ": a fused qkv needs a first dimension divisible by 3");
      s[0] /= 3;
      for (const auto& n : r.names) out.push_back({n, s});
    } else {
      out.push_back({r.names[0], s});
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {
const std::vector<int64_t>* find_shape(const ShapeTable& t, const std::string& name) {
  for (const auto& [n, s] : t)
    if (n == name) return &s;
  return nullptr;
}
}  // namespace

namespace {
int64_t meta_int(const Metadata& meta, const std::string& key, int64_t fallback) {
  auto it = meta.find(key);
  if (it == meta.end()) return fallback;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    throw Error("checkpoint metadata '" + key + "' is not an integer: '" + it->second + "'");
  }
}
}  // namespace

Dinov2Config infer_dinov2_config(const ShapeTable& t, const std::string& p, const Metadata& meta) {
  const auto* cls = find_shape(t, p + "embeddings.cls_token");
  if (!cls || cls->size() != 3) throw Error("checkpoint has no " + p + "embeddings.cls_token of shape [1, 1, D]");
  const int64_t d = (*cls)[2];
  Dinov2Config c;
  bool known = true;
  if (d == 384)
    c = Dinov2Config::preset("small");
  else if (d == 768)
    c = Dinov2Config::preset("base");
  else if (d == 1024)
    c = Dinov2Config::preset("large");
  else if (d == 1536)
    c = Dinov2Config::preset("giant");
  else
    known = false;
  if (!known) {
    c.name = "custom";
    c.hidden = d;
    c.heads = std::max<int64_t>(1, d / 64);
  }
  int64_t layers = 0;
  static const std::regex layer_re(R"(encoder\.layer\.(\d+)\..*)");
  bool swiglu = false;
  for (const auto& [n, s] : t) {
    if (n.rfind(p, 0) != 0) continue;
    std::smatch m;
    const std::string rest = n.substr(p.size());
    if (std::regex_match(rest, m, layer_re)) layers = std::max<int64_t>(layers, std::stoll(m[1].str()) + 1);
    if (rest.find("mlp.weights_in") != std::string::npos) swiglu = true;
  }
  c.layers = layers;
  c.swiglu = swiglu;
  c.heads = meta_int(meta, "num_attention_heads", c.heads);
  if (const auto* reg = find_shape(t, p + "embeddings.register_tokens"); reg && reg->size() == 3)
    c.registers = (*reg)[1];
  if (const auto* proj = find_shape(t, p + "embeddings.patch_embeddings.projection.weight"); proj && proj->size() == 4)
    c.patch = (*proj)[3];
  if (const auto* pos = find_shape(t, p + "embeddings.position_embeddings"); pos && pos->size() == 3) {
    const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>((*pos)[1] - 1))));
    c.image_size = side * c.patch;
  }
  return c;
}

DepthAnythingConfig infer_depth_anything_config(const ShapeTable& t, const Metadata& meta) {
  const auto backbone = infer_dinov2_config(t, "backbone.", meta);
  DepthAnythingConfig c;
  if (backbone.hidden == 384)
    c = DepthAnythingConfig::preset("small");
  else if (backbone.hidden == 768)
    c = DepthAnythingConfig::preset("base");
  else if (backbone.hidden == 1024)
    c = DepthAnythingConfig::preset("large");
  else
    c.name = "custom";
  if (auto it = meta.find("layer_indices"); it != meta.end()) {
    c.layer_indices.clear();
    std::stringstream ss(it->second);
    std::string item;
    while (std::getline(ss, item, ','))
      c.layer_indices.push_back(meta_int({{"layer_indices", item}}, "layer_indices", 0));
  } else if (c.name == "custom") {
    throw Error("Depth Anything checkpoint with backbone width " + std::to_string(backbone.hidden) +
                " matches no published size (small 384, base 768, large 1024) and has no 'layer_indices' metadata");
  }
  c.backbone = backbone;
  c.backbone.name = c.name;
  for (int i = 0; i < 4; ++i)
    if (const auto* s = find_shape(t, "neck.reassemble_stage.layers." + std::to_string(i) + ".projection.weight"))
      c.out_channels[i] = (*s)[0];
  if (const auto* s = find_shape(t, "neck.convs.0.weight")) c.features = (*s)[0];
  if (const auto* s = find_shape(t, "head.conv2.weight")) c.head_hidden = (*s)[0];
  return c;
}

std::vector<std::string> compare_shapes(const ShapeTable& checkpoint, const ShapeTable& expected) {
  std::map<std::string, std::vector<int64_t>> have(checkpoint.begin(), checkpoint.end());
  std::vector<std::string> problems;
  std::set<std::string> wanted;
  for (const auto& [n, s] : expected) {
    wanted.insert(n);
    auto it = have.find(n);
    // The mask token only serves masked-image pre-training; files saved without it still load (it stays zero).
    const bool optional = n.size() >= 21 && n.compare(n.size() - 21, 21, "embeddings.mask_token") == 0;
    if (it == have.end()) {
      if (optional) continue;
      problems.push_back("missing tensor '" + n + "' (shape " + shape_str(s) + ")");
    } else if (it->second != s) {
      problems.push_back("tensor '" + n + "' has shape " + shape_str(it->second) + " but the architecture needs " +
                         shape_str(s));
    }
  }
  for (const auto& [n, s] : have)
    if (!wanted.count(n)) problems.push_back("unexpected tensor '" + n + "' (shape " + shape_str(s) + ")");
  return problems;
}

void load_strict(torch::nn::Module& module, const TensorMap& tensors, const std::string& source) {
  ShapeTable expected, have;
  auto params = module.named_parameters(true);
  auto buffers = module.named_buffers(true);
  for (const auto& p : params) expected.push_back({p.key(), p.value().sizes().vec()});
  for (const auto& b : buffers) expected.push_back({b.key(), b.value().sizes().vec()});
  for (const auto& [n, t] : tensors) have.push_back({n, t.sizes().vec()});
  const auto problems = compare_shapes(have, expected);
  if (!problems.empty()) {
    std::string msg = "weights do not fit the model (" + std::to_string(problems.size()) + " problem" +
                      (problems.size() > 1 ? "s" : "") + "): ";
    for (size_t i = 0; i < problems.size() && i < 5; ++i) msg += (i ? "; " : "") + problems[i];
    if (problems.size() > 5) msg += "; …";
    throw file_error(source, msg);
  }
  torch::NoGradGuard no_grad;
  for (auto& p : params)
    if (auto it = tensors.find(p.key()); it != tensors.end()) p.value().copy_(it->second);
  for (auto& b : buffers) b.value().copy_(tensors.at(b.key()));
}

Dinov2 load_dinov2(const std::string& path, const std::string& expected_size) {
  auto f = SafetensorsFile::open(path);
  const auto kind = checked_kind(f);
  if (kind != CheckpointKind::Dinov2Hf && kind != CheckpointKind::Dinov2Original)
    throw file_error(path, "this is a " + to_string(kind) + " checkpoint, not a DINOv2 one");
  auto cfg = infer_dinov2_config(canonical_shapes(f), "", f.metadata());
  if (kind == CheckpointKind::Dinov2Original) cfg.interpolate_offset = 0.1;
  if (!expected_size.empty() && cfg.name != expected_size)
    throw file_error(path, "holds DINOv2-" + cfg.name + " (width " + std::to_string(cfg.hidden) + ") but size '" +
                               expected_size + "' was asked for");
  Dinov2 model(cfg);
  load_strict(*model, canonical_tensors(f), path);
  model->eval();
  return model;
}

DepthAnything load_depth_anything(const std::string& path, const std::string& expected_size) {
  auto f = SafetensorsFile::open(path);
  const auto kind = checked_kind(f);
  if (kind != CheckpointKind::DepthAnythingHf && kind != CheckpointKind::DepthAnythingOriginal)
    throw file_error(path, "this is a " + to_string(kind) + " checkpoint, not a Depth Anything V2 one");
  auto cfg = infer_depth_anything_config(canonical_shapes(f), f.metadata());
  if (kind == CheckpointKind::DepthAnythingOriginal) cfg.backbone.interpolate_offset = 0.1;
  if (!expected_size.empty() && cfg.name != expected_size)
    throw file_error(path, "holds Depth Anything V2-" + cfg.name + " but size '" + expected_size + "' was asked for");
  DepthAnything model(cfg);
  load_strict(*model, canonical_tensors(f), path);
  model->eval();
  return model;
}

}  // namespace fresnel::encode
