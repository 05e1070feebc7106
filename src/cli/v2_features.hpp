// The DINOv2 flags shared by `synth --v2` and `v2 infer --image` (docs/v2.md "Features"): with --dinov2_weights the
// features are TRELLIS's own conditioning (encode::trellis_condition_features); without, the fixed patch embedding.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace fresnel::cli {

struct V2FeatureFlags {
  std::string dinov2_weights;
  std::string dinov2_size;  // empty: whatever the file holds
};

inline void add_v2_feature_flags(CLI::App* cmd, V2FeatureFlags& f) {
  cmd->add_option("--dinov2_weights", f.dinov2_weights,
                  "DINOv2 safetensors (transformers or facebookresearch names; a with-registers file such as "
                  "facebook/dinov2-with-registers-large gives TRELLIS's (1,1374,1024) layout): features are TRELLIS's "
                  "conditioning (ImageNet mean/std, all pre-norm tokens, LayerNorm without affine). Without it: the "
                  "fixed 37x37 RGB patch embedding (1,1369,620)")
      ->check(CLI::ExistingFile);
  cmd->add_option(
         "--dinov2_size", f.dinov2_size,
         "Expected DINOv2 size of --dinov2_weights: small, base, large or giant (default: what the file holds)")
      ->check(CLI::IsMember({"small", "base", "large", "giant"}));
}

}  // namespace fresnel::cli
