// Builds decoders from their kind, and the one table of kinds that help strings and validation come from.
//
// Adding a decoder: a new file with a class deriving from GaussianDecoderImpl (decoder.hpp), a DecoderKind value,
// one row in kKinds (decoder_factory.cpp: its name and how to build it), and a paragraph in docs/training.md.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "decode/decoder.hpp"
#include "decode/direct_patch_decoder.hpp"

namespace fresnel::decode {

// What every decoder is built from. The direct patch decoder uses all of `patch`; the SAAG decoders take its
// feature_dim, dropout and depth_mode, plus `saag_subsample`.
struct DecoderOptions {
  DirectPatchDecoderOptions patch;
  int saag_subsample = 4;  // SAAG decoders: one Gaussian per subsample² pixels
};

struct DecoderKindInfo {
  DecoderKind kind;
  const char* name;  // short description, e.g. "direct patch decoder"
  std::shared_ptr<GaussianDecoderImpl> (*build)(const DecoderOptions& options);
};

// Every kind, in experiment order.
const std::vector<DecoderKindInfo>& decoder_kinds();
const DecoderKindInfo& decoder_kind_info(DecoderKind kind);
// The kind of an experiment number. Throws fresnel::Error naming `field` and the valid numbers.
DecoderKind decoder_kind_from_experiment(int experiment, const std::string& field = "experiment");
int experiment_number(DecoderKind kind);
// "1 SAAG refinement, 2 direct patch decoder, 3 feature-guided SAAG".
std::string describe_decoder_kinds();

// Builds a decoder of `kind`; its parameter names are those of the original's checkpoints.
std::shared_ptr<GaussianDecoderImpl> make_decoder(DecoderKind kind, const DecoderOptions& options);

// The direct patch decoder behind `decoder` (ONNX export, feature-file decoding). Throws fresnel::Error saying
// that `what` needs a direct patch decoder and naming the decoder's kind otherwise.
DirectPatchDecoder as_direct_patch(const std::shared_ptr<GaussianDecoderImpl>& decoder, const std::string& what);

}  // namespace fresnel::decode
