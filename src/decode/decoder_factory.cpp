#include "decode/decoder_factory.hpp"

#include "core/error.hpp"
#include "decode/saag_decoders.hpp"

namespace fresnel::decode {

namespace {
using DecoderPtr = std::shared_ptr<GaussianDecoderImpl>;

// One row per decoder: its kind, its name and how it is built from the shared options.
const std::vector<DecoderKindInfo> kKinds = {
    {DecoderKind::SaagRefinement, "SAAG refinement",
     [](const DecoderOptions& o) -> DecoderPtr {
       SaagRefinementOptions so;
       so.feature_dim = o.patch.feature_dim;
       so.dropout = o.patch.dropout;
       so.saag = saag_fixed_count_options(o.saag_subsample, o.patch.depth_mode);
       return std::make_shared<SaagRefinementNetImpl>(so);
     }},
    {DecoderKind::DirectPatch, "direct patch decoder",
     [](const DecoderOptions& o) -> DecoderPtr { return std::make_shared<DirectPatchDecoderImpl>(o.patch); }},
    {DecoderKind::FeatureGuidedSaag, "feature-guided SAAG",
     [](const DecoderOptions& o) -> DecoderPtr {
       FeatureGuidedOptions fo;
       fo.feature_dim = o.patch.feature_dim;
       fo.saag = saag_fixed_count_options(o.saag_subsample, o.patch.depth_mode);
       return std::make_shared<FeatureGuidedSaagImpl>(fo);
     }},
};
}  // namespace

const std::vector<DecoderKindInfo>& decoder_kinds() { return kKinds; }

const DecoderKindInfo& decoder_kind_info(DecoderKind kind) {
  for (const auto& k : kKinds)
    if (k.kind == kind) return k;
  throw Error("unknown decoder kind " + std::to_string(static_cast<int>(kind)));
}

int experiment_number(DecoderKind kind) { return static_cast<int>(kind); }

std::string describe_decoder_kinds() {
  std::string s;
  for (const auto& k : kKinds) s += (s.empty() ? "" : ", ") + std::to_string(experiment_number(k.kind)) + " " + k.name;
  return s;
}

DecoderKind decoder_kind_from_experiment(int experiment, const std::string& field) {
  for (const auto& k : kKinds)
    if (experiment_number(k.kind) == experiment) return k.kind;
  throw Error(field + " must be one of " + describe_decoder_kinds() + "; got " + std::to_string(experiment));
}

std::shared_ptr<GaussianDecoderImpl> make_decoder(DecoderKind kind, const DecoderOptions& o) {
  return decoder_kind_info(kind).build(o);
}

DirectPatchDecoder as_direct_patch(const std::shared_ptr<GaussianDecoderImpl>& decoder, const std::string& what) {
  auto direct = std::dynamic_pointer_cast<DirectPatchDecoderImpl>(decoder);
  if (!direct)
    throw Error(what + " needs a direct patch decoder (experiment 2); this model has a " +
                (decoder ? std::string(decoder_kind_info(decoder->kind()).name) + " (experiment " +
                               std::to_string(experiment_number(decoder->kind())) + ")"
                         : std::string("no decoder")));
  return DirectPatchDecoder(direct);
}

}  // namespace fresnel::decode
