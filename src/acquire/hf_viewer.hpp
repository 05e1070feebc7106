// The Hugging Face dataset viewer API (https://datasets-server.huggingface.co): /splits, /first-rows and /rows
// pages of a dataset, whose image cells carry signed URLs that expire ({"src", "height", "width"}).
// Errors become one clear message: no network, unknown dataset, gated/private dataset without (or with a wrong)
// token. The token is sent only to the API and Hub hosts, never to image URLs on other hosts, and never printed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "net/http.hpp"
#include "net/retry.hpp"

namespace fresnel::acquire {

struct HfDatasetRef {
  std::string repo;              // "nuwandaa/ffhq128"
  std::string config;            // empty: discovered (the first config of /splits)
  std::string split;             // empty: discovered ("train" when present, else the first)
  std::string column;            // empty: discovered (the first Image column of /first-rows)
  std::string describe() const;  // "repo (config 'c', split 's', column 'i')"
};

struct HfImageRow {
  int64_t row = 0;
  std::string url;  // absolute signed URL
  int width = 0, height = 0;
};

struct HfRowsPage {
  int64_t offset = 0;
  int64_t total_rows = 0;  // num_rows_total of the split
  std::vector<HfImageRow> rows;
};

struct HfClientOptions {
  std::string api_url = "https://datasets-server.huggingface.co";
  std::string endpoint = "https://huggingface.co";  // the Hub (HF_ENDPOINT): used to explain access errors
  std::string token;                                // HF_TOKEN / --token; empty = anonymous
  double timeout_s = 60;
};

// Percent-encodes a query value (RFC 3986 unreserved characters kept): "a+b" → "a%2Bb".
std::string url_encode(const std::string& value);

class HfViewerClient {
 public:
  HfViewerClient(HfClientOptions options, net::RetryPolicy policy);

  // Fills config, split and column when empty (one /splits and one /first-rows call) and checks the named ones
  // exist. Throws fresnel::Error with the reason (unknown dataset, gated, no image column, unknown split…).
  HfDatasetRef resolve(HfDatasetRef ref);
  // One /rows page (length ≤ 100). Throws like resolve; an image cell that is missing or not {"src": …} is an
  // error naming the row.
  HfRowsPage rows(const HfDatasetRef& ref, int64_t offset, int64_t length);

  // Request for a URL, with the token only when it points at the API or the Hub.
  net::Request request_for(const std::string& url) const;
  const HfClientOptions& options() const { return options_; }

 private:
  std::string get_json_text(const std::string& path_and_query, const std::string& repo);
  [[noreturn]] void explain_access_error(const net::StatusError& e, const std::string& repo);
  HfClientOptions options_;
  net::RetryPolicy policy_;
  net::HttpClient http_;
};

}  // namespace fresnel::acquire
