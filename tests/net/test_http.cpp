// The HTTP client against a real loopback server: requests as sent, responses as received, and every fault mode.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "net/download.hpp"
#include "net/http.hpp"
#include "net/retry.hpp"
#include "testutil/loopback_server.hpp"
#include "testutil/testutil.hpp"

namespace fresnel::net {
namespace {

using test::closed_port;
using test::LoopbackServer;
using test::Reply;

// A policy that records its sleeps instead of sleeping.
struct FastPolicy {
  RetryPolicy policy;
  std::vector<double> slept;
  explicit FastPolicy(int attempts = 4) {
    policy.max_attempts = attempts;
    policy.initial_backoff_s = 0.5;
    policy.jitter = 0;
    policy.sleep = [this](double s) { slept.push_back(s); };
    policy.on_retry = nullptr;
  }
};

std::string make_bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  return s;
}

TEST(Http, GetReturnsStatusHeadersBodyAndSendsHeadersAndBearer) {
  LoopbackServer server;
  server.script("GET", "/v1/models", {[] {
                  Reply r = Reply::ok(R"({"data":[]})");
                  r.headers.emplace_back("X-Request-Id", "abc");
                  return r;
                }()});
  server.start();
  HttpClient client;
  Request req = get(server.url() + "/v1/models");
  req.headers.emplace_back("Accept", "application/json");
  req.bearer_token = "sk-secret-123";
  Response res = client.send(req);
  EXPECT_EQ(res.status, 200);
  EXPECT_TRUE(res.ok());
  EXPECT_EQ(res.body, R"({"data":[]})");
  EXPECT_EQ(res.header("x-request-id").value_or(""), "abc");
  EXPECT_EQ(res.header("Content-Type").value_or(""), "application/json");
  auto received = server.requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].header("Authorization"), "Bearer sk-secret-123");
  EXPECT_EQ(received[0].header("Accept"), "application/json");
}

TEST(Http, PostSendsTheBodyExactly) {
  LoopbackServer server;
  server.handle("POST", "/echo", [](const test::RecordedRequest& r) { return Reply::ok(r.body); });
  server.start();
  HttpClient client;
  const std::string body = R"({"model":"m","x":[1,2,3]})";
  Response res = client.send(post_json(server.url() + "/echo", body));
  EXPECT_EQ(res.body, body);
  auto received = server.requests();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].method, "POST");
  EXPECT_EQ(received[0].header("Content-Type"), "application/json");
  EXPECT_EQ(received[0].body, body);
}

TEST(Http, RefusedConnectionNamesTheUrlWithoutQueryOrToken) {
  HttpClient client;
  Request req = get("http://127.0.0.1:" + std::to_string(closed_port()) + "/api/models?token=qsecret");
  req.bearer_token = "sk-secret-123";
  try {
    client.send(req);
    FAIL() << "expected a TransportError";
  } catch (const TransportError& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.kind(), TransportError::Kind::Connect);
    EXPECT_NE(message.find("/api/models"), std::string::npos) << message;
    EXPECT_NE(message.find("cannot connect"), std::string::npos) << message;
    EXPECT_EQ(message.find("qsecret"), std::string::npos) << message;
    EXPECT_EQ(message.find("sk-secret"), std::string::npos) << message;
  }
}

TEST(Http, SlowReplyTimesOut) {
  LoopbackServer server;
  server.script("GET", "/slow", {Reply::slow(5.0, "late")});
  server.start();
  HttpClient client;
  Request req = get(server.url() + "/slow");
  req.timeout_s = 0.3;
  try {
    client.send(req);
    FAIL() << "expected a timeout";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.kind(), TransportError::Kind::Timeout) << e.what();
    EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos);
  }
}

TEST(Http, CutOffBodyIsAnErrorNotAShortReply) {
  LoopbackServer server;
  server.script("GET", "/blob", {Reply::cut_off(make_bytes(100000), 1000)});
  server.start();
  HttpClient client;
  try {
    client.send(get(server.url() + "/blob"));
    FAIL() << "expected a TransportError";
  } catch (const TransportError& e) {
    EXPECT_EQ(e.kind(), TransportError::Kind::CutOff) << e.what();
  }
}

