// A Hugging Face dataset viewer on loopback (tests/testutil/loopback_server.hpp) speaking the real API's JSON:
// /splits, /first-rows, /rows pages whose image cells hold signed-looking URLs to JPEGs served by the same
// server, plus the Hub's /api/datasets/<repo>. Faults are switched per row or per endpoint. Header-only.
#pragma once
#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <string>

#include "testutil/loopback_server.hpp"

namespace fresnel::test {

// A small JPEG whose colours depend on the row (so files can be told apart).
inline std::string row_jpeg(int64_t row, int width = 40, int height = 32) {
  cv::Mat img(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) img.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(row * 37), uchar(x * 6), uchar(y * 7));
  std::vector<uchar> buf;
  cv::imencode(".jpg", img, buf);
  return std::string(buf.begin(), buf.end());
}

class FakeViewer {
 public:
  std::string repo = "someone/faces", config = "default", split = "train", column = "image";
  int64_t rows = 250;
  std::string gated_token;  // non-empty: the dataset needs "Bearer <gated_token>"
  int width = 40, height = 32;

  // Faults (set before start()).
  int rows_429_first = 0;               // the first N /rows requests answer 429 with Retry-After: 1
  std::set<int64_t> image_500_once;     // rows whose first image request answers 500
  std::set<int64_t> expired_first_url;  // rows whose first signed URL answers 403 (a fresh page fixes it)
  std::set<int64_t> cut_once;           // rows whose first image reply is cut off mid-body
  std::set<int64_t> dropped_once;       // rows whose first image reply drops the connection after the headers
  std::set<int64_t> html_once;          // rows whose first image reply is an HTML page with status 200
  std::set<int64_t> always_html;        // rows that never serve an image
  double image_delay_s = 0;             // every image reply waits this long

  void start() {
    server_.handle("GET", "/splits", [this](const RecordedRequest& r) { return splits(r); });
    server_.handle("GET", "/first-rows", [this](const RecordedRequest& r) { return first_rows(r); });
    server_.handle("GET", "/rows", [this](const RecordedRequest& r) { return rows_page(r); });
    server_.handle("GET", R"(/cached-assets/img/(\d+)/(\d+)\.jpg)",
                   [this](const RecordedRequest& r) { return image(r); });
    server_.handle("GET", R"(/api/datasets/(.+))", [this](const RecordedRequest& r) { return hub(r); });
    server_.start();
  }
  std::string url() const { return server_.url(); }
  LoopbackServer& server() { return server_; }
  size_t requests(const std::string& path) const { return server_.request_count(path); }
  int image_requests(int64_t row) {
    std::lock_guard<std::mutex> lock(mutex_);
    return image_hits_[row];
  }

