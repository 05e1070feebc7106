#include "acquire/hf_download.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "acquire/archive_names.hpp"
#include "core/error.hpp"
#include "core/progress.hpp"
#include "net/download.hpp"

namespace fresnel::acquire {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kPageRows = 100;  // the viewer's maximum /rows length
constexpr int kUrlRefreshes = 3;    // fresh /rows pages per image (expired signed URL, non-image body)

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Signed URLs expire; a page is fetched again when a worker reports that its URL for a row failed.
class PageCache {
 public:
  PageCache(HfViewerClient& client, HfDatasetRef ref) : client_(client), ref_(std::move(ref)) {}

  // Rows in the split (loads the page holding `row`, which may lie beyond the end).
  int64_t total_rows(int64_t row) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!pages_.count(row / kPageRows)) load(row / kPageRows);
    return total_;
  }

  // URL of a row; `failed_url` non-empty: that URL did not work, fetch the page again unless it already was.
  std::string url(int64_t row, const std::string& failed_url) {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t page = row / kPageRows;
    auto it = pages_.find(page);
    if (it == pages_.end() || (!failed_url.empty() && it->second.count(row) && it->second[row] == failed_url))
      it = load(page);
    const auto r = it->second.find(row);
    if (r == it->second.end())
      throw Error(ref_.describe() + ": the viewer's page at offset " + std::to_string(page * kPageRows) +
                  " has no row " + std::to_string(row));
    return r->second;
  }

 private:
  HfViewerClient& client_;
  HfDatasetRef ref_;
  std::mutex mutex_;
  int64_t total_ = 0;
  std::map<int64_t, std::map<int64_t, std::string>> pages_;

  std::map<int64_t, std::map<int64_t, std::string>>::iterator load(int64_t page) {
    const int64_t length = total_ > 0 ? std::min(kPageRows, total_ - page * kPageRows) : kPageRows;
    const HfRowsPage p = client_.rows(ref_, page * kPageRows, std::max<int64_t>(length, 1));
    total_ = p.total_rows;
    auto& rows = pages_[page];
    rows.clear();
    for (const auto& r : p.rows) rows[r.row] = r.url;
    return pages_.find(page);
  }
};

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool is_jpeg(const std::string& b) { return b.size() > 4 && uint8_t(b[0]) == 0xFF && uint8_t(b[1]) == 0xD8; }

// A JPEG must end with its EOI marker (decoders fill a cut-off JPEG with grey instead of failing).
bool jpeg_complete(const std::string& b) {
  size_t n = b.size();
  while (n > 2 && (b[n - 1] == '\0' || b[n - 1] == '\n' || b[n - 1] == '\r')) --n;
  return n > 4 && uint8_t(b[n - 2]) == 0xFF && uint8_t(b[n - 1]) == 0xD9;
}

