// TRELLIS's object frame ↔ the input camera frame that `fresnel eval` scores (docs/v2.md, "Scoring v2").
// A sample records how its frame relates to its scene: metadata.json "trellis_frame" {"scale": s, "axes": [a,b,c],
// "yaw_deg": θ} means p_trellis = s·diag(a,b,c)·Y(θ)·p_scene, Y(θ) = [[cos θ, 0, sin θ], [0, 1, 0], [−sin θ, 0,
// cos θ]] a turn about the scene's vertical axis (absent: 0). synth --v2: s = 0.5/0.9·0.95 ≈ 0.5278, axes (1,−1,−1)
// (a 180° turn about x), θ = the input view's azimuth, so every object faces its input camera the same way (the
// camera looks along −z of TRELLIS's frame, from +z). cameras.json holds the input camera in the scene frame
// (world → camera). Then
//   p_camera = R·Y(θ)ᵀ·diag(a,b,c)·p_trellis / s + t,
// a rotation (det diag = +1 is required: a mirror cannot be carried by quaternions), a scale and a shift; scales
// divide by s, quaternions are pre-multiplied by the rotation's, colours and opacities are unchanged.
#pragma once
#include <torch/types.h>

#include <array>
#include <string>

#include "core/camera.hpp"
#include "core/gaussians.hpp"
#include "render/screen_filter.hpp"
#include "v2/slat_decoder.hpp"

namespace fresnel::v2 {

struct TrellisFrame {
  double scale = 1.0;                   // s
  std::array<double, 3> axes{1, 1, 1};  // each ±1, product +1
  double yaw_deg = 0;                   // θ
};

// The frame and input camera of one sample folder (metadata.json "trellis_frame", cameras.json's first camera).
// Throws fresnel::Error naming the file when either is missing or malformed (datasets written before cameras.json
// existed: regenerate with synth --v2).
struct SampleFrame {
  TrellisFrame frame;
  Camera input_camera;  // scene frame → input camera
};
SampleFrame load_sample_frame(const std::string& sample_dir);

// v2 Gaussian rows (N,14) [position×2, scale, quaternion wxyz, rgb, opacity] in the dataset frame → Gaussians in
// TRELLIS's frame (positions /2), as the original's direct_decoder_inference.py writes them.
Gaussians to_gaussians(const torch::Tensor& rows);

// Gaussians in TRELLIS's frame → the input camera's frame (camera at the origin, OpenCV axes). Plain RGB only.
Gaussians trellis_to_camera_frame(const Gaussians& trellis, const TrellisFrame& frame, const Camera& input_camera);

// TRELLIS renders its Gaussians with Mip-Splatting's rasterizer, kernel_size 0.1 (its GaussianRenderer), so every
// render of v2 Gaussians does too: the render loss, and `fresnel eval`/`render` of the files below. With 3DGS's
// dilation (0.3 px², opacity kept) the thin discs of gaussians.ply score 4.4 dB lower at 64² (docs/v2.md).
inline ScreenFilter trellis_screen_filter() { return ScreenFilter::mip(0.1); }

// Writes TRELLIS-frame Gaussians in the sample's input camera frame as `path` and, beside it, its cameras.json (the
// input camera at the origin, TRELLIS's screen filter): what `v2 infer --frame camera` writes for `fresnel eval`.
void save_in_camera_frame(const Gaussians& trellis, const SampleFrame& sample, const std::string& path);

// Where the centre of each voxel of gaussians.ply's R³ grid (xyz (n,3) integer, centre (v + ½)/R − ½ in TRELLIS's
// frame) shows in the sample's input image: (n,2) float32 in grid_sample's convention, u/W·2 − 1 and v/H·2 − 1 with
// pixel i covering [i, i+1) (docs/conventions.md). Voxels at or behind the near plane get (4,4), outside the image.
// What a pixel-aligned v2 decoder samples the image tokens at.
torch::Tensor project_voxels(const torch::Tensor& xyz, const SampleFrame& sample, int64_t resolution = 64);
// Whether the input view sees each voxel of `xyz` past the object's `occupied` voxels (both (n,3) integer on the R³
// grid): (n,2) float32 [visible, depth]. The occupied voxels are splatted into a z-buffer at the camera's resolution
// (each a square of its projected width √3·f·ℓ/z, ℓ = one voxel in the camera frame); at the pixel of a voxel's
// centre, depth = (z − z_buffer)/(16ℓ) clamped to [−1, 1] (0 on the first surface, > 0 behind it, < 0 in front;
// −1 where no occupied voxel covers the pixel) and visible = 1 when z ≤ z_buffer + 1.5ℓ (on or in front of the
// first surface), else 0. Voxels at or behind the near plane or outside the image: [0, −1]. What tells a
// pixel-aligned decoder which voxels the image's colour belongs to (`--pixel_visibility`).
torch::Tensor voxel_visibility(const torch::Tensor& xyz, const torch::Tensor& occupied, const SampleFrame& sample,
                               int64_t resolution = 64);
// What a pixel-aligned decoder's queries for these voxels see: project_voxels and the colour of `image` ((H,W,3) in
// [0,1], the sample's image.png at any size: uv is relative) sampled bilinearly there, and, when the object's
// `occupied` voxels are given, voxel_visibility against them. Unbatched: uv (n,2), rgb (n,3), visibility (n,2).
PixelQuery pixel_query(const torch::Tensor& xyz, const SampleFrame& sample, const torch::Tensor& image,
                       int64_t resolution = 64, const torch::Tensor& occupied = {});

// Predicted occupancy over the whole R³ grid against the true occupied voxels (coords.pt), per voxel of the grid:
// what `v2 infer --coords predicted` reports for a dataset sample. Voxels are (n,3) integer x,y,z in [0,R).
struct OccupancyAgreement {
  int64_t true_pos = 0, false_pos = 0, false_neg = 0, true_neg = 0;
  double accuracy() const;   // (tp + tn) / R³
  double recall() const;     // tp / (tp + fn)
  double precision() const;  // tp / (tp + fp)
};
OccupancyAgreement grid_occupancy_agreement(const torch::Tensor& predicted_xyz, const torch::Tensor& true_xyz,
                                            int64_t resolution);

}  // namespace fresnel::v2
