// The VLM client and the density batch against an LM-Studio-like server on loopback: what goes over the wire, and
// every fault mode (refused, 500 then success, 429 + Retry-After, slower than the timeout, dropped mid-body,
// malformed JSON, a reply that is not a grid) with its message, counts, files and policy.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/image_io.hpp"
#include "core/npy.hpp"
#include "guide/density_batch.hpp"
#include "testutil/fake_vlm_server.hpp"
#include "testutil/testutil.hpp"

namespace fresnel::guide {
namespace {

namespace fs = std::filesystem;
using test::FakeVlmServer;
using test::Reply;

// A small real PNG, different per seed.
std::string png_bytes(const test::TempDir& dir, const std::string& name, int seed) {
  torch::manual_seed(seed);
  const std::string path = dir.file(name);
  save_image(path, torch::rand({12, 16, 3}));
  return test::read_bytes(path);
}

VlmOptions options_for(const FakeVlmServer& server) {
  VlmOptions o;
  o.url = server.url();
  o.model = "test-model";
  o.timeout_s = 5;
  return o;
}

// A client whose retries do not sleep; the waits are recorded.
struct TestClient {
  VlmClient client;
  std::vector<double> slept;
  explicit TestClient(const VlmOptions& o) : client(o) {
    net::RetryPolicy p;
    p.max_attempts = o.max_attempts;
    p.retry_timeouts = false;
    p.sleep = [this](double s) { slept.push_back(s); };
    p.on_retry = nullptr;
    client.set_retry_policy(p);
  }
};

TEST(VlmClient, SendsTheOriginalsRequestAndReturnsTheContent) {
  FakeVlmServer server;
  server.set_responder([](const test::ChatRequest&) { return "hello from the model"; });
  test::TempDir dir;
  const std::string bytes = png_bytes(dir, "a.png", 1);
  auto o = options_for(server);
  o.api_key = "sk-test-key";
  TestClient c(o);
  const auto image = encode_for_vlm(bytes, "a.png");
  EXPECT_EQ(c.client.ask(image, density_prompt(8)), "hello from the model");
  EXPECT_TRUE(server.rejected().empty()) << server.rejected().front();
  const auto chats = server.chats();
  ASSERT_EQ(chats.size(), 1u);
  EXPECT_EQ(chats[0].model, "test-model");
  EXPECT_EQ(chats[0].max_tokens, 512);
  EXPECT_DOUBLE_EQ(chats[0].temperature, 0.1);
  EXPECT_EQ(chats[0].mime, "image/png");
  EXPECT_TRUE(chats[0].image_bytes == bytes) << "the data URL must decode to the image file's bytes";
  EXPECT_EQ(chats[0].prompt, density_prompt(8).text);
  EXPECT_EQ(chats[0].authorization, "Bearer sk-test-key");
}

TEST(VlmClient, JpegIsSentAsJpegAndOtherFormatsAsPng) {
  test::TempDir dir;
  const std::string png = png_bytes(dir, "a.png", 2);
  save_image(dir.file("a.jpg"), torch::rand({8, 8, 3}));
  EXPECT_EQ(encode_for_vlm(test::read_bytes(dir.file("a.jpg")), "a.jpg").mime, "image/jpeg");
  save_image(dir.file("a.bmp"), torch::rand({8, 8, 3}));
  const auto bmp = encode_for_vlm(test::read_bytes(dir.file("a.bmp")), "a.bmp");
  EXPECT_EQ(bmp.mime, "image/png");
  EXPECT_EQ(bmp.bytes.compare(0, 4, "\x89PNG"), 0);
  EXPECT_THROW(encode_for_vlm("not an image", "x.webp"), Error);
}

TEST(VlmClient, Base64RoundTripAndRejectsGarbage) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
  EXPECT_EQ(base64_encode("Man"), "TWFu");
  EXPECT_EQ(base64_encode("Ma"), "TWE=");
  EXPECT_THROW(base64_decode("TWF"), Error);
  EXPECT_THROW(base64_decode("TW!u"), Error);
}

TEST(VlmClient, EndpointsFromAnyFormOfTheUrl) {
  for (const std::string url :
       {"http://h:1234/v1/chat/completions", "http://h:1234/v1", "http://h:1234/", "http://h:1234"}) {
    const auto e = vlm_endpoints(url);
    EXPECT_EQ(e.chat, "http://h:1234/v1/chat/completions") << url;
    EXPECT_EQ(e.models, "http://h:1234/v1/models") << url;
  }
  EXPECT_EQ(vlm_endpoints("https://api.example.com/v1/").chat, "https://api.example.com/v1/chat/completions");
}

TEST(VlmClient, RefusedConnectionGivesTheSeedsTroubleshootingMessage) {
  VlmOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/v1/chat/completions";
  try {
    VlmClient(o).check_connection();
    FAIL();
  } catch (const VlmUnavailable& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("Cannot connect to VLM at " + o.url), std::string::npos) << m;
    EXPECT_NE(m.find("LM Studio"), std::string::npos) << m;
    EXPECT_NE(m.find("/v1/models"), std::string::npos) << m;
  }
}

