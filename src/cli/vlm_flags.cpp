#include "cli/vlm_flags.hpp"

namespace fresnel::cli {

void add_vlm_client_flags(CLI::App* cmd, guide::VlmOptions& o, const std::string& url_alias) {
  cmd->add_option("--vlm_url" + (url_alias.empty() ? "" : "," + url_alias), o.url,
                  "OpenAI-compatible chat-completions endpoint (LM Studio, llama-server, Ollama /v1, vLLM); "
                  "…/v1/chat/completions, …/v1 or the server root. API key, if any: env " +
                      std::string(guide::kVlmApiKeyEnv))
      ->capture_default_str();
  cmd->add_option("--vlm_model", o.model,
                  "Model name sent with each request (LM Studio: the loaded model's id; Ollama: e.g. qwen2.5vl:7b)")
      ->capture_default_str();
  cmd->add_option("--vlm_timeout", o.timeout_s, "Seconds to wait for one VLM reply")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
}

void add_vlm_fallback_flag(CLI::App* cmd, std::string& fallback) {
  cmd->add_option("--vlm_fallback", fallback,
                  "Density without a VLM: 'saliency' = OpenCV Haar face/eye cascades (face blobs as --vlm_smart) or "
                  "spectral-residual saliency; used where the VLM gives no map, or alone without --use_vlm")
      ->check(CLI::IsMember({"none", "saliency"}))
      ->capture_default_str();
}

}  // namespace fresnel::cli
