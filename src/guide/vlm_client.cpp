#include "guide/vlm_client.hpp"

#include <opencv2/imgcodecs.hpp>

#include <cstdlib>
#include <nlohmann/json.hpp>

namespace fresnel::guide {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_png(const std::string& b) { return b.size() >= 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0; }
bool is_jpeg(const std::string& b) { return b.size() >= 3 && b.compare(0, 3, "\xff\xd8\xff") == 0; }

}  // namespace

std::string VlmOptions::api_key_from_env() {
  const char* key = std::getenv(kVlmApiKeyEnv);
  return key ? key : "";
}

VlmEndpoints vlm_endpoints(const std::string& url) {
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (ends_with(base, "/chat/completions")) base.resize(base.size() - std::string("/chat/completions").size());
  if (!ends_with(base, "/v1")) base += "/v1";
  return {base + "/chat/completions", base + "/models"};
}

std::string base64_encode(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    const bool two = i + 1 < in.size();
    const uint32_t v = (uint8_t(in[i]) << 16) | (two ? uint8_t(in[i + 1]) << 8 : 0);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += two ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_decode(const std::string& text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) throw Error("base64: length " + std::to_string(text.size()) + " is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if (pad > 0 || (v[k] = value(c)) < 0) {
        throw Error("base64: invalid character at offset " + std::to_string(i + k));
      }
    }
    const uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += char(n >> 16);
    if (pad < 2) out += char((n >> 8) & 0xff);
    if (pad < 1) out += char(n & 0xff);
  }
  return out;
}

EncodedImage encode_for_vlm(const std::string& bytes, const std::string& name) {
  if (is_png(bytes)) return {bytes, "image/png"};
  if (is_jpeg(bytes)) return {bytes, "image/jpeg"};
  // WebP, BMP, …: the original labelled everything that is not JPEG as PNG; we send real PNG bytes instead.
  std::vector<uchar> raw(bytes.begin(), bytes.end());
  cv::Mat image = cv::imdecode(raw, cv::IMREAD_COLOR);
  if (image.empty()) throw file_error(name, "not a readable image");
  std::vector<uchar> png;
  if (!cv::imencode(".png", image, png)) throw file_error(name, "cannot re-encode as PNG for the VLM");
  return {std::string(png.begin(), png.end()), "image/png"};
}

std::string chat_request_json(const std::string& model, const EncodedImage& image, const Prompt& prompt,
                              double temperature) {
  nlohmann::json content = nlohmann::json::array();
  content.push_back({{"type", "image_url"},
                     {"image_url", {{"url", "data:" + image.mime + ";base64," + base64_encode(image.bytes)}}}});
  content.push_back({{"type", "text"}, {"text", prompt.text}});
  nlohmann::json body = {{"model", model},
                         {"messages", nlohmann::json::array({{{"role", "user"}, {"content", content}}})},
                         {"max_tokens", prompt.max_tokens},
                         {"temperature", temperature}};
  return body.dump();
}

std::string chat_reply_content(const std::string& body, const std::string& url) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  const std::string where = "VLM reply from " + net::redact_url(url);
  if (j.is_discarded()) throw Error(where + " is not valid JSON: " + body.substr(0, 120));
  if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() || j["choices"].empty() ||
      !j["choices"][0].is_object() || !j["choices"][0].contains("message") || !j["choices"][0]["message"].is_object())
    throw Error(where + " has no choices[0].message: " + body.substr(0, 120));
  const auto& content = j["choices"][0]["message"]["content"];
  if (content.is_string()) return content.get<std::string>();
  if (content.is_array()) {  // some servers return content parts
    std::string text;
    for (const auto& part : content)
      if (part.is_object() && part.contains("text") && part["text"].is_string())
        text += part["text"].get<std::string>();
    return text;
  }
  throw Error(where + ": choices[0].message.content is not text");
}

VlmClient::VlmClient(VlmOptions options) : options_(std::move(options)), endpoints_(vlm_endpoints(options_.url)) {
  policy_.max_attempts = options_.max_attempts;
  policy_.retry_timeouts = false;  // a model slower than --vlm_timeout will be as slow next time
}

void VlmClient::check_connection() {
  net::Request request = net::get(endpoints_.models);
  request.bearer_token = options_.api_key;
  request.connect_timeout_s = 5;
  request.timeout_s = 5;
  const std::string advice =
      ": start LM Studio's local server (Developer tab → Start Server, default http://localhost:1234) with a vision "
      "model loaded, or another OpenAI-compatible server (llama-server, Ollama, vLLM; see docs/vlm.md), then check "
      "`curl " +
      endpoints_.models + "`";
  net::Response response;
  try {
    response = http_.send(request);
  } catch (const net::TransportError& e) {
    throw VlmUnavailable("Cannot connect to VLM at " + net::redact_url(options_.url) + advice + " (" + e.what() + ")");
  }
  if (response.status == 401 || response.status == 403)
    throw VlmUnavailable("VLM at " + net::redact_url(options_.url) + " refused the request (HTTP " +
                         std::to_string(response.status) + "): set " + kVlmApiKeyEnv + " to a valid API key");
  if (!response.ok())
    throw VlmUnavailable("Cannot connect to VLM at " + net::redact_url(options_.url) + advice + " (GET " +
                         net::redact_url(endpoints_.models) + " answered HTTP " + std::to_string(response.status) +
                         ")");
}

std::string VlmClient::ask(const EncodedImage& image, const Prompt& prompt) {
  net::Request request =
      net::post_json(endpoints_.chat, chat_request_json(options_.model, image, prompt, options_.temperature));
  request.bearer_token = options_.api_key;
  request.timeout_s = options_.timeout_s;
  request.connect_timeout_s = std::min(10.0, options_.timeout_s);
  const net::Response response = net::send_with_retry(http_, request, policy_);
  return chat_reply_content(response.body, endpoints_.chat);
}

}  // namespace fresnel::guide
