// Loading official checkpoints into the encoders, strictly: every parameter must be present with the right shape,
// and every tensor in the file must be used — a missing, extra or mismatched tensor is one clear error naming it.
// Accepted naming schemes (safetensors files):
//   DINOv2          transformers `facebook/dinov2-*` (embeddings.…, encoder.layer.N.…, layernorm.…)
//                   facebookresearch/dinov2 (cls_token, pos_embed, patch_embed.proj.…, blocks.N.attn.qkv.…, ls1.gamma,
//                   norm.…)
//   Depth Anything  transformers `depth-anything/Depth-Anything-V2-*-hf` (backbone.…, neck.…, head.…)
//                   DepthAnything/Depth-Anything-V2 (pretrained.…, depth_head.projects.N,
//                   depth_head.scratch.refinenetN, …)
#pragma once
#include <torch/nn/module.h>

#include <map>
#include <string>
#include <vector>

#include "core/safetensors.hpp"
#include "encode/depth_anything.hpp"
#include "encode/dinov2.hpp"

namespace fresnel::encode {

enum class CheckpointKind { Dinov2Hf, Dinov2Original, DepthAnythingHf, DepthAnythingOriginal, Unknown };
std::string to_string(CheckpointKind k);

// Which scheme a file's tensor names follow.
CheckpointKind detect_checkpoint(const SafetensorsFile& file);

using TensorMap = std::map<std::string, torch::Tensor>;
using ShapeTable = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// Renames a checkpoint's tensors to our (transformers) parameter names; the original fused qkv is split into
// query/key/value. Values are float32. Throws fresnel::Error for an unrecognised naming scheme.
TensorMap canonical_tensors(const SafetensorsFile& file);
// The same mapping on names and shapes only (no tensor data is read), for `fresnel models`.
ShapeTable canonical_shapes(const SafetensorsFile& file);

// Architecture configs recovered from tensor shapes (hidden size → preset, layer count, registers, SwiGLU, patch,
// trained grid). Head count and the head's backbone blocks are not visible in shapes: published widths imply them;
// other (e.g. test-sized) files state them in safetensors metadata "num_attention_heads" and "layer_indices"
// ("2,5,8,11").
using Metadata = std::map<std::string, std::string>;
Dinov2Config infer_dinov2_config(const ShapeTable& canonical, const std::string& prefix = "",
                                 const Metadata& meta = {});
DepthAnythingConfig infer_depth_anything_config(const ShapeTable& canonical, const Metadata& meta = {});

// Compares a checkpoint's (canonical) table with the architecture's; returns one line per problem
// ("missing tensor 'x'", "tensor 'x' has shape [..] but the architecture needs [..]", "unexpected tensor 'x'").
// Only the unused `embeddings.mask_token` may be absent.
std::vector<std::string> compare_shapes(const ShapeTable& checkpoint, const ShapeTable& expected);

// Copies `tensors` into every parameter and buffer of `module`; throws fresnel::Error naming `source` and the first
// problems when anything is missing, unexpected or mis-shaped.
void load_strict(torch::nn::Module& module, const TensorMap& tensors, const std::string& source);

// Open a checkpoint file and build the model it holds. `expected_size` ("small", …; empty = any) must match.
Dinov2 load_dinov2(const std::string& path, const std::string& expected_size = "");
DepthAnything load_depth_anything(const std::string& path, const std::string& expected_size = "");

}  // namespace fresnel::encode
