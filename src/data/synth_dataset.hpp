// `fresnel synth`: writes a procedural multi-view dataset (layout in data/multiview_dataset.hpp, docs/dataset.md).
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace fresnel::synth {

struct SynthOptions {
  std::string out_dir;
  int64_t objects = 100;
  int views = 8;  // views per object besides the input view
  int image_size = 128;
  uint64_t seed = 0;
  std::array<double, 3> split{0.8, 0.1, 0.1};  // train, val, test fractions (normalised)
  int supersample = 3;                         // anti-aliasing: n×n rays per pixel
  double azimuth_range_deg = 60;               // other views within ±this of the input's azimuth (≤ 180)
  double elevation_range_deg = 20;             // and within ±this of its elevation (≤ 90)
};

// Parses "0.8,0.1,0.1" (three non-negative numbers, positive sum). Throws fresnel::UsageError otherwise.
std::array<double, 3> parse_split(const std::string& text);
// Objects per split (fractions need not be normalised): rounded train and val counts, the rest is test.
std::array<int64_t, 3> split_counts(int64_t objects, const std::array<double, 3>& fractions);

// Generates the dataset in parallel over objects (at::parallel_for) with a progress bar. Every file is a
// function of (options, object index) only, so outputs are byte-identical for any thread count.
void generate_dataset(const SynthOptions& options);

}  // namespace fresnel::synth
