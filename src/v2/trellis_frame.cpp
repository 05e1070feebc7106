#include "v2/trellis_frame.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <vector>
#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "core/object_frame.hpp"
#include "decode/decoder_common.hpp"

namespace fresnel::v2 {
namespace fs = std::filesystem;

SampleFrame load_sample_frame(const std::string& sample_dir) {
  SampleFrame out;
  const std::string meta_path = (fs::path(sample_dir) / "metadata.json").string();
  const std::string cams_path = (fs::path(sample_dir) / "cameras.json").string();
  if (!fs::exists(meta_path)) throw file_error(meta_path, "not found (the sample's frame is needed)");
  if (!fs::exists(cams_path))
    throw file_error(cams_path,
                     "not found: the sample has no input camera (synth --v2 writes one since v2 infer --frame "
                     "camera exists; regenerate the dataset)");
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(read_text_file(meta_path));
  } catch (const nlohmann::json::exception& e) {
    throw file_error(meta_path, std::string("invalid JSON: ") + e.what());
  }
  const auto it = meta.find("trellis_frame");
  if (it == meta.end() || !it->is_object() || !it->contains("scale") || !(*it)["scale"].is_number() ||
      !it->contains("axes") || !(*it)["axes"].is_array() || (*it)["axes"].size() != 3)
    throw file_error(meta_path, "needs \"trellis_frame\": {\"scale\": s, \"axes\": [±1, ±1, ±1], \"yaw_deg\": θ}");
  out.frame.scale = (*it)["scale"].get<double>();
  if (!(out.frame.scale > 0) || !std::isfinite(out.frame.scale))
    throw file_error(meta_path, "trellis_frame.scale must be a positive number");
  double product = 1;
  for (int a = 0; a < 3; ++a) {
    const auto& v = (*it)["axes"][a];
    if (!v.is_number() || std::abs(std::abs(v.get<double>()) - 1) > 1e-9)
      throw file_error(meta_path, "trellis_frame.axes must hold three values ±1");
    out.frame.axes[a] = v.get<double>();
    product *= out.frame.axes[a];
  }
  if (product < 0) throw file_error(meta_path, "trellis_frame.axes is a mirror (product −1); only rotations map");
  if (it->contains("yaw_deg")) {
    const auto& yaw = (*it)["yaw_deg"];
    if (!yaw.is_number() || !std::isfinite(yaw.get<double>()))
      throw file_error(meta_path, "trellis_frame.yaw_deg must be a number (degrees)");
    out.frame.yaw_deg = yaw.get<double>();
  }
  const auto cams = load_cameras_json(cams_path);
  if (cams.empty()) throw file_error(cams_path, "no camera");
  out.input_camera = cams[0];
  return out;
}

Gaussians to_gaussians(const torch::Tensor& rows) {
  Gaussians g;
  g.means = rows.narrow(1, 0, 3) / 2.0;
  g.scales = rows.narrow(1, 3, 3).clamp_min(1e-8);
  auto q = rows.narrow(1, 6, 4);
  g.quats = q / q.norm(2, 1, true).clamp_min(1e-8);
  g.colors = rows.narrow(1, 10, 3).clamp(0.0, 1.0);
  g.opacities = rows.select(1, 13).clamp(0.0, 1.0);
  return g;
}

namespace {
// p_camera = A·p_trellis / s + t with A = R·Y(θ)ᵀ·diag(axes) (float64): the map both functions below apply.
struct TrellisToCamera {
  torch::Tensor A, t;
};
TrellisToCamera trellis_to_camera(const TrellisFrame& f, const Camera& cam) {
  const auto opts = torch::TensorOptions(torch::kFloat64);
  const Mat4& w = cam.world_to_camera;
  const double th = f.yaw_deg * M_PI / 180, c = std::cos(th), s = std::sin(th);
  const double yaw_t[3][3] = {{c, 0, -s}, {0, 1, 0}, {s, 0, c}};  // Y(θ)ᵀ
  TrellisToCamera out{torch::empty({3, 3}, opts), torch::empty({3}, opts)};
  auto a = out.A.accessor<double, 2>();
  for (int r = 0; r < 3; ++r) {
    for (int k = 0; k < 3; ++k) {
      double v = 0;
      for (int m = 0; m < 3; ++m) v += w[r * 4 + m] * yaw_t[m][k];
      a[r][k] = v * f.axes[k];
    }
    out.t[r] = w[r * 4 + 3];
  }
  return out;
}
}  // namespace

