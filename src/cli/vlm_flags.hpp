// Flags shared by `fresnel vlm` and `fresnel preprocess`: the VLM server, model, timeout and fallback.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "guide/vlm_client.hpp"

namespace fresnel::cli {

// --vlm_url (with `url_alias`, e.g. the original's --url, when non-empty), --vlm_model, --vlm_timeout. The API key
// is read from FRESNEL_VLM_API_KEY when the command runs (never a flag: it would land in shell history and ps).
void add_vlm_client_flags(CLI::App* cmd, guide::VlmOptions& options, const std::string& url_alias = "");
// --vlm_fallback none|saliency.
void add_vlm_fallback_flag(CLI::App* cmd, std::string& fallback);

}  // namespace fresnel::cli
