#include "net/download.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fresnel::net {
namespace {

namespace fs = std::filesystem;

// "bytes 100-199/200" → 100; nullopt when absent or unparsable.
std::optional<uint64_t> content_range_start(const Response& head) {
  auto value = head.header("content-range");
  if (!value) return std::nullopt;
  unsigned long long start = 0;
  if (std::sscanf(value->c_str(), "bytes %llu-", &start) != 1) return std::nullopt;
  return start;
}

uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

}  // namespace

DownloadResult download_to_file(HttpClient& client, const Request& request, const std::string& dest,
                                RetryPolicy& policy, const ProgressCallback& progress) {
  const std::string part = dest + ".part";
  if (fs::path parent = fs::path(dest).parent_path(); !parent.empty()) fs::create_directories(parent);

  DownloadResult result;
  uint64_t have = file_size_or_zero(part);  // bytes already on disk in the .part file
  uint64_t attempt_offset = 0;              // where the current attempt's body starts
  std::ofstream out;
  std::string write_error;
  bool head_seen = false;

  StreamHandlers handlers;
  handlers.on_head = [&](const Response& head) {
    head_seen = true;
    attempt_offset = 0;
    if (head.status == 206) {
      auto start = content_range_start(head);
      if (!start || *start != have) return false;  // not the range we asked for: abort, restart from zero below
      attempt_offset = have;
      out.open(part, std::ios::binary | std::ios::app);
      result.resumed = true;
    } else {
      have = 0;
      out.open(part, std::ios::binary | std::ios::trunc);
    }
    if (!out) write_error = "cannot write " + part;
    return static_cast<bool>(out);
  };
  handlers.on_body = [&](const char* data, size_t size) {
    out.write(data, static_cast<std::streamsize>(size));
    if (!out) {
      write_error = "cannot write " + part + " (disk full?)";
      return false;
    }
    have += size;
    return true;
  };
  if (progress) {
    handlers.on_progress = [&](uint64_t received, uint64_t total) {
      progress(attempt_offset + received, total ? attempt_offset + total : 0);
    };
  }

  Request req = request;
  auto before_attempt = [&](Request& r, int attempt) {
    result.attempts = attempt;
    head_seen = false;
    if (out.is_open()) out.close();
    have = file_size_or_zero(part);
    r.headers.erase(
        std::remove_if(r.headers.begin(), r.headers.end(), [](const auto& h) { return h.first == "Range"; }),
        r.headers.end());
    if (have > 0) r.headers.emplace_back("Range", "bytes=" + std::to_string(have) + "-");
  };

  Response response;
  try {
    response = send_streaming_with_retry(client, req, policy, handlers, before_attempt);
  } catch (const TransportError& e) {
    if (out.is_open()) out.close();
    if (!write_error.empty()) throw Error(write_error);
    // A 206 for another range than ours: the .part cannot be trusted; start over once from zero.
    if (e.kind() == TransportError::Kind::Aborted && file_size_or_zero(part) > 0) {
      fs::remove(part);
      return download_to_file(client, request, dest, policy, progress);
    }
    throw;
  } catch (const StatusError& e) {
    if (out.is_open()) out.close();
    // 416: our .part is not a prefix of the file (it changed, or is longer): start over once from zero.
    if (e.status() == 416 && file_size_or_zero(part) > 0) {
      fs::remove(part);
      return download_to_file(client, request, dest, policy, progress);
    }
    throw;
  }
  if (out.is_open()) {
    out.flush();
    if (!out) throw Error("cannot write " + part + " (disk full?)");
    out.close();
  }
  if (!head_seen) std::ofstream(part, std::ios::binary | std::ios::trunc).close();  // an empty 2xx body
  fs::rename(part, dest);
  result.bytes = file_size_or_zero(dest);
  result.response = std::move(response);
  return result;
}

}  // namespace fresnel::net