TEST(VlmClient, ConnectionCheckPassesAndRejectsABadKey) {
  FakeVlmServer server;
  EXPECT_NO_THROW(VlmClient(options_for(server)).check_connection());
  test::LoopbackServer hosted;
  hosted.script("GET", "/v1/models", {Reply::error(401, "{\"error\":\"invalid api key sk-bad\"}")});
  hosted.start();
  VlmOptions o;
  o.url = hosted.url() + "/v1";
  o.api_key = "sk-bad";
  try {
    VlmClient(o).check_connection();
    FAIL();
  } catch (const VlmUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("FRESNEL_VLM_API_KEY"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("sk-bad"), std::string::npos) << e.what();
  }
}

TEST(VlmClient, ServerErrorThenSuccess) {
  FakeVlmServer server;
  server.queue_faults({Reply::error(500, "model crashed")});
  test::TempDir dir;
  TestClient c(options_for(server));
  const auto reply = c.client.ask(encode_for_vlm(png_bytes(dir, "a.png", 3), "a.png"), density_prompt(4));
  EXPECT_EQ(parse_density_grid(reply, 4).value(), std::vector<float>(16, 0.5f));
  EXPECT_EQ(server.chat_count(), 2u);
  EXPECT_EQ(c.slept.size(), 1u);
}

TEST(VlmClient, TooManyRequestsWaitsAsAsked) {
  FakeVlmServer server;
  server.queue_faults({Reply::too_many_requests("7")});
  test::TempDir dir;
  TestClient c(options_for(server));
  c.client.ask(encode_for_vlm(png_bytes(dir, "a.png", 4), "a.png"), density_prompt(4));
  EXPECT_EQ(c.slept, std::vector<double>{7.0});
  EXPECT_EQ(server.chat_count(), 2u);
}

TEST(VlmClient, ReplySlowerThanTheTimeoutFailsOnceWithAClearMessage) {
  FakeVlmServer server;
  server.queue_faults({Reply::slow(5.0, "{}")});
  test::TempDir dir;
  auto o = options_for(server);
  o.timeout_s = 0.3;
  TestClient c(o);
  try {
    c.client.ask(encode_for_vlm(png_bytes(dir, "a.png", 5), "a.png"), density_prompt(4));
    FAIL();
  } catch (const net::TransportError& e) {
    EXPECT_EQ(e.kind(), net::TransportError::Kind::Timeout);
    EXPECT_NE(std::string(e.what()).find("/v1/chat/completions"), std::string::npos) << e.what();
  }
  EXPECT_EQ(server.chat_count(), 1u);  // a slow model is not asked again
}

