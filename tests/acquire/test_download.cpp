// `fresnel download` in process against a loopback dataset viewer (fake_viewer.hpp): names, sizes, faults, errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

#include "acquire/fake_viewer.hpp"
#include "acquire/hf_download.hpp"
#include "core/error.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;
using namespace fresnel::acquire;
namespace fs = std::filesystem;

namespace {

struct DownloadRun {
  test::TempDir tmp;
  std::vector<double> waits;  // sleeps the retry policy asked for (none really taken)
  DownloadOptions options(const test::FakeViewer& v, int64_t count) {
    DownloadOptions o;
    o.dataset = "hf:" + v.repo;
    o.count = count;
    o.output_dir = tmp.file("images");
    o.client.api_url = v.url();
    o.client.endpoint = v.url();
    o.workers = 3;
    o.policy.sleep = [this](double s) { waits.push_back(s); };
    o.policy.on_retry = [](const net::RetryEvent&) {};
    return o;
  }
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(tmp.file("images"))) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

void expect_valid_images(const DownloadRun& run, const std::string& prefix, int64_t count, int w, int h) {
  const auto names = run.files();
  ASSERT_EQ(int64_t(names.size()), count);
  for (int64_t i = 0; i < count; ++i) {
    EXPECT_EQ(names[i], download_file_name(prefix, i));
    const cv::Mat img = cv::imread(run.tmp.file("images/" + names[i]));
    ASSERT_FALSE(img.empty()) << names[i];
    EXPECT_EQ(img.cols, w);
    EXPECT_EQ(img.rows, h);
    // Row i's colour survives (blue channel = 37·i mod 256, JPEG within a few levels).
    EXPECT_NEAR(cv::mean(img)[0], double(uint8_t(i * 37)), 6.0) << names[i];
  }
}

std::string error_of(const DownloadOptions& o) {
  try {
    download_dataset(o);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(DatasetSpec, PresetsAndHfSpecs) {
  const auto lpff = parse_dataset_spec("lpff");
  EXPECT_EQ(lpff.ref.repo, "onethousand/LPFF");
  EXPECT_EQ(lpff.resize, 0);
  EXPECT_EQ(lpff.prefix, "lpff");
  const auto ffhq = parse_dataset_spec("ffhq");
  EXPECT_EQ(ffhq.ref.repo, "nuwandaa/ffhq128");
  EXPECT_EQ(ffhq.resize, 256);
  const auto celeba = parse_dataset_spec("CelebA");
  EXPECT_EQ(celeba.ref.config, "img_align+identity+attr");
  EXPECT_EQ(celeba.resize, 256);
  const auto hf = parse_dataset_spec("hf:user/My.Faces:cfg:validation:img");
  EXPECT_EQ(hf.ref.repo, "user/My.Faces");
  EXPECT_EQ(hf.ref.config, "cfg");
  EXPECT_EQ(hf.ref.split, "validation");
  EXPECT_EQ(hf.ref.column, "img");
  EXPECT_EQ(hf.prefix, "my_faces");
  EXPECT_EQ(download_file_name("lpff", 7), "lpff_00007.jpg");
  EXPECT_THROW(parse_dataset_spec("imagenet"), UsageError);
  EXPECT_THROW(parse_dataset_spec("hf:"), UsageError);
  EXPECT_THROW(parse_dataset_spec("hf:a/b/c"), UsageError);
  EXPECT_EQ(url_encode("img_align+identity+attr"), "img_align%2Bidentity%2Battr");
}

TEST(Download, NamesResizeAndResume) {
  test::FakeViewer v;
  v.start();
  DownloadRun run;
  auto o = run.options(v, 130);  // two /rows pages
  o.resize = 24;
  const auto s = download_dataset(o);
  EXPECT_EQ(s.downloaded, 130);
  EXPECT_EQ(s.failed, 0);
  EXPECT_EQ(s.ref.config, "default");  // discovered from /splits
  EXPECT_EQ(s.ref.column, "image");    // discovered from /first-rows
  expect_valid_images(run, "faces", 130, 24, 24);
  // A re-run asks nothing of the network.
  const size_t before = v.server().request_count();
  const auto again = download_dataset(o);
  EXPECT_EQ(again.skipped, 130);
  EXPECT_EQ(again.downloaded, 0);
  EXPECT_EQ(v.server().request_count(), before);
  // Images as served (resize 0) keep the server's bytes.
  DownloadRun raw;
  auto r = raw.options(v, 3);
  r.resize = 0;
  download_dataset(r);
  EXPECT_EQ(test::read_bytes(raw.tmp.file("images/faces_00002.jpg")), test::row_jpeg(2));
}

TEST(Download, SurvivesRateLimitServerErrorsExpiredUrlsCutAndDroppedBodies) {
  test::FakeViewer v;
  v.rows_429_first = 1;
  v.image_500_once = {1};
  v.expired_first_url = {3, 4};
  v.cut_once = {5};
  v.dropped_once = {6};
  v.html_once = {7};
  v.start();
  DownloadRun run;
  auto o = run.options(v, 10);
  o.resize = 0;
  const auto s = download_dataset(o);
  EXPECT_EQ(s.downloaded, 10);
  EXPECT_EQ(s.failed, 0) << (s.failures.empty() ? "" : s.failures[0]);
  expect_valid_images(run, "faces", 10, 40, 32);
  // 429: the policy waited as the server asked (Retry-After: 1).
  EXPECT_NE(std::find(run.waits.begin(), run.waits.end(), 1.0), run.waits.end());
  // Expired URLs and the HTML page were fixed by fresh /rows pages; the cut body was resumed.
  EXPECT_GE(v.requests("/rows"), 3u);
  EXPECT_EQ(v.image_requests(1), 2);
  // Rows 3 and 4 start with expired URLs. Whichever is asked for first gets the 403 and is fetched again from a
  // fresh page; the other may already get the fresh URL (3 workers), so only the sum is certain.
  EXPECT_GE(v.image_requests(3) + v.image_requests(4), 3);
  EXPECT_EQ(v.image_requests(5), 2);
  const bool range_used = [&] {
    for (const auto& r : v.server().requests())
      if (r.path.find("/img/5/") != std::string::npos && !r.header("Range").empty()) return true;
    return false;
  }();
  EXPECT_TRUE(range_used) << "the cut-off body was fetched again from scratch instead of resumed";
  for (const auto& f : run.files()) EXPECT_EQ(f.find(".part"), std::string::npos) << f;
}

TEST(Download, PermanentFailuresAreCountedWithTheirReason) {
  test::FakeViewer v;
  v.always_html = {2};
  v.start();
  DownloadRun run;
  auto o = run.options(v, 4);
  const auto s = download_dataset(o);
  EXPECT_EQ(s.downloaded, 3);
  EXPECT_EQ(s.failed, 1);
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_NE(s.failures[0].find("faces_00002.jpg"), std::string::npos) << s.failures[0];
  EXPECT_NE(s.failures[0].find("not a complete image"), std::string::npos) << s.failures[0];
  EXPECT_FALSE(fs::exists(run.tmp.file("images/faces_00002.jpg")));
  for (const auto& f : run.files()) EXPECT_EQ(f.find(".part"), std::string::npos) << f;
}

TEST(Download, ClearErrors) {
  test::FakeViewer v;
  v.gated_token = "hf_secret_token_123";
  v.start();
  DownloadRun run;
  // Gated without a token.
  auto o = run.options(v, 5);
  std::string e = error_of(o);
  EXPECT_NE(e.find("gated"), std::string::npos) << e;
  EXPECT_NE(e.find("HF_TOKEN"), std::string::npos) << e;
  // Wrong token: said so, and the token never appears in the message.
  o.client.token = "hf_wrong_token_456";
  e = error_of(o);
  EXPECT_NE(e.find("not accessible with the given token"), std::string::npos) << e;
  EXPECT_EQ(e.find("hf_wrong_token_456"), std::string::npos) << e;
  // Right token: works, and the token went to the API but not to image URLs... (same host here: allowed).
  o.client.token = "hf_secret_token_123";
  EXPECT_EQ(download_dataset(o).downloaded, 5);
  // Unknown dataset.
  o.dataset = "hf:nobody/nothing";
  e = error_of(o);
  EXPECT_NE(e.find("unknown dataset 'nobody/nothing'"), std::string::npos) << e;
  // --count beyond the dataset.
  o.dataset = "hf:" + v.repo;
  o.count = 251;
  e = error_of(o);
  EXPECT_NE(e.find("beyond the dataset"), std::string::npos) << e;
  EXPECT_NE(e.find("250"), std::string::npos) << e;
  // Beyond the dataset also when the first missing row lies past its end (rows 0..249 already there).
  o.output_dir = run.tmp.file("full");
  fs::create_directories(o.output_dir);
  for (int64_t i = 0; i < 250; ++i) test::write_bytes(o.output_dir + "/" + download_file_name("faces", i), "x");
  o.count = 260;
  e = error_of(o);
  EXPECT_NE(e.find("beyond the dataset"), std::string::npos) << e;
  // Unknown split / column (another folder: with all files present no request is made at all).
  o.count = 5;
  o.output_dir = run.tmp.file("splits");
  o.dataset = "hf:" + v.repo + ":default:validation";
  e = error_of(o);
  EXPECT_NE(e.find("no split 'validation'"), std::string::npos) << e;
  o.dataset = "hf:" + v.repo + ":default:train:label";
  e = error_of(o);
  EXPECT_NE(e.find("no image column 'label'"), std::string::npos) << e;
  // No network: nothing listens.
  o.dataset = "hf:" + v.repo;
  o.output_dir = run.tmp.file("other");
  o.client.api_url = "http://127.0.0.1:" + std::to_string(test::closed_port());
  o.policy.max_attempts = 2;
  e = error_of(o);
  EXPECT_NE(e.find("cannot reach the dataset viewer"), std::string::npos) << e;
  // Bad options are usage errors.
  o.workers = 0;
  EXPECT_THROW(download_dataset(o), UsageError);
}

TEST(Download, TokenGoesOnlyToTheApiHost) {
  HfClientOptions c;
  c.api_url = "https://datasets-server.example/";
  c.endpoint = "https://hub.example";
  c.token = "tok";
  HfViewerClient client(c, net::RetryPolicy::none());
  EXPECT_EQ(client.request_for("https://datasets-server.example/rows?x=1").bearer_token, "tok");
  EXPECT_EQ(client.request_for("https://hub.example/api/datasets/a").bearer_token, "tok");
  EXPECT_EQ(client.request_for("https://cdn.example/img.jpg").bearer_token, "");
  EXPECT_EQ(client.request_for("https://datasets-server.example.evil/img.jpg").bearer_token, "");
}
