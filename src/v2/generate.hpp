// `fresnel v2 generate`: runs TRELLIS over a folder of images through its own Python environment, the seed's
// generate_trellis_data.py + run_trellis_generation.sh in one command. Each round starts the worker
// (scripts/trellis_worker.py: one pipeline load, then per image image.png, features.pt, coords.pt, slat.pt,
// gaussians.ply, metadata.json written to a temporary folder and renamed, memory freed) on the next `batch_size`
// pending images and waits for it to exit — a fresh process per batch, because TRELLIS leaks memory. The worker
// stops at the first image it cannot finish (exception or crash). After each round the orchestrator counts one
// failure for the first image of the batch left without gaussians.ply (in `_failures.json`, {image file name:
// count}, as the original), clears the count of images that succeeded, and skips an image after 2 failures. It
// stops when every image is done or skipped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fresnel::v2 {

struct GenerateOptions {
  std::string input_dir;
  std::string output_dir = "data/trellis_distillation";
  int64_t num_samples = 0;  // 0 = all images
  int64_t num_steps = 12;
  int64_t seed = 42;
  bool resume = false;      // keep samples that already have gaussians.ply
  int64_t batch_size = 50;  // images per worker process (0 = all in one)
  std::string trellis_dir = "../TRELLIS-AMD";
  std::string python;  // default: <trellis_dir>/.venv/bin/python
  std::string worker = "scripts/trellis_worker.py";
  int64_t max_failures = 2;
};

struct GenerateSummary {
  int64_t done = 0, skipped = 0, rounds = 0;
};

// Throws fresnel::Error naming the folder or program when the input has no image or the worker cannot be started.
GenerateSummary run_generation(const GenerateOptions& options);

}  // namespace fresnel::v2
