#include "acquire/hf_viewer.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace fresnel::acquire {
using json = nlohmann::json;

std::string url_encode(const std::string& value) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string HfDatasetRef::describe() const {
  std::string s = repo;
  if (!config.empty() || !split.empty() || !column.empty())
    s += " (config '" + config + "', split '" + split + "', column '" + column + "')";
  return s;
}

static std::string strip_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

HfViewerClient::HfViewerClient(HfClientOptions options, net::RetryPolicy policy)
    : options_(std::move(options)), policy_(std::move(policy)) {
  options_.api_url = strip_slash(options_.api_url);
  options_.endpoint = strip_slash(options_.endpoint);
}

static bool starts_with_host(const std::string& url, const std::string& base) {
  return !base.empty() && url.compare(0, base.size(), base) == 0 &&
         (url.size() == base.size() || url[base.size()] == '/' || url[base.size()] == '?');
}

net::Request HfViewerClient::request_for(const std::string& url) const {
  net::Request r = net::get(url);
  r.timeout_s = options_.timeout_s;
  if (starts_with_host(url, options_.api_url) || starts_with_host(url, options_.endpoint))
    r.bearer_token = options_.token;
  return r;
}

void HfViewerClient::explain_access_error(const net::StatusError& e, const std::string& repo) {
  const long status = e.status();
  if (status != 401 && status != 403 && status != 404) throw e;
  // Ask the Hub whether the dataset exists and is gated, to say which of the viewer's cases this is.
  std::string hub_says;
  try {
    net::RetryPolicy once = net::RetryPolicy::none();
    const net::Response r = net::send_with_retry(http_, request_for(options_.endpoint + "/api/datasets/" + repo), once);
    const json j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("gated") && j["gated"] != false) hub_says = "gated";
    if (j.is_object() && j.value("private", false)) hub_says = "private";
  } catch (const net::StatusError& hub) {
    if (hub.status() == 401 || hub.status() == 403) hub_says = "gated";
    if (hub.status() == 404) hub_says = "missing";
  } catch (const Error&) {
    // The Hub is unreachable: explain from the viewer's answer alone.
  }
  const bool have_token = !options_.token.empty();
  if (hub_says == "gated" || hub_says == "private" || status == 401 || (status == 403 && hub_says != "missing")) {
    if (!have_token)
      throw Error("dataset '" + repo + "' is " + (hub_says.empty() ? "gated or private" : hub_says) +
                  ": set HF_TOKEN or pass --token with a Hugging Face access token (and accept the dataset's terms "
                  "on its Hub page)");
    throw Error("dataset '" + repo + "' is not accessible with the given token (HTTP " + std::to_string(status) +
                "): accept the dataset's terms on its Hub page, or check the token's permissions");
  }
  throw Error("unknown dataset '" + repo + "' (HTTP " + std::to_string(status) +
              " from the dataset viewer: check the name" + (have_token ? "" : ", or set HF_TOKEN if it is private") +
              ")");
}

std::string HfViewerClient::get_json_text(const std::string& path_and_query, const std::string& repo) {
  const std::string url = options_.api_url + path_and_query;
  try {
    return net::send_with_retry(http_, request_for(url), policy_).body;
  } catch (const net::StatusError& e) {
    explain_access_error(e, repo);
  } catch (const net::TransportError& e) {
    throw Error("cannot reach the dataset viewer at " + options_.api_url + " (no network? set --api_url or " +
                "FRESNEL_HF_API_URL for a mirror): " + e.what());
  }
}

static json parse_or_throw(const std::string& text, const std::string& what) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(what + ": the dataset viewer did not return a JSON object");
  return j;
}

