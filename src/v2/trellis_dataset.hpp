// The TRELLIS distillation dataset (spec §10.2): one folder per object holding `image.png`, `features.pt`
// (1,M,C), `coords.pt` (N,4) int [batch,x,y,z] on the 64³ grid, `slat.pt` {feats (N,8), coords (N,4)},
// `gaussians.ply` (TRELLIS's 17 properties, Y-up, positions in about [−0.5,0.5]³) and `metadata.json`; the
// generator's `_failures.json` beside them. A sample is valid when features.pt, coords.pt, slat.pt and
// gaussians.ply exist (the original's rule); `check_trellis_dataset` also parses them and says why a sample fails.
//
// Frames (docs/v2.md). TRELLIS samples coords.pt on its Z-up 64³ grid, where voxel c holds Gaussians around
// (c + ½)/64 − ½ (its SLat Gaussian decoder); its save_ply then rotates every position by T = [[1,0,0],[0,0,−1],
// [0,1,0]], (x, y, z) ↦ (x, −z, y), into gaussians.ply's Y-up frame. The loader brings coords into the PLY's frame
// at its boundary, so everything after it (targets, occupancy, the model, inference output) is in gaussians.ply's
// frame: TRELLIS voxel (x, y, z) is voxel (x, 63 − z, y) of the PLY frame's grid (T maps voxel centres to voxel
// centres exactly). The original compares the two frames directly.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "v2/slat_decoder.hpp"

namespace fresnel::v2 {

// Which grid a sample's coords.pt (and slat.pt coords) are on. metadata.json's "coords_frame" says it:
// "trellis_z_up" (TRELLIS's own layout; also the default without metadata.json or the key) or "gaussians_ply"
// (already on the PLY frame's grid: what `synth --v2` wrote before it wrote TRELLIS's layout, recognised by
// "generator": "fresnel synth --v2" without the key).
enum class CoordsFrame { TrellisZUp, GaussiansPly };
constexpr int64_t kTrellisGrid = 64;
// (…,3) integer voxel indices: TRELLIS's Z-up grid → the grid of gaussians.ply's frame, and back.
torch::Tensor trellis_grid_to_ply_grid(const torch::Tensor& xyz);
torch::Tensor ply_grid_to_trellis_grid(const torch::Tensor& xyz);
// The frame metadata.json in `sample_dir` states (see CoordsFrame); throws fresnel::Error naming the file when the
// file is not JSON or the key holds another value.
CoordsFrame sample_coords_frame(const std::string& sample_dir);

struct TrellisDatasetOptions {
  int64_t max_gaussians = 50000;
  int64_t max_coords = 4000;
  double occupancy_threshold = 0.15;  // distance in the [−1,1] frame below which a voxel counts as occupied
  // Voxels that are not in coords.pt, added after the sample's voxels with occupancy target 0 and no Gaussians
  // (`v2 train --occupancy_negatives`; the original has none, so its head never learns to say "empty" and marks
  // the whole grid occupied when asked without coords). Half anywhere in the grid, half within 3 voxels of the
  // surface, so the head learns the surface and not only the object's bounding region.
  int64_t negative_voxels = 0;
  // Also compute what each query sees in image.png (pixel_query, from metadata.json's trellis_frame and
  // cameras.json) for a pixel-aligned decoder, with each query's visibility against all the object's voxels
  // (voxel_visibility); those files are then required.
  bool pixel_aligned = false;
  // With more voxels than max_coords: draw the voxels first and take the targets among the Gaussians of the drawn
  // voxels (each belongs to the voxel whose centre is nearest), so the matching and coverage terms compare the same
  // part of the object. The original draws both subsets independently, so most targets lie in voxels that are not
  // decoded and coverage pulls predictions towards them (`v2 train --independent_target_subset` restores it).
  bool targets_of_decoded_voxels = true;
};

// Sorted sample folders of `dir` that hold the four required files (the original's rule).
std::vector<std::string> find_trellis_samples(const std::string& dir);

// Target Gaussians (N,14) from a TRELLIS gaussians.ply: position ×2, scale clamp(exp(s), 1e-6, 1), rotation
// normalised (norm ≥ 1e-6), colour clamp(f_dc·C0 + ½, 0, 1), opacity sigmoid; NaN → 0, ±Inf → ±1 (the original's
// nan_to_num). Throws fresnel::Error naming the file when it is not such a PLY.
torch::Tensor trellis_gaussian_targets(const std::string& ply_path);

// Occupancy per voxel (n): 1 when a target position (m,3) lies closer than `threshold` to the voxel corner
// v/64·2 − 1 (the original's point), in chunks so memory stays bounded.
torch::Tensor occupancy_targets(const torch::Tensor& voxel_xyz, const torch::Tensor& positions, double threshold);

struct TrellisSample {
  std::string name;
  torch::Tensor features;          // (M,C) float32
  torch::Tensor coords;            // (max_coords + negatives,4) int64 [b,x,y,z] on the PLY frame's grid: the sample's
                                   // voxels, zero padding, then the negative voxels
  torch::Tensor coord_mask;        // (max_coords + negatives) bool: every query to decode (voxels and negatives)
  torch::Tensor surface_mask;      // (max_coords + negatives) bool: coords.pt's voxels only (their Gaussians are matched)
  torch::Tensor slat_feats;        // (max_coords,S)
  torch::Tensor slat_coords;       // (max_coords,4)
  torch::Tensor gaussians;         // (max_gaussians,14), zero-padded
  torch::Tensor gaussian_mask;     // (max_gaussians) bool
  torch::Tensor occupancy_target;  // (max_coords + negatives) float 0/1
  PixelQuery pixel;                // uv (max_coords + negatives,2), rgb (…,3), visibility (…,2); pixel_aligned only
  int64_t n_gaussians = 0, n_coords = 0;
};

// Loads one sample folder (coords brought into gaussians.ply's frame, above); random subsets (more than max_*) come
// from `generator` (undefined = the default). Throws fresnel::Error naming the file at fault.
TrellisSample load_trellis_sample(const std::string& sample_dir, const TrellisDatasetOptions& options,
                                  torch::Generator generator = {});

// Stacks samples into a batch (B,…); names are kept in order.
struct TrellisBatch {
  std::vector<std::string> names;
  torch::Tensor features, coords, coord_mask, surface_mask, gaussians, gaussian_mask, occupancy_target;
  PixelQuery pixel;  // undefined unless the samples have one
};
TrellisBatch collate(const std::vector<TrellisSample>& samples);

// The original's random_split: a permutation of n from a generator seeded with `seed`; the first
// n − ⌊val_fraction·n⌋ indices train, the rest validate.
struct Split {
  std::vector<int64_t> train, val;
};
Split split_indices(int64_t n, double val_fraction = 0.1, uint64_t seed = 42);

// `fresnel v2 check`: every sample folder with whether it is valid and, if not, why; plus the images the generator
// gave up on (_failures.json counts ≥ 2).
struct SampleReport {
  std::string name;
  bool valid = false;
  std::string problem;  // empty when valid
};
struct DatasetReport {
  std::vector<SampleReport> samples;
  std::vector<std::string> skipped_images;  // from _failures.json
  int64_t valid() const;
};
DatasetReport check_trellis_dataset(const std::string& dir, const TrellisDatasetOptions& options = {});

}  // namespace fresnel::v2
