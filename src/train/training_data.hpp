// Training samples and their sources, streamed from disk by background threads (never the whole dataset in
// memory). Two on-disk sources:
//  - the original single-view layout: images in DATA_DIR, `features/{stem}_dinov2.bin`, `{stem}_depth.bin`
//    (normalised depth, 1 = near) and `{stem}_vlm_density.npy`;
//  - our multi-view datasets (`fresnel synth`, data/multiview_dataset.hpp): an input view plus other views with
//    metric depth, masks and cameras, expressed relative to the input camera.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/camera.hpp"
#include "decode/decoder_common.hpp"
#include "train/background_loader.hpp"

namespace fresnel::train {

struct TrainView {
  torch::Tensor rgb;    // (3,S,S) in [0,1]
  torch::Tensor depth;  // (1,S,S) metric z (0 = no object) or undefined
  torch::Tensor mask;   // (1,S,S) or undefined
  Camera camera;        // relative to the input camera, at full resolution S
};

struct Sample {
  std::string name;
  torch::Tensor image;           // (3,S,S) input view in [0,1] (also the input view's target)
  torch::Tensor features;        // (C,37,37) precomputed features, or undefined
  torch::Tensor depth;           // (1,S,S) normalised (1 = near) or metric z (0 = background), or undefined
  torch::Tensor mask;            // (1,S,S) object coverage, or undefined
  torch::Tensor vlm_density;     // (1,S,S) in [0.5,1.5] (0.5 + density), or undefined
  torch::Tensor intrinsics;      // (4,) normalised (fx/W, fy/H, cx/W, cy/H)
  std::vector<TrainView> views;  // other views (multi-view datasets)
};

struct Batch {
  std::vector<std::string> names;
  torch::Tensor images;       // (B,3,S,S)
  torch::Tensor features;     // (B,C,37,37) or undefined
  torch::Tensor depth;        // (B,1,S,S) or undefined
  torch::Tensor mask;         // (B,1,S,S) or undefined
  torch::Tensor vlm_density;  // (B,1,S,S) or undefined
  torch::Tensor intrinsics;   // (B,4)
  // Other views: (B,V,3,S,S) images / masks and cameras[b][v]; V = 0 when none.
  torch::Tensor view_images, view_masks;
  torch::Tensor view_depths;  // (B,V,1,S,S) metric z of the other views, or undefined when some view has none
  std::vector<std::vector<Camera>> view_cameras;
  int64_t num_views() const { return view_images.defined() ? view_images.size(1) : 0; }
};

// Stacks samples (all with the same fields and view count). Throws fresnel::Error on a mismatch.
Batch collate(const std::vector<Sample>& samples);

// A source of samples addressed by index. `load` must be thread-safe and deterministic in (index, seed):
// `seed` drives the per-sample randomness (augmentation, which extra views), so a resumed run sees the same data.
class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual int64_t size() const = 0;
  virtual Sample load(int64_t index, uint64_t seed) const = 0;
  virtual decode::DepthMode depth_mode() const = 0;
  virtual bool has_extra_views() const { return extra_views_per_sample() > 0; }
  virtual int extra_views_per_sample() const { return 0; }
  virtual std::string describe() const = 0;
};

struct SourceOptions {
  std::string data_dir;
  int image_size = 256;
  int64_t max_images = 0;              // 0 = all
  std::string feature_file = "small";  // DINOv2 size name for `{stem}_dinov2*.bin`
  int64_t feature_dim = 384;
  bool load_features = true;  // false with the built-in encoder
  bool augment = true;        // colour jitter with p = 0.5 (brightness .2, contrast .2, saturation .1)
  int novel_views = 0;        // extra views per sample (multi-view datasets)
  std::string split = "train";
};

// Opens DATA_DIR: a multi-view dataset when it holds dataset.json, else the original single-view layout.
// Throws fresnel::Error when it holds no usable images.
std::unique_ptr<SampleSource> open_source(const SourceOptions& options);

// The original's ColorJitter subset, applied identically to every view of a sample. img (3,H,W).
torch::Tensor color_jitter(const torch::Tensor& img, double brightness, double contrast, double saturation);

// Deterministic 64-bit mixing (splitmix64) used to derive per-sample and per-epoch seeds.
uint64_t mix_seed(uint64_t a, uint64_t b);

// The batches of one epoch: consecutive slices of `order` of `batch_size` samples (the last may be short), each
// sample loaded with seed mix_seed(epoch_seed, index), collated in background threads.
class BatchLoader {
 public:
  BatchLoader(const SampleSource& source, std::vector<int64_t> order, int64_t batch_size, uint64_t epoch_seed,
              int num_workers, int prefetch = 4);
  BatchLoader(const BatchLoader&) = delete;  // the loading threads point at this object
  BatchLoader& operator=(const BatchLoader&) = delete;
  int64_t num_batches() const { return loader_->size(); }
  // The next batch in order (blocks until loaded). Rethrows a loading error.
  Batch next() { return loader_->next(); }

 private:
  std::vector<int64_t> order_;
  std::unique_ptr<BackgroundLoader<Batch>> loader_;
};

}  // namespace fresnel::train
