// Density maps (G×G, row-major, values in [0,1]) from a VLM: grid mode (the density prompt) and smart mode (type →
// face landmarks → Gaussian blobs), with every reply cached so a re-run asks nothing twice.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "guide/vlm_client.hpp"
#include "guide/vlm_prompts.hpp"

namespace fresnel::guide {

using DensityGrid = std::vector<float>;  // G·G values, row-major

// The original's σ (pixels of a 256² map) per landmark: eyes 15, nose 25, mouth 20, outline 40, hair 50, other 30.
double landmark_sigma(const std::string& name);
// Σ importance·exp(−d²/2σ²) around (int(x·size), int(y·size)), divided by its maximum (all zero stays zero).
std::vector<float> landmarks_to_density(const std::vector<Landmark>& landmarks, int size = 256);
// scipy.ndimage.zoom(order=1) from size² to g²: output i samples input i·(size−1)/(g−1), bilinearly.
DensityGrid zoom_bilinear(const std::vector<float>& map, int size, int g);

// Replies on disk, one file per (image bytes, prompt, model, grid); written atomically. An empty dir disables it.
class ReplyCache {
 public:
  explicit ReplyCache(std::string dir = "");
  std::optional<std::string> get(const std::string& key) const;
  void put(const std::string& key, const std::string& reply) const;
  static std::string key(const EncodedImage& image, const Prompt& prompt, const std::string& model, int grid);
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

struct DensityResult {
  std::optional<DensityGrid> grid;
  std::string method;   // "grid", "face landmarks" (smart), or "" when none
  std::string problem;  // why there is no grid: the first line of a non-grid reply, or the error
  int requests = 0;     // chat requests actually sent (cache misses)
};

// One image at a time; a VlmDensity per thread (it uses the thread's VlmClient).
class VlmDensity {
 public:
  VlmDensity(VlmClient& client, const ReplyCache& cache, int grid_size, bool smart);
  // Never throws for per-image problems (non-grid reply, HTTP errors after retries, bad JSON, server gone): they land
  // in DensityResult::problem. Smart mode falls back to grid mode on any failure of its face path.
  DensityResult compute(const EncodedImage& image);
  // The chat reply for a prompt, from the cache or the server (counted in `requests`).
  std::string ask(const EncodedImage& image, const Prompt& prompt, int& requests);

 private:
  std::optional<DensityGrid> smart_face(const EncodedImage& image, int& requests, std::string& note);
  VlmClient& client_;
  const ReplyCache& cache_;
  int grid_;
  bool smart_;
};

// "first line of the reply" for messages: trimmed, at most 100 characters, "(empty reply)" for nothing.
std::string first_line(const std::string& reply);

}  // namespace fresnel::guide
