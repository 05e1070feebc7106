// HTTP over libcurl: requests, responses and the errors they raise. TLS verification is always on.
// One HttpClient per thread (it keeps one curl handle so connections are reused); clients are cheap to create.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace fresnel::net {

struct Request {
  std::string method = "GET";  // GET, POST, PUT, HEAD, DELETE
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers ("Name", "value")
  std::string body;                                          // sent as-is when non-empty (or method is POST/PUT)
  std::string bearer_token;  // sent as "Authorization: Bearer …"; never logged nor put in any error text
  double connect_timeout_s = 10;
  double timeout_s = 60;           // whole transfer; 0 = no limit (large downloads: use low_speed_timeout_s instead)
  double low_speed_timeout_s = 0;  // abort when under 1 byte/s for this long; 0 = off
  bool follow_redirects = true;
  long max_redirects = 10;
};

struct Response {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;          // of the final response; names lower-cased
  std::string body;                                                  // empty when streamed to a sink
  std::string effective_url;                                         // after redirects
  std::optional<std::string> header(const std::string& name) const;  // case-insensitive, first match
  bool ok() const { return status >= 200 && status < 300; }
};

// Called with each chunk of a streamed body; return false to abort the transfer.
using BodySink = std::function<bool(const char* data, size_t size)>;
// Called as bytes arrive: bytes of the body received so far, and the expected total (0 when unknown).
using ProgressCallback = std::function<void(uint64_t received, uint64_t total)>;

// What send_streaming does with a reply. Only a 2xx body goes to on_body; other bodies stay in Response::body.
struct StreamHandlers {
  std::function<bool(const Response& head)> on_head;  // status + headers of a 2xx reply, before its first body byte;
                                                      // false aborts. Not called for an empty body.
  BodySink on_body;
  ProgressCallback on_progress;
};

// A failure before a complete response arrived: refused/unreachable, DNS, TLS, timeout, cut-off body.
class TransportError : public Error {
 public:
  enum class Kind { Connect, Timeout, CutOff, Tls, Aborted, Other };
  TransportError(Kind kind, const std::string& message) : Error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// A complete response whose status is not 2xx (raised by expect_ok / send_with_retry).
class StatusError : public Error {
 public:
  StatusError(long status, const std::string& message, Response response)
      : Error(message), status_(status), response_(std::move(response)) {}
  long status() const { return status_; }
  const Response& response() const { return response_; }

 private:
  long status_;
  Response response_;
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One attempt. Returns any complete response (whatever its status); throws TransportError otherwise.
  Response send(const Request& request, const ProgressCallback& progress = nullptr);
  // Same, but a 2xx body goes to the handlers chunk by chunk (a non-2xx body is kept in Response::body for messages).
  Response send_streaming(const Request& request, const StreamHandlers& handlers);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Throws StatusError ("HTTP 404 from https://host/path: <start of body>") unless the response is 2xx.
void expect_ok(const Request& request, const Response& response);

// The URL for messages: query string and user:password removed ("https://host/p?…").
std::string redact_url(const std::string& url);
// `text` with every occurrence of `secret` replaced by "***" (no-op for an empty secret).
std::string redact(std::string text, const std::string& secret);

// Convenience constructors.
Request get(const std::string& url);
Request post_json(const std::string& url, const std::string& json_body);

}  // namespace fresnel::net
