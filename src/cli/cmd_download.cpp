// `fresnel download`: training images from the Hugging Face Hub (docs/data.md).
#include <cstdlib>
#include <iostream>

#include "acquire/hf_download.hpp"
#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"

namespace fresnel::cli {

static std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

void register_download(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "download",
      "Download training images from the Hugging Face Hub through the dataset viewer API: lpff, ffhq, celeba (the "
      "original's names and sizes) or hf:<repo>[:config[:split[:column]]]. Parallel, retried, resumable; every image "
      "is decoded before it is put in place.");
  auto o = std::make_shared<acquire::DownloadOptions>();
  auto token = std::make_shared<std::string>();
  auto api_url = std::make_shared<std::string>();
  auto endpoint = std::make_shared<std::string>();
  auto retries = std::make_shared<int>(5);
  cmd->add_option("--dataset", o->dataset, "lpff, ffhq, celeba, or hf:<repo>[:config[:split[:column]]]")
      ->capture_default_str();
  cmd->add_option("--count", o->count, "Number of images (rows 0..count-1 of the split)")->capture_default_str();
  cmd->add_option("--output_dir", o->output_dir, "Output folder")->capture_default_str();
  cmd->add_option("--workers", o->workers, "Parallel downloads")->capture_default_str();
  cmd->add_option("--token", *token, "Hugging Face access token for gated/private datasets (default: $HF_TOKEN)");
  cmd->add_option("--api_url", *api_url,
                  "Dataset viewer API (default: $FRESNEL_HF_API_URL or https://datasets-server.huggingface.co)");
  cmd->add_option("--endpoint", *endpoint, "Hugging Face Hub (default: $HF_ENDPOINT or https://huggingface.co)");
  cmd->add_option("--prefix", o->prefix, "File name prefix (default: the dataset's: lpff, ffhq, celeba, repo name)");
  cmd->add_option("--resize", o->resize, "Write SxS images; 0: as served (default: 256 for ffhq/celeba, else 0)");
  cmd->add_option("--retries", *retries, "Attempts per request (429 and 5xx are retried with backoff)")
      ->capture_default_str();
  set_guarded_callback(cmd, [o, token, api_url, endpoint, retries] {
    if (*retries < 1 || *retries > 100) throw UsageError("--retries must be between 1 and 100");
    o->client.token = token->empty() ? env_or("HF_TOKEN", "") : *token;
    o->client.api_url =
        api_url->empty() ? env_or("FRESNEL_HF_API_URL", "https://datasets-server.huggingface.co") : *api_url;
    o->client.endpoint = endpoint->empty() ? env_or("HF_ENDPOINT", "https://huggingface.co") : *endpoint;
    o->policy.max_attempts = *retries;
    const auto s = acquire::download_dataset(*o);
    for (const auto& f : s.failures) std::cerr << "failed: " << f << "\n";
    std::cout << "download " << s.ref.describe() << ": " << s.downloaded << " downloaded, " << s.skipped
              << " already present, " << s.failed << " failed; " << (s.bytes >> 20) << " MiB in " << int(s.seconds)
              << " s -> " << o->output_dir << "\n";
    if (s.failed > 0)
      throw Error(std::to_string(s.failed) + " of " + std::to_string(o->count) +
                  " images failed (listed above); run the same command again to retry them");
  });
}

}  // namespace fresnel::cli
