#include "net/retry.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <regex>
#include <thread>

#include "core/log.hpp"

namespace fresnel::net {
namespace {

std::optional<double> parse_seconds(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789. ") != std::string::npos) return std::nullopt;
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// A reset value: seconds from now, or an epoch time (some servers send that) when implausibly large for a delay.
double reset_to_wait(double value, std::time_t now) {
  constexpr double kOneYear = 365.0 * 86400.0;
  return value > kOneYear ? std::max(0.0, value - static_cast<double>(now)) : value;
}

std::string with_attempts(const std::string& message, int attempts) {
  return attempts > 1 ? message + " (gave up after " + std::to_string(attempts) + " attempts)" : message;
}

// The loop shared by the buffered and streaming senders; `attempt_once(attempt)` makes one request.
template <typename AttemptFn>
Response retry_loop(const Request& request, RetryPolicy& policy, AttemptFn attempt_once) {
  for (int attempt = 1;; ++attempt) {
    RetryEvent event;
    event.attempt = attempt;
    try {
      Response response = attempt_once(attempt);
      if (response.ok()) return response;
      const bool last = attempt >= policy.max_attempts;
      if (!RetryPolicy::retryable_status(response.status) || last) {
        try {
          expect_ok(request, response);
        } catch (const StatusError& e) {
          throw StatusError(e.status(), with_attempts(e.what(), attempt), e.response());
        }
      }
      event.delay_s = policy.backoff(attempt);
      if (auto wait = requested_wait_s(response, policy.now())) {
        if (*wait > policy.max_retry_after_s) {
          throw StatusError(response.status,
                            "HTTP " + std::to_string(response.status) + " from " + request.method + " " +
                                redact_url(request.url) + ": the server asks to wait " +
                                std::to_string(static_cast<long>(*wait)) + " s (more than the " +
                                std::to_string(static_cast<long>(policy.max_retry_after_s)) + " s we wait); try later",
                            response);
        }
        event.delay_s = *wait;
      }
      event.reason = "HTTP " + std::to_string(response.status) + " from " + redact_url(request.url);
    } catch (const TransportError& e) {
      if (!policy.retryable(e) || attempt >= policy.max_attempts) {
        throw TransportError(e.kind(), with_attempts(e.what(), attempt));
      }
      event.delay_s = policy.backoff(attempt);
      event.reason = e.what();
    }
    if (policy.on_retry) policy.on_retry(event);
    policy.sleep(event.delay_s);
  }
}

}  // namespace

RetryPolicy::RetryPolicy(uint64_t seed) : rng_(seed) {
  sleep = [](double seconds) {
    if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  };
  on_retry = [](const RetryEvent& e) {
    char delay[32];
    std::snprintf(delay, sizeof delay, "%.1f", e.delay_s);
    log_warn(e.reason + "; retrying in " + delay + " s (attempt " + std::to_string(e.attempt + 1) + ")");
  };
  now = [] { return std::time(nullptr); };
}

RetryPolicy RetryPolicy::none() {
  RetryPolicy p;
  p.max_attempts = 1;
  return p;
}

bool RetryPolicy::retryable(const TransportError& error) const {
  switch (error.kind()) {
    case TransportError::Kind::Connect:
    case TransportError::Kind::CutOff:
      return true;
    case TransportError::Kind::Timeout:
      return retry_timeouts;
    default:
      return false;
  }
}

double RetryPolicy::backoff(int attempt) {
  double base = initial_backoff_s * std::pow(multiplier, std::max(0, attempt - 1));
  base = std::min(base, max_backoff_s);
  std::uniform_real_distribution<double> spread(1.0 - jitter, 1.0 + jitter);
  return std::min(max_backoff_s, std::max(0.0, base * spread(rng_)));
}

std::optional<double> requested_wait_s(const Response& response, std::time_t now) {
  if (auto retry_after = response.header("retry-after")) {
    if (auto seconds = parse_seconds(*retry_after)) return *seconds;
    const std::time_t when = curl_getdate(retry_after->c_str(), nullptr);  // HTTP-date (RFC 9110 §10.2.3)
    if (when != -1) return std::max(0.0, static_cast<double>(when - now));
  }
  // IETF draft RateLimit header ("\"default\";r=0;t=42" or "limit=10, remaining=0, reset=42").
  if (auto ratelimit = response.header("ratelimit")) {
    static const std::regex kReset(R"((?:^|[;,\s])(?:t|reset)=(\d+))");
    std::smatch m;
    if (std::regex_search(*ratelimit, m, kReset)) return reset_to_wait(std::stod(m[1].str()), now);
  }
  for (const char* name : {"ratelimit-reset", "x-ratelimit-reset"}) {
    if (auto value = response.header(name))
      if (auto seconds = parse_seconds(*value)) return reset_to_wait(*seconds, now);
  }
  return std::nullopt;
}

Response send_with_retry(HttpClient& client, const Request& request, RetryPolicy& policy,
                         const ProgressCallback& progress) {
  return retry_loop(request, policy, [&](int) { return client.send(request, progress); });
}

Response send_streaming_with_retry(HttpClient& client, Request& request, RetryPolicy& policy,
                                   const StreamHandlers& handlers,
                                   const std::function<void(Request&, int attempt)>& before_attempt) {
  return retry_loop(request, policy, [&](int attempt) {
    if (before_attempt) before_attempt(request, attempt);
    return client.send_streaming(request, handlers);
  });
}

}  // namespace fresnel::net