TEST(VlmClient, DroppedConnectionMidBodyIsRetried) {
  FakeVlmServer server;
  server.queue_faults({Reply::cut_off(std::string(2000, 'x'), 100)});
  test::TempDir dir;
  TestClient c(options_for(server));
  const auto reply = c.client.ask(encode_for_vlm(png_bytes(dir, "a.png", 6), "a.png"), density_prompt(4));
  EXPECT_TRUE(parse_density_grid(reply, 4).has_value());
  EXPECT_EQ(server.chat_count(), 2u);
}

TEST(VlmClient, MalformedJsonReplyIsAClearError) {
  FakeVlmServer server;
  server.queue_faults({Reply::ok("{\"choices\": [ {\"message\": "), Reply::ok("{\"choices\": []}")});
  test::TempDir dir;
  TestClient c(options_for(server));
  const auto image = encode_for_vlm(png_bytes(dir, "a.png", 7), "a.png");
  try {
    c.client.ask(image, density_prompt(4));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
  try {
    c.client.ask(image, density_prompt(4));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("choices[0].message"), std::string::npos) << e.what();
  }
}

TEST(VlmDensity, NonGridReplyGivesNoGridAndNamesTheFirstLine) {
  FakeVlmServer server;
  server.set_responder([](const test::ChatRequest&) { return "I cannot rate this image.\nIt is too dark."; });
  test::TempDir dir;
  TestClient c(options_for(server));
  const ReplyCache cache(dir.file("cache"));
  VlmDensity d(c.client, cache, 8, false);
  const auto r = d.compute(encode_for_vlm(png_bytes(dir, "a.png", 8), "a.png"));
  EXPECT_FALSE(r.grid.has_value());
  EXPECT_NE(r.problem.find("not a 8x8 grid"), std::string::npos) << r.problem;
  EXPECT_NE(r.problem.find("I cannot rate this image."), std::string::npos) << r.problem;
  EXPECT_EQ(r.problem.find("too dark"), std::string::npos) << r.problem;
  EXPECT_EQ(r.requests, 1);
}

TEST(VlmDensity, CachedRepliesAreNotAskedAgain) {
  FakeVlmServer server;
  test::TempDir dir;
  TestClient c(options_for(server));
  const ReplyCache cache(dir.file("cache"));
  VlmDensity d(c.client, cache, 8, false);
  const auto image = encode_for_vlm(png_bytes(dir, "a.png", 9), "a.png");
  EXPECT_EQ(d.compute(image).requests, 1);
  const auto again = d.compute(image);
  EXPECT_EQ(again.requests, 0);
  EXPECT_EQ(again.grid.value(), std::vector<float>(64, 0.5f));
  EXPECT_EQ(server.chat_count(), 1u);
  // Another grid size, model or image is another key.
  VlmDensity d4(c.client, cache, 4, false);
  EXPECT_EQ(d4.compute(image).requests, 1);
  EXPECT_EQ(d.compute(encode_for_vlm(png_bytes(dir, "b.png", 10), "b.png")).requests, 1);
  EXPECT_NE(ReplyCache::key(image, density_prompt(8), "m1", 8), ReplyCache::key(image, density_prompt(8), "m2", 8));
}