// Writes `bytes` to "<dest>.part", then renames it onto dest. Write failures (disk full) throw fresnel::Error.
void write_then_rename(const std::string& dest, const std::string& bytes) {
  const std::string part = dest + ".part";
  {
    std::ofstream out(part, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(part, ec);
      throw Error("cannot write " + part + " (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(part, dest, ec);
  if (ec) throw Error("cannot move " + part + " to " + dest + ": " + ec.message());
}

struct NotAnImage : Error {
  using Error::Error;
};

// Decodes the downloaded file, resizes and re-encodes when asked (or when it is not a JPEG), and puts the result
// in place. The bytes are kept as served when they already are a JPEG of the wanted size.
void finish_image(const std::string& downloaded, const std::string& dest, int resize) {
  const std::string bytes = read_file_bytes(downloaded);
  cv::Mat img;
  if (!is_jpeg(bytes) || jpeg_complete(bytes)) {
    try {
      img = cv::imdecode(cv::Mat(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data())), cv::IMREAD_COLOR);
    } catch (const cv::Exception&) {
      img = cv::Mat();
    }
  }
  if (img.empty())
    throw NotAnImage("the server's reply is not a complete image (" + std::to_string(bytes.size()) + " bytes" +
                     (bytes.size() < 200 && !bytes.empty() ? ": " + bytes.substr(0, 80) : std::string()) + ")");
  if (is_jpeg(bytes) && (resize == 0 || (img.cols == resize && img.rows == resize))) {
    std::error_code ec;
    fs::rename(downloaded, dest, ec);
    if (ec) throw Error("cannot move " + downloaded + " to " + dest + ": " + ec.message());
    return;
  }
  if (resize > 0 && (img.cols != resize || img.rows != resize)) {
    const bool shrink = img.cols > resize && img.rows > resize;
    cv::resize(img, img, cv::Size(resize, resize), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_CUBIC);
  }
  std::vector<uchar> jpeg;
  if (!cv::imencode(".jpg", img, jpeg, {cv::IMWRITE_JPEG_QUALITY, 95})) throw Error("cannot encode " + dest);
  write_then_rename(dest, std::string(jpeg.begin(), jpeg.end()));
  std::error_code ec;
  fs::remove(downloaded, ec);
}

// The same policy with its own jitter stream, so that workers rate-limited together do not retry in lockstep.
net::RetryPolicy reseeded(const net::RetryPolicy& p, uint64_t seed) {
  net::RetryPolicy r(seed);
  r.max_attempts = p.max_attempts;
  r.initial_backoff_s = p.initial_backoff_s;
  r.multiplier = p.multiplier;
  r.max_backoff_s = p.max_backoff_s;
  r.jitter = p.jitter;
  r.max_retry_after_s = p.max_retry_after_s;
  r.retry_timeouts = p.retry_timeouts;
  if (p.sleep) r.sleep = p.sleep;
  if (p.on_retry) r.on_retry = p.on_retry;
  if (p.now) r.now = p.now;
  return r;
}

void remove_leftovers(const std::string& dest) {
  std::error_code ec;
  for (const char* suffix : {".download", ".download.part", ".part"}) fs::remove(dest + suffix, ec);
}

}  // namespace

const std::vector<std::pair<std::string, DownloadSource>>& download_presets() {
  static const std::vector<std::pair<std::string, DownloadSource>> presets = {
      {"lpff", {{"onethousand/LPFF", "", "train", ""}, "lpff", 0}},
      {"ffhq", {{"nuwandaa/ffhq128", "default", "train", "image"}, "ffhq", 256}},
      {"celeba", {{"flwrlabs/celeba", "img_align+identity+attr", "train", "image"}, "celeba", 256}},
  };
  return presets;
}

DownloadSource parse_dataset_spec(const std::string& spec) {
  for (const auto& [name, source] : download_presets())
    if (lower(spec) == name) return source;
  if (spec.rfind("hf:", 0) != 0)
    throw UsageError("--dataset must be lpff, ffhq, celeba or hf:<repo>[:config[:split[:column]]] (got '" + spec +
                     "')");
  std::vector<std::string> parts;
  size_t start = 3;
  while (true) {
    const size_t colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 4 || parts[0].empty() || std::count(parts[0].begin(), parts[0].end(), '/') > 1)
    throw UsageError("--dataset hf:<repo>[:config[:split[:column]]]: cannot parse '" + spec + "'");
  DownloadSource s;
  s.ref.repo = parts[0];
  if (parts.size() > 1) s.ref.config = parts[1];
  if (parts.size() > 2) s.ref.split = parts[2];
  if (parts.size() > 3) s.ref.column = parts[3];
  const size_t slash = s.ref.repo.find('/');
  std::string name = lower(slash == std::string::npos ? s.ref.repo : s.ref.repo.substr(slash + 1));
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  s.prefix = name;
  return s;
}

std::string download_file_name(const std::string& prefix, int64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "_%05lld.jpg", static_cast<long long>(index));
  return prefix + buf;
}

