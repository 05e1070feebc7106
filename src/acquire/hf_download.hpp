// `fresnel download`: training images from the Hugging Face Hub through the dataset viewer API (hf_viewer.hpp),
// with the original's names (`lpff_00000.jpg`, `ffhq_…`, `celeba_…`) and sizes (FFHQ and CelebA 256², LPFF as is).
// Parallel workers; retries (net::RetryPolicy: 429 with rate-limit headers, 5xx, cut-off bodies resumed with Range);
// a fresh /rows page when a signed URL has expired; every image decoded before it is renamed into place; a re-run
// (or a run after kill -9) skips finished files and continues partial ones.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "acquire/hf_viewer.hpp"
#include "net/retry.hpp"

namespace fresnel::acquire {

struct DownloadSource {
  HfDatasetRef ref;
  std::string prefix;  // file names: {prefix}_{i:05}.jpg
  int resize = 0;      // width = height after resizing; 0 = as served
};

// The original's datasets: lpff, ffhq, celeba.
const std::vector<std::pair<std::string, DownloadSource>>& download_presets();
// A preset name or "hf:<repo>[:config[:split[:column]]]" (prefix: the repo's name, lower case). Throws UsageError.
DownloadSource parse_dataset_spec(const std::string& spec);

struct DownloadOptions {
  std::string dataset = "lpff";
  int64_t count = 500;
  std::string output_dir = "images/training";
  HfClientOptions client;
  int workers = 4;
  int resize = -1;     // -1: the preset's; 0: as served; N: N×N
  std::string prefix;  // empty: the preset's
  net::RetryPolicy policy;
};

struct DownloadSummary {
  HfDatasetRef ref;
  int64_t downloaded = 0, skipped = 0, failed = 0;  // skipped: already there
  uint64_t bytes = 0;                               // bytes received
  double seconds = 0;
  std::vector<std::string> failures;  // "lpff_00012.jpg: HTTP 500 … after 5 attempts"
};

// Throws fresnel::UsageError for bad options, fresnel::Error for whole-run failures (no network, unknown or gated
// dataset, --count beyond the dataset, a write failing — disk full). Per-image failures are counted and returned.
DownloadSummary download_dataset(const DownloadOptions& options);

// File name of image i: "{prefix}_{i:05}.jpg".
std::string download_file_name(const std::string& prefix, int64_t index);

}  // namespace fresnel::acquire