TEST(VlmDensity, SmartModeFaceUsesLandmarkBlobs) {
  FakeVlmServer server;
  server.set_responder([](const test::ChatRequest& c) -> std::string {
    if (c.max_tokens == 10) return "Face";
    if (c.prompt.find("contains a face") != std::string::npos)
      return "{\"left_eye\": [0.25, 0.25, 1.0], \"right_eye\": [0.75, 0.25, 1.0], \"mouth\": [0.5, 0.8, 0.9]}";
    return FakeVlmServer::grid_reply(8, 0.1f);
  });
  test::TempDir dir;
  TestClient c(options_for(server));
  const ReplyCache cache;
  VlmDensity d(c.client, cache, 8, /*smart=*/true);
  const auto r = d.compute(encode_for_vlm(png_bytes(dir, "a.png", 11), "a.png"));
  ASSERT_TRUE(r.grid.has_value());
  EXPECT_EQ(r.method, "face landmarks");
  EXPECT_EQ(r.requests, 2);
  const auto expected = zoom_bilinear(
      landmarks_to_density({{"left_eye", 0.25, 0.25, 1.0}, {"right_eye", 0.75, 0.25, 1.0}, {"mouth", 0.5, 0.8, 0.9}}),
      256, 8);
  EXPECT_EQ(*r.grid, expected);
  const auto chats = server.chats();
  ASSERT_EQ(chats.size(), 2u);
  EXPECT_EQ(chats[0].prompt, image_type_prompt().text);
  EXPECT_EQ(chats[1].prompt, face_landmarks_prompt().text);
}

TEST(VlmDensity, SmartModeFallsBackToGridForObjectsAndBadLandmarks) {
  for (const std::string type_reply : {"object", "face"}) {
    FakeVlmServer server;
    server.set_responder([&](const test::ChatRequest& c) -> std::string {
      if (c.max_tokens == 10) return type_reply;
      if (c.prompt.find("contains a face") != std::string::npos) return "I see a face but cannot locate it.";
      return FakeVlmServer::grid_reply(4, 0.3f);
    });
    test::TempDir dir;
    TestClient c(options_for(server));
    const ReplyCache cache;
    VlmDensity d(c.client, cache, 4, true);
    const auto r = d.compute(encode_for_vlm(png_bytes(dir, "a.png", 12), "a.png"));
    ASSERT_TRUE(r.grid.has_value()) << type_reply;
    EXPECT_EQ(r.method, "grid");
    EXPECT_EQ(*r.grid, std::vector<float>(16, 0.3f));
    EXPECT_EQ(server.chat_count(), type_reply == "face" ? 3u : 2u);
  }
}

// ---- the batch behind preprocess --use_vlm ----

struct BatchFixture {
  test::TempDir dir;
  std::vector<std::string> images;
  BatchFixture() {
    fs::create_directories(dir.file("img"));
    for (int i = 0; i < 3; ++i) {
      images.push_back(dir.file("img/im" + std::to_string(i) + ".png"));
      torch::manual_seed(100 + i);
      save_image(images.back(), torch::rand({10, 10, 3}));
    }
  }
  DensityBatchOptions options(const std::string& url) const {
    DensityBatchOptions o;
    o.images = images;
    o.out_dir = dir.file("features");
    o.grid_size = 4;
    o.use_vlm = true;
    o.vlm.url = url;
    o.vlm.max_attempts = 1;
    o.progress = false;
    return o;
  }
  std::string map(int i) const { return dir.file("features/im" + std::to_string(i) + "_vlm_density.npy"); }
  // Files in features/ other than the maps and the cache folder (temporary leftovers).
  std::vector<std::string> stray_files() const {
    std::vector<std::string> out;
    if (!fs::exists(dir.file("features"))) return out;
    for (const auto& e : fs::directory_iterator(dir.file("features"))) {
      const std::string name = e.path().filename().string();
      if (name != "vlm_cache" && name.find("_vlm_density.npy") == std::string::npos) out.push_back(name);
    }
    return out;
  }
};