Gaussians trellis_to_camera_frame(const Gaussians& in, const TrellisFrame& f, const Camera& cam) {
  if (in.batched() || in.has_sh())
    throw Error("trellis_to_camera_frame: expects unbatched Gaussians with plain RGB colours");
  const auto [A, t] = trellis_to_camera(f, cam);
  Gaussians g = in;
  const auto dtype = in.means.scalar_type();
  g.means = (torch::matmul(in.means.to(torch::kFloat64), A.t()) / f.scale + t).to(dtype);
  g.scales = in.scales / f.scale;
  const auto qa = decode::matrix_to_quaternion(A.unsqueeze(0)).to(in.quats.scalar_type());
  g.quats = decode::quaternion_multiply(qa.expand({in.quats.size(0), 4}), in.quats);
  return g;
}

void save_in_camera_frame(const Gaussians& trellis, const SampleFrame& sample, const std::string& path) {
  save_gaussians(path, trellis_to_camera_frame(trellis, sample.frame, sample.input_camera));
  Camera at_origin = sample.input_camera;
  at_origin.world_to_camera = mat4_identity();
  save_frame_cameras(cameras_json_path_for(path), at_origin, nullptr, screen_filter_name(trellis_screen_filter()));
}

namespace {
// Voxel centres of gaussians.ply's R³ grid, (n,3) integer → the input camera's frame (n,3) float64.
torch::Tensor voxels_in_camera(const torch::Tensor& xyz, const SampleFrame& sf, int64_t resolution, const char* what) {
  if (xyz.dim() != 2 || xyz.size(1) != 3)
    throw Error(std::string(what) + ": voxels must be (n,3), got " + c10::str(xyz.sizes()));
  const auto [A, t] = trellis_to_camera(sf.frame, sf.input_camera);
  const auto centre = (xyz.to(torch::kFloat64) + 0.5) / static_cast<double>(resolution) - 0.5;  // gaussians.ply frame
  return torch::matmul(centre, A.t()) / sf.frame.scale + t;
}
}  // namespace

torch::Tensor project_voxels(const torch::Tensor& xyz, const SampleFrame& sf, int64_t resolution) {
  const auto p = voxels_in_camera(xyz, sf, resolution, "project_voxels");
  const Camera& c = sf.input_camera;
  const auto z = p.select(1, 2);
  const auto u = (c.fx * p.select(1, 0) / z.clamp_min(1e-9) + c.cx) / c.width * 2 - 1;
  const auto v = (c.fy * p.select(1, 1) / z.clamp_min(1e-9) + c.cy) / c.height * 2 - 1;
  const auto behind = z <= c.near_plane;
  // Behind the camera: far outside the image, where grid_sample's zero padding answers.
  return torch::stack({u.masked_fill(behind, 4.0), v.masked_fill(behind, 4.0)}, 1).to(torch::kFloat32);
}

