// An LM-Studio-like OpenAI-compatible server on loopback for tests and benchmarks of the VLM client:
// GET /v1/models and POST /v1/chat/completions. Every chat request is checked (JSON shape of the original's request)
// and recorded decoded (model, max_tokens, temperature, prompt, image bytes from the data URL); replies come from a
// responder function; faults (5xx, 429, slow, cut-off) are queued in front of the normal replies.
// Header-only: link ${HTTPLIB_LIBRARY} and fresnel_guide (for base64_decode).
#pragma once
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "guide/vlm_client.hpp"
#include "testutil/loopback_server.hpp"

namespace fresnel::test {

struct ChatRequest {
  std::string model;
  int max_tokens = 0;
  double temperature = -1;
  std::string prompt;
  std::string mime;         // from the data URL
  std::string image_bytes;  // decoded from the data URL
  std::string authorization;
};

class FakeVlmServer {
 public:
  // prompt → reply content. The default answers a density prompt with a G×G grid of `grid_value`.
  using Responder = std::function<std::string(const ChatRequest&)>;

  explicit FakeVlmServer(std::string model_id = "qwen2-vl") : model_id_(std::move(model_id)) {
    server_.handle("GET", "/v1/models", [this](const RecordedRequest&) {
      nlohmann::json models = {{"object", "list"},
                               {"data", nlohmann::json::array({{{"id", model_id_}, {"object", "model"}}})}};
      return Reply::ok(models.dump());
    });
    server_.handle("POST", "/v1/chat/completions", [this](const RecordedRequest& r) { return chat(r); });
    server_.start();
  }

  ~FakeVlmServer() { server_.stop(); }  // before the members the handlers use go away
  FakeVlmServer(const FakeVlmServer&) = delete;
  FakeVlmServer& operator=(const FakeVlmServer&) = delete;

  std::string url() const { return server_.url() + "/v1/chat/completions"; }
  std::string base() const { return server_.url(); }
  LoopbackServer& loopback() { return server_; }

  void set_responder(Responder responder) {
    std::lock_guard<std::mutex> lock(mutex_);
    responder_ = std::move(responder);
  }
  // Replies served, in order, before the normal ones (one per chat request).
  void queue_faults(std::vector<Reply> faults) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& f : faults) faults_.push_back(std::move(f));
  }
  std::vector<ChatRequest> chats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return chats_;
  }
  size_t chat_count() const { return server_.request_count("/v1/chat/completions"); }
  // Requests that were not shaped like the original's (the reply was HTTP 400 with the reason).
  std::vector<std::string> rejected() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return rejected_;
  }

  // A G×G grid reply as a model writes it.
  static std::string grid_reply(int g, float value) {
    std::string s;
    char cell[16];
    for (int i = 0; i < g; ++i) {
      for (int j = 0; j < g; ++j) {
        std::snprintf(cell, sizeof cell, "%s%.1f", j ? " " : "", value);
        s += cell;
      }
      s += "\n";
    }
    return s;
  }
  // The grid size a density prompt asks for (0 when the prompt is another one).
  static int asked_grid(const std::string& prompt) {
    for (int g : {4, 8, 16})
      if (prompt.find("into a " + std::to_string(g) + "x" + std::to_string(g) + " grid") != std::string::npos) return g;
    return 0;
  }

 private:
  Reply chat(const RecordedRequest& r) {
    ChatRequest c;
    std::string problem = decode(r, c);
    Responder responder;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!problem.empty()) {
        rejected_.push_back(problem);
        return Reply::error(400, nlohmann::json({{"error", problem}}).dump());
      }
      chats_.push_back(c);
      if (!faults_.empty()) {
        Reply f = faults_.front();
        faults_.pop_front();
        return f;
      }
      responder = responder_;
    }
    // Outside the lock: requests are answered in parallel (as vLLM does; LM Studio answers one at a time).
    const std::string content =
        responder ? responder(c) : grid_reply(asked_grid(c.prompt) ? asked_grid(c.prompt) : 4, 0.5f);
    nlohmann::json reply = {
        {"id", "chatcmpl-test"},
        {"object", "chat.completion"},
        {"created", 1700000000},
        {"model", c.model},
        {"choices",
         nlohmann::json::array(
             {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}, {"finish_reason", "stop"}}})},
        {"usage", {{"prompt_tokens", 100}, {"completion_tokens", 20}, {"total_tokens", 120}}}};
    return Reply::ok(reply.dump());
  }

  // The original's request: {model, messages: [{role: user, content: [image_url, text]}], max_tokens, temperature}.
  static std::string decode(const RecordedRequest& r, ChatRequest& c) {
    c.authorization = r.header("Authorization");
    if (r.header("Content-Type").find("application/json") != 0) return "Content-Type is not application/json";
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return "body is not a JSON object";
    if (!j.contains("model") || !j["model"].is_string()) return "model missing";
    if (!j.contains("max_tokens") || !j["max_tokens"].is_number_integer()) return "max_tokens missing";
    if (!j.contains("temperature") || !j["temperature"].is_number()) return "temperature missing";
    c.model = j["model"];
    c.max_tokens = j["max_tokens"];
    c.temperature = j["temperature"];
    const auto& m = j.value("messages", nlohmann::json());
    if (!m.is_array() || m.size() != 1 || m[0].value("role", "") != "user") return "expected one user message";
    const auto& content = m[0].value("content", nlohmann::json());
    if (!content.is_array() || content.size() != 2) return "expected content [image_url, text]";
    if (content[0].value("type", "") != "image_url" || content[1].value("type", "") != "text")
      return "content parts must be image_url then text";
    const std::string url = content[0]["image_url"].value("url", "");
    const std::string marker = ";base64,";
    const size_t comma = url.find(marker);
    if (url.rfind("data:", 0) != 0 || comma == std::string::npos) return "image_url is not a base64 data URL";
    c.mime = url.substr(5, comma - 5);
    try {
      c.image_bytes = guide::base64_decode(url.substr(comma + marker.size()));
    } catch (const std::exception& e) {
      return std::string("bad base64: ") + e.what();
    }
    c.prompt = content[1].value("text", "");
    return "";
  }

  std::string model_id_;
  LoopbackServer server_;
  mutable std::mutex mutex_;
  Responder responder_;
  std::deque<Reply> faults_;
  std::vector<ChatRequest> chats_;
  std::vector<std::string> rejected_;
};

}  // namespace fresnel::test