DownloadSummary download_dataset(const DownloadOptions& o) {
  DownloadSource source = parse_dataset_spec(o.dataset);
  if (!o.prefix.empty()) source.prefix = o.prefix;
  if (o.resize >= 0) source.resize = o.resize;
  if (!is_safe_stem(source.prefix)) throw UsageError("--prefix must be a plain name (letters, digits, '_', '-')");
  if (o.count <= 0) throw UsageError("--count must be positive");
  if (o.workers < 1 || o.workers > 64) throw UsageError("--workers must be between 1 and 64");
  if (source.resize < 0 || source.resize > 8192) throw UsageError("--resize must be between 0 and 8192");

  std::error_code ec;
  fs::create_directories(o.output_dir, ec);
  if (!fs::is_directory(o.output_dir)) throw Error(o.output_dir + ": cannot create the output folder");
  DownloadSummary summary;
  summary.ref = source.ref;
  std::vector<int64_t> missing;
  for (int64_t i = 0; i < o.count; ++i) {
    const std::string dest = (fs::path(o.output_dir) / download_file_name(source.prefix, i)).string();
    if (fs::exists(dest)) {
      ++summary.skipped;
      remove_leftovers(dest);
    } else {
      missing.push_back(i);
    }
  }
  if (missing.empty()) return summary;  // nothing to do: no network needed
  const auto space = fs::space(o.output_dir, ec);
  if (!ec && space.available < (uint64_t(16) << 20))
    throw Error(o.output_dir + ": the disk is full (" + std::to_string(space.available >> 20) + " MiB free)");

  HfViewerClient api(o.client, o.policy);
  summary.ref = api.resolve(source.ref);
  PageCache pages(api, summary.ref);
  const int64_t total = pages.total_rows(missing.front());
  if (o.count > total)
    throw Error(summary.ref.describe() + " has " + std::to_string(total) + " rows; --count " + std::to_string(o.count) +
                " is beyond the dataset");

  Progress progress("download " + source.prefix, int64_t(missing.size()), "img");
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<int64_t> downloaded{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;  // failures, fatal
  std::exception_ptr fatal;
  const auto start = std::chrono::steady_clock::now();

  const auto worker = [&](int id) {
    net::HttpClient http;
    net::RetryPolicy policy = reseeded(o.policy, 0x5eed + uint64_t(id));
    while (!stop) {
      const size_t k = next++;
      if (k >= missing.size()) break;
      const int64_t row = missing[k];
      const std::string name = download_file_name(source.prefix, row);
      const std::string dest = (fs::path(o.output_dir) / name).string();
      const std::string staging = dest + ".download";
      std::string failed_url, why;
      bool done = false;
      try {
        // A complete download from a killed run is used as is once it decodes.
        if (fs::exists(staging)) {
          try {
            finish_image(staging, dest, source.resize);
            done = true;
          } catch (const NotAnImage&) {
            fs::remove(staging);
          }
        }
        for (int attempt = 0; attempt <= kUrlRefreshes && !done && !stop; ++attempt) {
          const std::string url = pages.url(row, failed_url);
          try {
            const auto r = net::download_to_file(http, api.request_for(url), staging, policy);
            bytes += r.bytes;
            finish_image(staging, dest, source.resize);
            done = true;
          } catch (const net::StatusError& e) {
            // 403/404/410 on a signed URL: it expired or was evicted; ask /rows for a fresh one.
            if (e.status() != 403 && e.status() != 404 && e.status() != 410) {
              why = e.what();
              break;
            }
            why = std::string(e.what()) + " (fresh URLs did not help)";
            failed_url = url;
          } catch (const NotAnImage& e) {
            why = e.what();
            failed_url = url;
            std::error_code rm;
            fs::remove(staging, rm);
          } catch (const net::TransportError& e) {
            why = e.what();
            break;
          }
        }
      } catch (const net::TransportError& e) {
        why = std::string("row ") + std::to_string(row) + ": " + e.what();
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!fatal) fatal = std::current_exception();
        stop = true;
        break;
      }
      if (done) {
        ++downloaded;
      } else if (!stop) {
        remove_leftovers(dest);
        std::lock_guard<std::mutex> lock(mutex);
        summary.failures.push_back(name + ": " + why);
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      char status[48];
      std::snprintf(status, sizeof status, "%.2f MB/s", secs > 0 ? double(bytes) / 1e6 / secs : 0.0);
      progress.set_status(status);
      progress.advance();
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < std::min<int>(o.workers, int(missing.size())); ++w) threads.emplace_back(worker, w);
  for (auto& t : threads) t.join();
  progress.finish();
  if (fatal) std::rethrow_exception(fatal);
  summary.downloaded = downloaded;
  summary.failed = int64_t(summary.failures.size());
  summary.bytes = bytes;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(summary.failures.begin(), summary.failures.end());
  return summary;
}

}  // namespace fresnel::acquire