torch::Tensor voxel_visibility(const torch::Tensor& xyz, const torch::Tensor& occupied, const SampleFrame& sf,
                               int64_t resolution) {
  const Camera& c = sf.input_camera;
  const int W = c.width, H = c.height;
  const double voxel = 1.0 / static_cast<double>(resolution) / sf.frame.scale;  // ℓ in the camera frame
  const auto occ = voxels_in_camera(occupied, sf, resolution, "voxel_visibility (occupied)").contiguous();
  const auto q = voxels_in_camera(xyz, sf, resolution, "voxel_visibility").contiguous();
  std::vector<double> zbuf(static_cast<size_t>(W) * static_cast<size_t>(H), std::numeric_limits<double>::infinity());
  const auto oa = occ.accessor<double, 2>();
  for (int64_t i = 0; i < occ.size(0); ++i) {
    const double z = oa[i][2];
    if (!(z > c.near_plane)) continue;
    const double u = c.fx * oa[i][0] / z + c.cx, v = c.fy * oa[i][1] / z + c.cy;
    const double half = 0.5 * std::sqrt(3.0) * std::max(c.fx, c.fy) * voxel / z;  // covers the cube's silhouette
    const int x0 = std::max(0, static_cast<int>(std::floor(u - half))), x1 = std::min(W - 1, static_cast<int>(std::floor(u + half)));
    const int y0 = std::max(0, static_cast<int>(std::floor(v - half))), y1 = std::min(H - 1, static_cast<int>(std::floor(v + half)));
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        double& d = zbuf[static_cast<size_t>(y) * W + x];
        d = std::min(d, z);
      }
  }
  auto out = torch::empty({q.size(0), 2}, torch::kFloat32);
  auto o = out.accessor<float, 2>();
  const auto qa = q.accessor<double, 2>();
  for (int64_t i = 0; i < q.size(0); ++i) {
    const double z = qa[i][2];
    o[i][0] = 0.0f;
    o[i][1] = -1.0f;
    if (!(z > c.near_plane)) continue;
    const double u = std::floor(c.fx * qa[i][0] / z + c.cx), v = std::floor(c.fy * qa[i][1] / z + c.cy);
    if (!(u >= 0 && u < W && v >= 0 && v < H)) continue;
    const double front = zbuf[static_cast<size_t>(v) * W + static_cast<size_t>(u)];
    if (!std::isfinite(front)) {  // nothing occupied along this pixel: seen, in front of everything
      o[i][0] = 1.0f;
      continue;
    }
    o[i][0] = z <= front + 1.5 * voxel ? 1.0f : 0.0f;
    o[i][1] = static_cast<float>(std::clamp((z - front) / (16.0 * voxel), -1.0, 1.0));
  }
  return out;
}

PixelQuery pixel_query(const torch::Tensor& xyz, const SampleFrame& sample, const torch::Tensor& image,
                       int64_t resolution, const torch::Tensor& occupied) {
  if (image.dim() != 3 || image.size(2) != 3) throw Error("pixel_query: the image must be (H,W,3), got " + c10::str(image.sizes()));
  namespace F = torch::nn::functional;
  PixelQuery q;
  q.uv = project_voxels(xyz, sample, resolution);
  const auto chw = image.to(torch::kFloat32).permute({2, 0, 1}).unsqueeze(0);
  q.rgb = F::grid_sample(chw, q.uv.view({1, -1, 1, 2}),
                         F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false))
              .view({3, -1})
              .t()
              .contiguous();
  if (occupied.defined()) q.visibility = voxel_visibility(xyz, occupied, sample, resolution);
  return q;
}

double OccupancyAgreement::accuracy() const {
  const int64_t all = true_pos + false_pos + false_neg + true_neg;
  return all ? double(true_pos + true_neg) / double(all) : 0.0;
}
double OccupancyAgreement::recall() const {
  return true_pos + false_neg ? double(true_pos) / double(true_pos + false_neg) : 0.0;
}
double OccupancyAgreement::precision() const {
  return true_pos + false_pos ? double(true_pos) / double(true_pos + false_pos) : 0.0;
}

OccupancyAgreement grid_occupancy_agreement(const torch::Tensor& predicted_xyz, const torch::Tensor& true_xyz,
                                            int64_t R) {
  const auto cells = [R](const torch::Tensor& xyz, const char* what) {
    if (xyz.dim() != 2 || xyz.size(1) != 3) throw Error(std::string("occupancy: ") + what + " voxels must be (n,3)");
    const auto v = xyz.to(torch::kLong);
    if (v.numel() && (v.min().item<int64_t>() < 0 || v.max().item<int64_t>() >= R))
      throw Error(std::string("occupancy: ") + what + " voxels outside the " + std::to_string(R) + "³ grid");
    auto grid = torch::zeros({R * R * R}, torch::kBool);
    grid.index_put_({(v.select(1, 0) * R + v.select(1, 1)) * R + v.select(1, 2)}, true);
    return grid;
  };
  const auto p = cells(predicted_xyz, "predicted"), t = cells(true_xyz, "true");
  OccupancyAgreement a;
  a.true_pos = (p & t).sum().item<int64_t>();
  a.false_pos = (p & ~t).sum().item<int64_t>();
  a.false_neg = (~p & t).sum().item<int64_t>();
  a.true_neg = R * R * R - a.true_pos - a.false_pos - a.false_neg;
  return a;
}

}  // namespace fresnel::v2
