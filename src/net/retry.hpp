// Retry policy: exponential backoff with seeded jitter on connection errors, timeouts, cut-off bodies, 429 (honouring
// Retry-After / RateLimit headers) and 5xx; no retry on other 4xx. The sleep is injectable so tests never wait.
#pragma once
#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <random>
#include <string>

#include "net/http.hpp"

namespace fresnel::net {

struct RetryEvent {
  int attempt = 0;     // the attempt that failed (1-based)
  double delay_s = 0;  // how long we wait before the next one
  std::string reason;  // "HTTP 503", "connection refused …" (URL redacted, no token)
};

class RetryPolicy {
 public:
  int max_attempts = 5;            // total attempts including the first
  double initial_backoff_s = 1.0;  // delay after the first failure
  double multiplier = 2.0;
  double max_backoff_s = 60.0;
  double jitter = 0.25;                       // delay × uniform(1 − jitter, 1 + jitter)
  double max_retry_after_s = 600;             // a server asking for longer than this: give up instead of waiting
  bool retry_timeouts = true;                 // a slow model may deserve one try only; callers can switch this off
  std::function<void(double seconds)> sleep;  // default: std::this_thread::sleep_for
  std::function<void(const RetryEvent&)> on_retry;  // default: log_warn
  std::function<std::time_t()> now;                 // default: std::time (for HTTP-date Retry-After)

  explicit RetryPolicy(uint64_t seed = 0x5eed);
  static RetryPolicy none();  // a single attempt

  // Whether a failure is worth another attempt.
  bool retryable(const TransportError& error) const;
  static bool retryable_status(long status) { return status == 429 || status >= 500; }
  // Backoff for the attempt that just failed (1-based), jitter included.
  double backoff(int attempt);

 private:
  std::mt19937_64 rng_;
};

// Seconds a response asks us to wait: Retry-After (delta-seconds or HTTP-date), else RateLimit "t=" / RateLimit-Reset /
// X-RateLimit-Reset (seconds, or an epoch time when larger than a day). nullopt when none parse.
std::optional<double> requested_wait_s(const Response& response, std::time_t now);

// Sends with the policy; returns the first 2xx response. Throws the last TransportError / StatusError when attempts run
// out, at once for non-retryable failures (messages name the URL without its query, never the token, and say how many
// attempts were made). For streaming, `before_attempt(request, attempt)` runs before every attempt (1-based): close or
// truncate the output, or set a Range header — the request is passed by reference.
Response send_with_retry(HttpClient& client, const Request& request, RetryPolicy& policy,
                         const ProgressCallback& progress = nullptr);
Response send_streaming_with_retry(HttpClient& client, Request& request, RetryPolicy& policy,
                                   const StreamHandlers& handlers,
                                   const std::function<void(Request&, int attempt)>& before_attempt);

}  // namespace fresnel::net
