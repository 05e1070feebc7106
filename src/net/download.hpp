// Streaming a (large) response body to a file: "<dest>.part" while it runs, resumed with a Range request after a
// cut-off, renamed onto `dest` only when complete. An existing `dest` is never replaced by partial data.
#pragma once
#include <cstdint>
#include <string>

#include "net/http.hpp"
#include "net/retry.hpp"

namespace fresnel::net {

struct DownloadResult {
  uint64_t bytes = 0;    // size of the finished file
  int attempts = 0;      // requests made (1 = no retry)
  bool resumed = false;  // some attempt continued a .part file with a Range request
  Response response;     // the final response (body empty)
};

// GET `request` into `dest`. A leftover "<dest>.part" (a killed earlier run) is continued when the server answers 206.
// Throws TransportError / StatusError (URL redacted) when the policy gives up; the .part file is kept for next time.
DownloadResult download_to_file(HttpClient& client, const Request& request, const std::string& dest,
                                RetryPolicy& policy, const ProgressCallback& progress = nullptr);

}  // namespace fresnel::net