 private:
  static std::string param(const RecordedRequest& r, const std::string& key) {
    // The query as sent (percent-encoded): decode %XX.
    const std::string q = "&" + r.query;
    const size_t at = q.find("&" + key + "=");
    if (at == std::string::npos) return "";
    const size_t start = at + key.size() + 2, end = q.find('&', start);
    const std::string raw = q.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size()) {
        out += char(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        out += raw[i];
      }
    }
    return out;
  }

  static Reply json_reply(int status, const nlohmann::json& j) {
    Reply r = Reply::ok(j.dump());
    r.status = status;
    return r;
  }

  // The viewer's answer for a dataset it cannot show: 404 unknown, 401 gated without a token.
  bool denied(const RecordedRequest& r, Reply& out) const {
    if (param(r, "dataset") != repo) {
      out = json_reply(404, {{"error",
                              "The dataset does not exist, or is not accessible without authentication "
                              "(private or gated). Please check the spelling of the dataset name or retry "
                              "with other authentication credentials."}});
      out.headers.emplace_back("X-Error-Code", "DatasetNotFoundError");
      return true;
    }
    if (!gated_token.empty() && r.header("Authorization") != "Bearer " + gated_token) {
      out = json_reply(401, {{"error",
                              "The dataset does not exist, or is not accessible without authentication "
                              "(private or gated)."}});
      out.headers.emplace_back("X-Error-Code", "ExternalUnauthenticatedError");
      return true;
    }
    return false;
  }

  Reply splits(const RecordedRequest& r) {
    Reply denial;
    if (denied(r, denial)) return denial;
    return json_reply(200, {{"splits",
                             {{{"dataset", repo}, {"config", config}, {"split", split}},
                              {{"dataset", repo}, {"config", config}, {"split", "test"}}}},
                            {"pending", nlohmann::json::array()},
                            {"failed", nlohmann::json::array()}});
  }

  nlohmann::json features() const {
    return {{{"feature_idx", 0}, {"name", "label"}, {"type", {{"dtype", "int64"}, {"_type", "Value"}}}},
            {{"feature_idx", 1}, {"name", column}, {"type", {{"_type", "Image"}}}}};
  }

  nlohmann::json row_json(int64_t i) {
    int generation;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation = ++generation_[i];
    }
    const std::string src = url() + "/cached-assets/img/" + std::to_string(i) + "/" + std::to_string(generation) +
                            ".jpg?Expires=1700000000&Signature=abc" + std::to_string(generation) + "&Key-Pair-Id=K2";
    return {{"row_idx", i},
            {"row", {{"label", i % 3}, {column, {{"src", src}, {"height", height}, {"width", width}}}}},
            {"truncated_cells", nlohmann::json::array()}};
  }

  Reply first_rows(const RecordedRequest& r) {
    Reply denial;
    if (denied(r, denial)) return denial;
    nlohmann::json rows_j = nlohmann::json::array();
    for (int64_t i = 0; i < std::min<int64_t>(rows, 3); ++i) rows_j.push_back(row_json(i));
    return json_reply(200, {{"dataset", repo},
                            {"config", param(r, "config")},
                            {"split", param(r, "split")},
                            {"features", features()},
                            {"rows", rows_j},
                            {"truncated", false}});
  }

  Reply rows_page(const RecordedRequest& r) {
    Reply denial;
    if (denied(r, denial)) return denial;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (rows_429_served_ < rows_429_first) {
        ++rows_429_served_;
        Reply t = Reply::too_many_requests("1");
        t.headers.emplace_back("RateLimit", "\"api\";r=0;t=1");
        return t;
      }
    }
    if (param(r, "config") != config || param(r, "split") != split) return json_reply(404, {{"error", "Not found."}});
    const int64_t offset = std::stoll(param(r, "offset")), length = std::stoll(param(r, "length"));
    if (length > 100 || length < 1 || offset < 0)
      return json_reply(422, {{"error", "Parameter 'length' must be between 1 and 100."}});
    nlohmann::json rows_j = nlohmann::json::array();
    for (int64_t i = offset; i < std::min(rows, offset + length); ++i) rows_j.push_back(row_json(i));
    return json_reply(200, {{"features", features()},
                            {"rows", rows_j},
                            {"num_rows_total", rows},
                            {"num_rows_per_page", 100},
                            {"partial", false}});
  }

  Reply image(const RecordedRequest& r) {
    // /cached-assets/img/<row>/<generation>.jpg
    const std::string rest = r.path.substr(std::string("/cached-assets/img/").size());
    const int64_t row = std::stoll(rest.substr(0, rest.find('/')));
    const int generation = std::stoi(rest.substr(rest.find('/') + 1));
    int hits;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      hits = ++image_hits_[row];
    }
    Reply ok = Reply::ok(row_jpeg(row, width, height), "image/jpeg");
    ok.delay_s = image_delay_s;
    if (!r.header("Range").empty()) ok.status = 206;  // httplib slices the whole body for "Range: bytes=N-"
    if (expired_first_url.count(row) && generation == 1)
      return Reply::error(403, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>");
    if (always_html.count(row) || (html_once.count(row) && hits == 1))
      return Reply::ok("<html><body>Service temporarily unavailable</body></html>", "text/html");
    if (image_500_once.count(row) && hits == 1) return Reply::error(500, "internal error");
    if (cut_once.count(row) && hits == 1) return Reply::cut_off(ok.body, long(ok.body.size() / 2));
    if (dropped_once.count(row) && hits == 1) return Reply::cut_off(ok.body, 0);
    return ok;
  }

  Reply hub(const RecordedRequest& r) {
    const std::string name = r.path.substr(std::string("/api/datasets/").size());
    if (name != repo) return json_reply(404, {{"error", "Repository not found"}});
    return json_reply(
        200, {{"id", repo}, {"gated", gated_token.empty() ? nlohmann::json(false) : "auto"}, {"private", false}});
  }

  LoopbackServer server_;
  std::mutex mutex_;
  std::map<int64_t, int> generation_, image_hits_;
  int rows_429_served_ = 0;
};

}  // namespace fresnel::test