TEST(Http, FollowsRedirects) {
  LoopbackServer server;
  server.script("GET", "/old", {Reply::redirect("/new")});
  server.script("GET", "/new", {Reply::ok("here")});
  server.start();
  HttpClient client;
  Response res = client.send(get(server.url() + "/old"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "here");
  EXPECT_EQ(res.effective_url, server.url() + "/new");
  Request no_follow = get(server.url() + "/old");
  no_follow.follow_redirects = false;
  EXPECT_EQ(client.send(no_follow).status, 302);
}

TEST(Retry, Honours429RetryAfterSeconds) {
  LoopbackServer server;
  server.script("GET", "/r", {Reply::too_many_requests("3"), Reply::ok("done")});
  server.start();
  HttpClient client;
  FastPolicy fast;
  Response res = send_with_retry(client, get(server.url() + "/r"), fast.policy);
  EXPECT_EQ(res.body, "done");
  EXPECT_EQ(server.request_count(), 2u);
  ASSERT_EQ(fast.slept.size(), 1u);
  EXPECT_DOUBLE_EQ(fast.slept[0], 3.0);
}

TEST(Retry, Honours429RetryAfterHttpDate) {
  LoopbackServer server;
  // 7 s after the injected clock's "now".
  server.script("GET", "/r", {Reply::too_many_requests("Sun, 06 Nov 1994 08:49:44 GMT"), Reply::ok("done")});
  server.start();
  HttpClient client;
  FastPolicy fast;
  fast.policy.now = [] { return static_cast<std::time_t>(784111777); };  // 08:49:37 GMT that day
  send_with_retry(client, get(server.url() + "/r"), fast.policy);
  ASSERT_EQ(fast.slept.size(), 1u);
  EXPECT_DOUBLE_EQ(fast.slept[0], 7.0);
}

TEST(Retry, ServerErrorThenSuccessBacksOffExponentially) {
  LoopbackServer server;
  server.script("POST", "/p", {Reply::error(500), Reply::error(503), Reply::ok("fine")});
  server.start();
  HttpClient client;
  FastPolicy fast;
  Response res = send_with_retry(client, post_json(server.url() + "/p", "{}"), fast.policy);
  EXPECT_EQ(res.body, "fine");
  EXPECT_EQ(server.request_count(), 3u);
  EXPECT_EQ(fast.slept, (std::vector<double>{0.5, 1.0}));
  for (const auto& r : server.requests()) EXPECT_EQ(r.body, "{}");  // the body is re-sent on each attempt
}

TEST(Retry, GivesUpAfterMaxAttemptsSayingHowMany) {
  LoopbackServer server;
  server.script("GET", "/down", {Reply::error(503, "overloaded")});
  server.start();
  HttpClient client;
  FastPolicy fast(3);
  try {
    send_with_retry(client, get(server.url() + "/down?sig=xyz"), fast.policy);
    FAIL();
  } catch (const StatusError& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.status(), 503);
    EXPECT_NE(message.find("HTTP 503"), std::string::npos) << message;
    EXPECT_NE(message.find("/down"), std::string::npos) << message;
    EXPECT_NE(message.find("overloaded"), std::string::npos) << message;
    EXPECT_NE(message.find("3 attempts"), std::string::npos) << message;
    EXPECT_EQ(message.find("xyz"), std::string::npos) << message;
  }
  EXPECT_EQ(server.request_count(), 3u);
  EXPECT_EQ(fast.slept.size(), 2u);
}

TEST(Retry, NoRetryOnOther4xx) {
  for (int status : {400, 401, 403, 404, 422}) {
    LoopbackServer server;
    server.script("GET", "/x", {Reply::error(status, "nope"), Reply::ok("never")});
    server.start();
    HttpClient client;
    FastPolicy fast;
    EXPECT_THROW(send_with_retry(client, get(server.url() + "/x"), fast.policy), StatusError) << status;
    EXPECT_EQ(server.request_count(), 1u) << status;
    EXPECT_TRUE(fast.slept.empty());
  }
}

TEST(Retry, RetriesRefusedConnectionsThenReportsThem) {
  HttpClient client;
  FastPolicy fast(3);
  try {
    send_with_retry(client, get("http://127.0.0.1:" + std::to_string(closed_port()) + "/"), fast.policy);
    FAIL();
  } catch (const TransportError& e) {
    EXPECT_EQ(e.kind(), TransportError::Kind::Connect);
    EXPECT_NE(std::string(e.what()).find("3 attempts"), std::string::npos) << e.what();
  }
  EXPECT_EQ(fast.slept, (std::vector<double>{0.5, 1.0}));
}

