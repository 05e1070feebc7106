#include "net/http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace fresnel::net {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

TransportError::Kind kind_of(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return TransportError::Kind::Connect;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportError::Kind::Timeout;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return TransportError::Kind::CutOff;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      return TransportError::Kind::Tls;
    case CURLE_WRITE_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
      return TransportError::Kind::Aborted;
    default:
      return TransportError::Kind::Other;
  }
}

const char* describe(TransportError::Kind kind) {
  switch (kind) {
    case TransportError::Kind::Connect:
      return "cannot connect";
    case TransportError::Kind::Timeout:
      return "timed out";
    case TransportError::Kind::CutOff:
      return "connection dropped before the reply was complete";
    case TransportError::Kind::Tls:
      return "TLS failure";
    case TransportError::Kind::Aborted:
      return "transfer aborted";
    case TransportError::Kind::Other:
      return "request failed";
  }
  return "request failed";
}

// State shared with the curl callbacks during one transfer.
struct Transfer {
  CURL* curl = nullptr;
  Response response;
  const StreamHandlers* stream = nullptr;  // null: buffer the body
  bool head_sent = false;
  bool aborted_by_handler = false;
  uint64_t last_progress = UINT64_MAX;
  ProgressCallback progress;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response.headers.clear();  // a new response (redirect hop, 100 Continue): keep only the final one's headers
  } else if (size_t colon = line.find(':'); colon != std::string::npos) {
    t->response.headers.emplace_back(lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (t->stream && status >= 200 && status < 300) {
    if (!t->head_sent) {
      t->head_sent = true;
      t->response.status = status;
      if (t->stream->on_head && !t->stream->on_head(t->response)) {
        t->aborted_by_handler = true;
        return 0;
      }
    }
    if (t->stream->on_body && !t->stream->on_body(data, n)) {
      t->aborted_by_handler = true;
      return 0;
    }
    return n;
  }
  t->response.body.append(data, n);
  return n;
}

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->progress && static_cast<uint64_t>(dlnow) != t->last_progress) {
    t->last_progress = static_cast<uint64_t>(dlnow);
    t->progress(static_cast<uint64_t>(dlnow), static_cast<uint64_t>(dltotal));
  }
  return 0;
}

}  // namespace

std::optional<std::string> Response::header(const std::string& name) const {
  const std::string key = lower(name);
  for (const auto& [k, v] : headers)
    if (k == key) return v;
  return std::nullopt;
}

struct HttpClient::Impl {
  CURL* curl = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {};

  Response perform(const Request& request, Transfer& transfer) {
    curl_easy_reset(curl);  // keeps the connection cache: the next request to the same host reuses the socket
    transfer.curl = curl;
    error_buffer[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "fresnel");
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, request.max_redirects);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout_s * 1000));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_s * 1000));
    if (request.low_speed_timeout_s > 0) {
      curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(std::max(1.0, request.low_speed_timeout_s)));
    }
    if (!request.bearer_token.empty()) {
      // Through curl's auth machinery: it is not sent on to another host after a redirect.
      curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
      curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, request.bearer_token.c_str());
    }

    curl_slist* headers = nullptr;
    for (const auto& [name, value] : request.headers)
      headers = curl_slist_append(headers, (name + ": " + value).c_str());
    const std::string method = request.method;
    if (method == "GET") {
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else {
      if (method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    if (transfer.progress) {
      curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
      curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
    }

    const CURLcode code = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
    curl_slist_free_all(headers);

    if (code != CURLE_OK) {
      TransportError::Kind kind = kind_of(code);
      std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
      if (transfer.aborted_by_handler) {
        kind = TransportError::Kind::Aborted;
        detail = "stopped by the receiver";
      }
      std::string message = method + " " + redact_url(request.url) + ": " + describe(kind) + " (" + detail + ")";
      throw TransportError(kind, redact(message, request.bearer_token));
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &transfer.response.status);
    char* effective = nullptr;
    curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective);
    if (effective) transfer.response.effective_url = effective;
    return std::move(transfer.response);
  }
};

HttpClient::HttpClient() : impl_(std::make_unique<Impl>()) {
  global_init_once();
  impl_->curl = curl_easy_init();
  if (!impl_->curl) throw Error("libcurl: curl_easy_init failed");
}

HttpClient::~HttpClient() { curl_easy_cleanup(impl_->curl); }

Response HttpClient::send(const Request& request, const ProgressCallback& progress) {
  Transfer transfer;
  transfer.progress = progress;
  return impl_->perform(request, transfer);
}

Response HttpClient::send_streaming(const Request& request, const StreamHandlers& handlers) {
  Transfer transfer;
  transfer.stream = &handlers;
  transfer.progress = handlers.on_progress;
  return impl_->perform(request, transfer);
}

void expect_ok(const Request& request, const Response& response) {
  if (response.ok()) return;
  std::string snippet = response.body.substr(0, 300);
  std::replace(snippet.begin(), snippet.end(), '\n', ' ');
  std::string message = "HTTP " + std::to_string(response.status) + " from " + request.method + " " +
                        redact_url(request.url) + (snippet.empty() ? "" : ": " + trim(snippet));
  throw StatusError(response.status, redact(message, request.bearer_token), response);
}

std::string redact_url(const std::string& url) {
  std::string out = url;
  if (size_t hash = out.find('#'); hash != std::string::npos) out.erase(hash);
  if (size_t query = out.find('?'); query != std::string::npos) out = out.substr(0, query) + "?…";
  const size_t scheme = out.find("://");
  const size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t path_start = out.find_first_of("/?", host_start);
  const size_t at = out.find('@', host_start);
  if (at != std::string::npos && (path_start == std::string::npos || at < path_start))
    out.erase(host_start, at + 1 - host_start);
  return out;
}

std::string redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3))
    text.replace(pos, secret.size(), "***");
  return text;
}

Request get(const std::string& url) {
  Request r;
  r.url = url;
  return r;
}

Request post_json(const std::string& url, const std::string& json_body) {
  Request r;
  r.method = "POST";
  r.url = url;
  r.body = json_body;
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

}  // namespace fresnel::net