TEST(DensityBatch, WritesMapsSkipsThemNextTimeAndAsksNothingTwice) {
  FakeVlmServer server;
  // Each image gets its own value, so maps cannot be swapped between images.
  server.set_responder([](const test::ChatRequest& c) {
    return FakeVlmServer::grid_reply(4, 0.1f + 0.1f * static_cast<float>(c.image_bytes.size() % 7));
  });
  BatchFixture f;
  auto o = f.options(server.url());
  o.concurrency = 2;
  const auto s = run_density_batch(o);
  EXPECT_EQ(s.from_vlm, 3);
  EXPECT_EQ(s.requests, 3);
  EXPECT_TRUE(s.without_map.empty());
  for (int i = 0; i < 3; ++i) {
    auto m = load_npy(f.map(i));
    EXPECT_EQ(m.scalar_type(), torch::kFloat);
    EXPECT_EQ(m.sizes(), (torch::IntArrayRef{4, 4}));
    const float expected = 0.1f + 0.1f * static_cast<float>(test::read_bytes(f.images[i]).size() % 7);
    EXPECT_NEAR(m.min().item<float>(), std::round(expected * 10) / 10, 1e-6);
  }
  EXPECT_TRUE(f.stray_files().empty());
  const auto again = run_density_batch(o);
  EXPECT_EQ(again.skipped, 3);
  EXPECT_EQ(again.requests, 0);
  EXPECT_EQ(server.loopback().request_count(), 4u);  // one models check + 3 chats, nothing on the re-run
}

TEST(DensityBatch, NonGridReplyIsListedAndCachedAndLeavesNoFile) {
  FakeVlmServer server;
  BatchFixture f;
  const std::string odd = test::read_bytes(f.images[1]);
  server.set_responder([odd](const test::ChatRequest& c) {
    return c.image_bytes == odd ? std::string("Sorry, the image is blank.\nTry another.")
                                : FakeVlmServer::grid_reply(4, 0.5f);
  });
  const auto s = run_density_batch(f.options(server.url()));
  EXPECT_EQ(s.from_vlm, 2);
  ASSERT_EQ(s.without_map.size(), 1u);
  EXPECT_NE(s.without_map[0].find("im1.png"), std::string::npos);
  EXPECT_NE(s.without_map[0].find("Sorry, the image is blank."), std::string::npos) << s.without_map[0];
  EXPECT_FALSE(fs::exists(f.map(1)));
  EXPECT_TRUE(f.stray_files().empty());
  const auto again = run_density_batch(f.options(server.url()));
  EXPECT_EQ(again.requests, 0);  // the non-grid reply came from the cache
  EXPECT_EQ(again.without_map.size(), 1u);
  EXPECT_EQ(server.chat_count(), 3u);
}

TEST(DensityBatch, FaultsLeaveNoHalfWrittenFiles) {
  FakeVlmServer server;
  server.queue_faults({Reply::cut_off(std::string(5000, 'x'), 50), Reply::ok("{not json"), Reply::error(503)});
  BatchFixture f;
  const auto s = run_density_batch(f.options(server.url()));  // one attempt each: three faults, three images
  EXPECT_EQ(s.from_vlm, 0);
  EXPECT_EQ(s.without_map.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(fs::exists(f.map(i)));
  EXPECT_TRUE(f.stray_files().empty());
  std::string all;
  for (const auto& w : s.without_map) all += w + "\n";
  EXPECT_NE(all.find("connection dropped"), std::string::npos) << all;
  EXPECT_NE(all.find("not valid JSON"), std::string::npos) << all;
  EXPECT_NE(all.find("HTTP 503"), std::string::npos) << all;
}

TEST(DensityBatch, ServerDownGoesOnWithoutMapsUnlessRequired) {
  BatchFixture f;
  auto o = f.options("http://127.0.0.1:" + std::to_string(test::closed_port()) + "/v1/chat/completions");
  const auto s = run_density_batch(o);
  EXPECT_TRUE(s.vlm_unreachable);
  EXPECT_EQ(s.without_map.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(fs::exists(f.map(i)));
  o.required = true;
  EXPECT_THROW(run_density_batch(o), VlmUnavailable);
  // With the fallback every image still gets a map.
  o.required = false;
  o.fallback = Fallback::Saliency;
  const auto fb = run_density_batch(o);
  EXPECT_EQ(fb.from_fallback, 3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(fs::exists(f.map(i)));
}

}  // namespace
}  // namespace fresnel::guide