TEST(Retry, CutOffThenSuccess) {
  LoopbackServer server;
  const std::string body = make_bytes(50000);
  server.script("GET", "/c", {Reply::cut_off(body, 100), Reply::ok(body)});
  server.start();
  HttpClient client;
  FastPolicy fast;
  EXPECT_TRUE(send_with_retry(client, get(server.url() + "/c"), fast.policy).body == body);
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(Retry, TimeoutsAreRetriedOnlyWhenThePolicySaysSo) {
  LoopbackServer server;
  server.script("GET", "/slow", {Reply::slow(5.0, "late")});
  server.start();
  HttpClient client;
  Request req = get(server.url() + "/slow");
  req.timeout_s = 0.2;
  FastPolicy fast(3);
  fast.policy.retry_timeouts = false;
  EXPECT_THROW(send_with_retry(client, req, fast.policy), TransportError);
  EXPECT_TRUE(fast.slept.empty());
}

TEST(Retry, RefusesToWaitLongerThanTheCap) {
  LoopbackServer server;
  server.script("GET", "/r", {Reply::too_many_requests("86400")});
  server.start();
  HttpClient client;
  FastPolicy fast;
  fast.policy.max_retry_after_s = 60;
  try {
    send_with_retry(client, get(server.url() + "/r"), fast.policy);
    FAIL();
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status(), 429);
    EXPECT_NE(std::string(e.what()).find("86400 s"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fast.slept.empty());
}

TEST(Retry, BackoffIsExponentialCappedAndSeededJitterStaysInBounds) {
  RetryPolicy a(42), b(42);
  a.initial_backoff_s = b.initial_backoff_s = 1.0;
  a.max_backoff_s = b.max_backoff_s = 10.0;
  for (int attempt = 1; attempt <= 8; ++attempt) {
    const double da = a.backoff(attempt), db = b.backoff(attempt);
    EXPECT_DOUBLE_EQ(da, db);  // same seed, same delays
    const double base = std::min(10.0, std::pow(2.0, attempt - 1));
    EXPECT_GE(da, base * 0.75 - 1e-12);
    EXPECT_LE(da, std::min(10.0, base * 1.25) + 1e-12);
  }
  RetryPolicy c(7);
  c.jitter = 0;
  EXPECT_DOUBLE_EQ(c.backoff(1), 1.0);
  EXPECT_DOUBLE_EQ(c.backoff(3), 4.0);
}

TEST(Retry, RequestedWaitFromRateLimitHeaders) {
  Response r;
  r.headers = {{"ratelimit", "\"api\";r=0;t=42"}};
  EXPECT_EQ(requested_wait_s(r, 0).value_or(-1), 42.0);
  r.headers = {{"ratelimit", "limit=100, remaining=0, reset=9"}};
  EXPECT_EQ(requested_wait_s(r, 0).value_or(-1), 9.0);
  r.headers = {{"x-ratelimit-reset", "1700000030"}};
  EXPECT_EQ(requested_wait_s(r, 1700000000).value_or(-1), 30.0);
  r.headers = {{"retry-after", "soon"}};
  EXPECT_FALSE(requested_wait_s(r, 0).has_value());
  r.headers = {};
  EXPECT_FALSE(requested_wait_s(r, 0).has_value());
}

TEST(Redact, UrlLosesQueryAndCredentialsAndTextLosesTheToken) {
  EXPECT_EQ(redact_url("https://user:pw@host.org/a/b?X-Amz-Signature=abc#frag"), "https://host.org/a/b?…");
  EXPECT_EQ(redact_url("http://127.0.0.1:1234/v1/models"), "http://127.0.0.1:1234/v1/models");
  EXPECT_EQ(redact("Bearer tok and tok again", "tok"), "Bearer *** and *** again");
  EXPECT_EQ(redact("nothing", ""), "nothing");
}

TEST(Http, TokenEchoedByTheServerNeverReachesTheMessage) {
  LoopbackServer server;
  server.handle("GET", "/who", [](const test::RecordedRequest& r) {
    return Reply::error(401, "bad credentials: " + r.header("Authorization"));
  });
  server.start();
  HttpClient client;
  Request req = get(server.url() + "/who");
  req.bearer_token = "hf_abcdefSECRET";
  FastPolicy fast;
  try {
    send_with_retry(client, req, fast.policy);
    FAIL();
  } catch (const StatusError& e) {
    EXPECT_EQ(e.status(), 401);
    EXPECT_EQ(std::string(e.what()).find("SECRET"), std::string::npos) << e.what();
  }
}

// ---- streaming downloads ----

// Serves `body`; the first `cuts` replies stop after `cut_bytes` bytes. httplib itself answers "Range: bytes=N-"
// (slices the body, adds Content-Range) when the reply is the whole body with status 206.
LoopbackServer::Handler ranged_file(std::string body, int cuts, long cut_bytes) {
  auto remaining_cuts = std::make_shared<int>(cuts);
  return [body, remaining_cuts, cut_bytes](const test::RecordedRequest& r) {
    Reply reply = Reply::ok(body, "application/octet-stream");
    if (!r.header("Range").empty()) reply.status = 206;
    if (*remaining_cuts > 0) {
      --*remaining_cuts;
      reply.cut_after = cut_bytes;
    }
    return reply;
  };
}

// Compares without printing megabytes of binary on failure.
void expect_file_is(const std::string& path, const std::string& expected) {
  const std::string got = test::read_bytes(path);
  EXPECT_EQ(got.size(), expected.size()) << path;
  EXPECT_TRUE(got == expected) << path << ": contents differ";
}

TEST(Download, StreamsToFileWithMonotonicProgressAndNoLeftovers) {
  const std::string body = make_bytes(3 << 20);
  LoopbackServer server;
  server.handle("GET", "/file.bin", ranged_file(body, 0, 0));
  server.start();
  test::TempDir dir;
  const std::string dest = dir.file("sub/file.bin");
  HttpClient client;
  FastPolicy fast;
  uint64_t last = 0, calls = 0;
  bool monotonic = true;
  auto result =
      download_to_file(client, get(server.url() + "/file.bin"), dest, fast.policy, [&](uint64_t got, uint64_t total) {
        monotonic &= got >= last;
        last = got;
        ++calls;
        if (total) {
          EXPECT_EQ(total, body.size());
        }
      });
  EXPECT_EQ(result.bytes, body.size());
  EXPECT_EQ(result.attempts, 1);
  EXPECT_FALSE(result.resumed);
  expect_file_is(dest, body);
  EXPECT_FALSE(std::filesystem::exists(dest + ".part"));
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(last, body.size());
  EXPECT_GT(calls, 1u);
}

TEST(Download, ResumesACutOffTransferWithARangeRequest) {
  const std::string body = make_bytes(1 << 20);
  LoopbackServer server;
  server.handle("GET", "/file.bin", ranged_file(body, 2, 300000));
  server.start();
  test::TempDir dir;
  const std::string dest = dir.file("file.bin");
  HttpClient client;
  FastPolicy fast;
  auto result = download_to_file(client, get(server.url() + "/file.bin"), dest, fast.policy);
  expect_file_is(dest, body);
  EXPECT_EQ(result.attempts, 3);
  EXPECT_TRUE(result.resumed);
  auto received = server.requests();
  ASSERT_EQ(received.size(), 3u);
  EXPECT_EQ(received[0].header("Range"), "");
  EXPECT_EQ(received[1].header("Range"), "bytes=300000-");
  EXPECT_EQ(received[2].header("Range"), "bytes=600000-");
}

TEST(Download, ContinuesAPartFileLeftByAKilledRun) {
  const std::string body = make_bytes(200000);
  LoopbackServer server;
  server.handle("GET", "/file.bin", ranged_file(body, 0, 0));
  server.start();
  test::TempDir dir;
  const std::string dest = dir.file("file.bin");
  test::write_bytes(dest + ".part", body.substr(0, 12345));
  HttpClient client;
  FastPolicy fast;
  auto result = download_to_file(client, get(server.url() + "/file.bin"), dest, fast.policy);
  EXPECT_TRUE(result.resumed);
  expect_file_is(dest, body);
  EXPECT_EQ(server.requests().at(0).header("Range"), "bytes=12345-");
}

TEST(Download, FailureLeavesTheExistingFileUntouched) {
  LoopbackServer server;
  server.script("GET", "/file.bin", {Reply::error(404, "Entry not found")});
  server.start();
  test::TempDir dir;
  const std::string dest = dir.file("file.bin");
  test::write_bytes(dest, "old contents");
  HttpClient client;
  FastPolicy fast;
  EXPECT_THROW(download_to_file(client, get(server.url() + "/file.bin"), dest, fast.policy), StatusError);
  EXPECT_EQ(test::read_bytes(dest), "old contents");
  EXPECT_FALSE(std::filesystem::exists(dest + ".part"));
}

TEST(Download, GivingUpKeepsThePartFileForTheNextRun) {
  const std::string body = make_bytes(400000);
  LoopbackServer server;
  server.handle("GET", "/file.bin", ranged_file(body, 100, 1000));
  server.start();
  test::TempDir dir;
  const std::string dest = dir.file("file.bin");
  HttpClient client;
  FastPolicy fast(2);
  EXPECT_THROW(download_to_file(client, get(server.url() + "/file.bin"), dest, fast.policy), TransportError);
  EXPECT_FALSE(std::filesystem::exists(dest));
  EXPECT_EQ(std::filesystem::file_size(dest + ".part"), 2000u);
}

}  // namespace
}  // namespace fresnel::net