HfDatasetRef HfViewerClient::resolve(HfDatasetRef ref) {
  const std::string q = "?dataset=" + url_encode(ref.repo);
  const json splits = parse_or_throw(get_json_text("/splits" + q, ref.repo), ref.repo + " /splits");
  if (!splits.contains("splits") || !splits["splits"].is_array() || splits["splits"].empty())
    throw Error("dataset '" + ref.repo + "' has no splits the viewer can serve" +
                (splits.contains("error") ? ": " + splits["error"].dump() : std::string()));
  std::vector<std::pair<std::string, std::string>> available;
  for (const auto& s : splits["splits"]) available.push_back({s.value("config", ""), s.value("split", "")});
  if (ref.config.empty()) ref.config = available.front().first;
  std::vector<std::string> config_splits;
  for (const auto& [c, s] : available)
    if (c == ref.config) config_splits.push_back(s);
  if (config_splits.empty()) {
    std::string list;
    for (const auto& [c, s] : available)
      if (list.find("'" + c + "'") == std::string::npos) list += (list.empty() ? "'" : ", '") + c + "'";
    throw Error("dataset '" + ref.repo + "' has no config '" + ref.config + "' (available: " + list + ")");
  }
  if (ref.split.empty())
    ref.split = std::find(config_splits.begin(), config_splits.end(), "train") != config_splits.end()
                    ? "train"
                    : config_splits.front();
  if (std::find(config_splits.begin(), config_splits.end(), ref.split) == config_splits.end()) {
    std::string list;
    for (const auto& s : config_splits) list += (list.empty() ? "'" : ", '") + s + "'";
    throw Error("dataset '" + ref.repo + "' config '" + ref.config + "' has no split '" + ref.split +
                "' (available: " + list + ")");
  }
  const json first = parse_or_throw(
      get_json_text("/first-rows" + q + "&config=" + url_encode(ref.config) + "&split=" + url_encode(ref.split),
                    ref.repo),
      ref.repo + " /first-rows");
  std::vector<std::string> image_columns;
  if (first.contains("features") && first["features"].is_array())
    for (const auto& f : first["features"])
      if (f.contains("type") && f["type"].is_object() && f["type"].value("_type", "") == "Image")
        image_columns.push_back(f.value("name", ""));
  if (image_columns.empty()) throw Error(ref.describe() + " has no image column");
  if (ref.column.empty()) ref.column = image_columns.front();
  if (std::find(image_columns.begin(), image_columns.end(), ref.column) == image_columns.end()) {
    std::string list;
    for (const auto& s : image_columns) list += (list.empty() ? "'" : ", '") + s + "'";
    throw Error(ref.describe() + ": no image column '" + ref.column + "' (image columns: " + list + ")");
  }
  return ref;
}

HfRowsPage HfViewerClient::rows(const HfDatasetRef& ref, int64_t offset, int64_t length) {
  const std::string what = ref.describe() + " rows " + std::to_string(offset) + "+" + std::to_string(length);
  const json j =
      parse_or_throw(get_json_text("/rows?dataset=" + url_encode(ref.repo) + "&config=" + url_encode(ref.config) +
                                       "&split=" + url_encode(ref.split) + "&offset=" + std::to_string(offset) +
                                       "&length=" + std::to_string(length),
                                   ref.repo),
                     what);
  HfRowsPage page;
  page.offset = offset;
  if (!j.contains("num_rows_total") || !j["num_rows_total"].is_number_integer())
    throw Error(what + ": the reply has no 'num_rows_total'");
  page.total_rows = j["num_rows_total"].get<int64_t>();
  if (!j.contains("rows") || !j["rows"].is_array()) throw Error(what + ": the reply has no 'rows' list");
  for (const auto& r : j["rows"]) {
    HfImageRow row;
    row.row = r.value("row_idx", int64_t(-1));
    const std::string where = ref.repo + " row " + std::to_string(row.row);
    if (row.row < 0 || !r.contains("row") || !r["row"].is_object()) throw Error(where + ": malformed row");
    const json& cell = r["row"].contains(ref.column) ? r["row"][ref.column] : json();
    if (!cell.is_object() || !cell.contains("src") || !cell["src"].is_string())
      throw Error(where + ": column '" + ref.column + "' holds no image {\"src\": …}");
    row.url = cell["src"].get<std::string>();
    if (row.url.rfind("http://", 0) != 0 && row.url.rfind("https://", 0) != 0)
      row.url = options_.api_url + (row.url.front() == '/' ? "" : "/") + row.url;
    row.width = cell.value("width", 0);
    row.height = cell.value("height", 0);
    page.rows.push_back(std::move(row));
  }
  return page;
}

}  // namespace fresnel::acquire
