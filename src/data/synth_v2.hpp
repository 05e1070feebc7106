// `fresnel synth --v2`: a TRELLIS distillation dataset (v2/trellis_dataset.hpp layout) made from the procedural
// objects of synth_scene.hpp, so every part of Fresnel v2 trains and is measured without TRELLIS or pretrained
// weights. Per object folder:
//   image.png     the input view, 518×518, ray cast (black background)
//   features.pt   (1, 1369, 620) float32: the fixed "patch embedding" of image.png — its 37×37 grid of 14×14 RGB
//                 patches, each flattened (row, column, channel) and mapped to [−1, 1] (2·rgb − 1), then 32 values
//                 of the patch's position (v2_patch_features). Token t is patch
//                 row t/37, column t%37 (DINOv2's order without its 5 leading tokens). With DINOv2 weights
//                 (V2Options::features): TRELLIS's own features.pt of image.png, (1, 1 + registers + 1369, D).
//   coords.pt     (N, 4) int32 [0, x, y, z]: the ground-truth surface voxels (a voxel whose centre is inside the
//                 object and one of whose 6 neighbours' centres is outside) on TRELLIS's Z-up 64³ grid, in
//                 torch.argwhere's order, exactly as TRELLIS writes them
//   slat.pt       {feats (N, 8): mean colour 3, mean normal 3, log(1 + surface points), 1; coords (N, 4)}
//   gaussians.ply TRELLIS's 17 properties (x y z nx ny nz f_dc_0..2 opacity scale_0..2 rot_0..3; log scale, logit
//                 opacity, SH DC, w-first quaternions): one flat Gaussian per first hit of axis-aligned rays through
//                 a 128² grid from the 6 axis directions, scale one voxel in the surface plane and a tenth across.
//   cameras.json  the input camera of image.png (518², scene frame; core/camera.hpp's cameras.json), so that
//                 predictions can be moved into the input camera's frame that `fresnel eval` scores
//   metadata.json the object's spec (the object_to_json of `fresnel synth`) and the frames; "trellis_frame" holds
//                 the map below as numbers: {"scale": s, "axes": [1, −1, −1]}
// Objects: object i of `synth --v2 --seed S --views V --azimuth_range A --elevation_range E` is object i of
// `fresnel synth` with the same flags (same shape, texture, light and input view), so a multi-view set written by
// `fresnel synth` holds the held-out views and cameras of the same objects for `fresnel eval` (docs/v2.md).
// Frames: TRELLIS's layout exactly. gaussians.ply is in the Y-up frame TRELLIS's save_ply writes, positions in
// [−0.5, 0.5]³; our scene frame (y down) maps to it by a 180° rotation about x: (x, y, z) ↦ s·(x, −y, −z) with
// s = 0.5 / kSynthObjectRadius · 0.95. coords.pt (and slat.pt's coords) are on TRELLIS's Z-up grid: voxel (x, y, z)
// there is voxel (x, 63 − z, y) of the PLY frame's grid, which covers [v/64 − 0.5, (v+1)/64 − 0.5) per axis.
// metadata.json says so ("coords_frame": "trellis_z_up"); the loader rotates coords into the PLY's frame.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace fresnel::synth {

// features.pt of an image (518,518,3) in [0,1]: (1, M, C). `synth --v2 --dinov2_weights` passes TRELLIS's DINOv2
// conditioning (encode::trellis_condition_features); unset = the fixed patch embedding below.
using V2FeatureFn = std::function<torch::Tensor(const torch::Tensor& rgb)>;

struct V2Options {
  std::string out_dir;
  int64_t objects = 100;
  uint64_t seed = 0;
  int supersample = 2;
  V2FeatureFn features;              // unset: v2_patch_features
  std::string features_description;  // metadata.json "features" when `features` is set
  // Only choose the objects (the random stream of `fresnel synth` draws the views before the light): the same
  // values as a `fresnel synth` run give its objects. Defaults are synth's.
  int views = 8;
  double azimuth_range_deg = 60;
  double elevation_range_deg = 20;
};

constexpr int kV2ImageSize = 518;
constexpr int kV2Grid = 64;

constexpr int kV2PatchFrequencies = 8;  // per image axis, sin and cos each
constexpr int kV2PatchFeatureDim = 14 * 14 * 3 + 4 * kV2PatchFrequencies;

// The fixed conditioning embedding written as features.pt: (518,518,3) RGB in [0,1] → (1, 1369, 620). Each token is
// its 14×14 patch, quantised to 8 bits (what image.png holds) and mapped to 2·rgb − 1, followed by where the patch
// is: sin and cos of π·2^k·u and π·2^k·v (k = 0..7; u, v ∈ (0,1) the patch centre's column and row). Without the
// position a query cannot tell which patch shows its voxel (DINOv2's tokens carry theirs from its position
// embedding), and the decoder learns only the object's mean colour.
torch::Tensor v2_patch_features(const torch::Tensor& rgb);
// An image file as `v2 infer --image` feeds it to either embedding: RGB (518,518,3) in [0,1], resized (area
// filter) when it is not 518². Throws fresnel::Error naming the file when it is missing or undecodable.
torch::Tensor v2_load_image(const std::string& image_path);
// The fixed patch embedding of an image file: v2_patch_features(v2_load_image(path)).
torch::Tensor v2_image_features(const std::string& image_path);

// Writes one folder per object (obj_00000, …); existing complete folders are kept (resumable).
void generate_v2_dataset(const V2Options& options);

}  // namespace fresnel::synth
