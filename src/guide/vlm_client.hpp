// OpenAI-compatible chat client for vision models (LM Studio, llama-server, Ollama /v1, vLLM, hosted APIs): one user
// message with the image as a data URL and the text prompt; the reply is choices[0].message.content.
#pragma once
#include <optional>
#include <string>

#include "core/error.hpp"
#include "guide/vlm_prompts.hpp"
#include "net/http.hpp"
#include "net/retry.hpp"

namespace fresnel::guide {

inline constexpr const char* kDefaultVlmUrl = "http://localhost:1234/v1/chat/completions";  // the original's default
inline constexpr const char* kDefaultVlmModel = "qwen2-vl";                                 // the original's default
inline constexpr const char* kVlmApiKeyEnv = "FRESNEL_VLM_API_KEY";

struct VlmOptions {
  std::string url = kDefaultVlmUrl;  // …/v1/chat/completions, …/v1 or the server root
  std::string model = kDefaultVlmModel;
  double timeout_s = 60;     // per request (the original's 60 s)
  std::string api_key;       // Bearer token; never logged
  int max_attempts = 4;      // retries on refused connections, 429, 5xx, cut-off replies
  double temperature = 0.1;  // the original's value
  // Reads the API key from FRESNEL_VLM_API_KEY (empty when unset).
  static std::string api_key_from_env();
};

// The two endpoints derived from --vlm_url.
struct VlmEndpoints {
  std::string chat;    // POST …/v1/chat/completions
  std::string models;  // GET  …/v1/models
};
VlmEndpoints vlm_endpoints(const std::string& url);

// The server is not reachable or refuses us (the troubleshooting message is in what()).
class VlmUnavailable : public Error {
 public:
  using Error::Error;
};

// The image as the request carries it: PNG or JPEG bytes (other formats are re-encoded to PNG).
struct EncodedImage {
  std::string bytes;
  std::string mime;  // image/png or image/jpeg
};
EncodedImage encode_for_vlm(const std::string& file_bytes, const std::string& name_for_errors);
std::string base64_encode(const std::string& bytes);
std::string base64_decode(const std::string& text);  // throws fresnel::Error on invalid input

// The request body of the original (§8).
std::string chat_request_json(const std::string& model, const EncodedImage& image, const Prompt& prompt,
                              double temperature);
// choices[0].message.content of a reply body; throws fresnel::Error (naming `url`) when malformed.
std::string chat_reply_content(const std::string& body, const std::string& url);

// One client per thread (it owns one HTTP connection).
class VlmClient {
 public:
  explicit VlmClient(VlmOptions options);
  // GET …/models within 5 s, one attempt. Throws VlmUnavailable with the seed's troubleshooting text.
  void check_connection();
  // One chat completion. Throws net::TransportError / net::StatusError (after retries) or Error (bad reply).
  std::string ask(const EncodedImage& image, const Prompt& prompt);
  const VlmOptions& options() const { return options_; }
  const VlmEndpoints& endpoints() const { return endpoints_; }
  // Replaces the retry policy (tests: an injected sleep).
  void set_retry_policy(const net::RetryPolicy& policy) { policy_ = policy; }

 private:
  VlmOptions options_;
  VlmEndpoints endpoints_;
  net::HttpClient http_;
  net::RetryPolicy policy_;
};

}  // namespace fresnel::guide
