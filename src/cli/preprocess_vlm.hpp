// The VLM part of `fresnel preprocess` (--use_vlm, --vlm_fallback …): {stem}_vlm_density.npy beside the features.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "encode/preprocess.hpp"
#include "guide/vlm_client.hpp"

namespace fresnel::cli {

struct PreprocessVlmFlags {
  bool use_vlm = false;
  int grid_size = 8;
  bool smart = false;
  int concurrency = 1;
  bool required = false;
  std::string fallback = "none";
  guide::VlmOptions vlm;
  bool wanted() const { return use_vlm || fallback != "none"; }
};

void add_preprocess_vlm_flags(CLI::App* cmd, PreprocessVlmFlags& flags);
// Writes the maps for the shard's images, prints counts and the images left without a map. Throws fresnel::Error
// when --vlm_required and some image got none (or the server is down).
void run_preprocess_vlm(const encode::PreprocessOptions& options, PreprocessVlmFlags flags);

}  // namespace fresnel::cli
