#include "data/synth_v2.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "core/ply_table.hpp"
#include "core/progress.hpp"
#include "core/sh_constants.hpp"
#include "core/torch_pt.hpp"
#include "data/synth_scene.hpp"

namespace fs = std::filesystem;

namespace fresnel::synth {
namespace {

constexpr double kScale = 0.5 / kSynthObjectRadius * 0.95;

Vec3 to_local(const Primitive& p, const Vec3& w) {
  const Vec3 d{w[0] - p.center[0], w[1] - p.center[1], w[2] - p.center[2]};
  const auto& R = p.rotation;  // local→world row-major: local = Rᵀ·d
  return {R[0] * d[0] + R[3] * d[1] + R[6] * d[2], R[1] * d[0] + R[4] * d[1] + R[7] * d[2],
          R[2] * d[0] + R[5] * d[1] + R[8] * d[2]};
}

bool inside(const Primitive& p, const Vec3& w) {
  const Vec3 l = to_local(p, w);
  const double x = l[0], y = l[1], z = l[2];
  switch (p.type) {
    case PrimitiveType::Sphere:
      return x * x + y * y + z * z < p.size[0] * p.size[0];
    case PrimitiveType::Box:
      return std::abs(x) < p.size[0] && std::abs(y) < p.size[1] && std::abs(z) < p.size[2];
    case PrimitiveType::Cylinder:
      return x * x + z * z < p.size[0] * p.size[0] && std::abs(y) < p.size[1];
    case PrimitiveType::Cone: {
      if (std::abs(y) >= p.size[1]) return false;
      const double r = p.size[0] * (p.size[1] - y) / (2 * p.size[1]);  // apex at +h
      return x * x + z * z < r * r;
    }
    case PrimitiveType::Torus: {
      const double q = std::sqrt(x * x + z * z) - p.size[0];
      return q * q + y * y < p.size[1] * p.size[1];
    }
  }
  return false;
}

bool inside(const Scene& s, const Vec3& w) {
  for (const auto& p : s.primitives)
    if (inside(p, w)) return true;
  return false;
}

// TRELLIS frame ↔ scene frame: p_trellis = s·diag(1,−1,−1)·Y(θ)·p_scene (v2/trellis_frame.hpp), θ the input view's
// azimuth, so the input camera looks at every object from TRELLIS's +z: a procedural object has no front of its
// own, and a model can only learn where a voxel shows in the image when the view's turn is fixed.
struct ObjectFrame {
  double cos_yaw = 1, sin_yaw = 0;
  explicit ObjectFrame(double yaw) : cos_yaw(std::cos(yaw)), sin_yaw(std::sin(yaw)) {}
  // Directions (no scale): Yᵀ·diag(1,−1,−1)·d.
  Vec3 direction_to_scene(double x, double y, double z) const {
    return {cos_yaw * x + sin_yaw * z, -y, sin_yaw * x - cos_yaw * z};
  }
  Vec3 to_scene(double x, double y, double z) const { return direction_to_scene(x / kScale, y / kScale, z / kScale); }
  std::array<float, 3> to_trellis(const Vec3& w) const {
    return {float((cos_yaw * w[0] + sin_yaw * w[2]) * kScale), float(-w[1] * kScale),
            float(-(-sin_yaw * w[0] + cos_yaw * w[2]) * kScale)};
  }
};

// w-first quaternion rotating local z onto the unit vector n.
std::array<float, 4> quat_z_to(const std::array<float, 3>& n) {
  const double d = n[2];
  if (d < -0.999999) return {0.f, 1.f, 0.f, 0.f};
  // axis = z × n = (−n_y, n_x, 0); q = (1 + d, axis) normalised.
  double w = 1 + d, x = -n[1], y = n[0], z = 0;
  const double norm = std::sqrt(w * w + x * x + y * y + z * z);
  return {float(w / norm), float(x / norm), float(y / norm), float(z / norm)};
}

}  // namespace

torch::Tensor v2_patch_features(const torch::Tensor& rgb) {
  if (rgb.dim() != 3 || rgb.size(0) != kV2ImageSize || rgb.size(1) != kV2ImageSize || rgb.size(2) != 3)
    throw Error("v2 patch features: expected a (518,518,3) image, got " + c10::str(rgb.sizes()));
  auto quantised = (rgb.to(torch::kFloat32).clamp(0.0, 1.0) * 255).round() / 255;  // what image.png holds
  constexpr int P = kV2ImageSize / 14, pixels = 14 * 14 * 3;
  auto patches = quantised.view({P, 14, P, 14, 3}).permute({0, 2, 1, 3, 4}).reshape({1, P * P, pixels});
  // Patch centres (row v, column u) in (0,1), then sin/cos of π·2^k times each.
  auto centre = (torch::arange(P, torch::kFloat32) + 0.5) / P;
  auto v = centre.view({P, 1}).expand({P, P}).reshape({P * P, 1});
  auto u = centre.view({1, P}).expand({P, P}).reshape({P * P, 1});
  auto freq = torch::pow(2.0, torch::arange(kV2PatchFrequencies, torch::kFloat32)).view({1, -1}) * M_PI;
  auto position = torch::cat({torch::sin(u * freq), torch::cos(u * freq), torch::sin(v * freq), torch::cos(v * freq)}, 1);
  return torch::cat({patches * 2 - 1, position.unsqueeze(0)}, 2).contiguous();
}

torch::Tensor v2_load_image(const std::string& image_path) {
  auto rgb = load_image(image_path);
  if (rgb.size(0) != kV2ImageSize || rgb.size(1) != kV2ImageSize)
    rgb = resize_image(rgb, kV2ImageSize, kV2ImageSize, ResizeFilter::Area);
  return rgb.contiguous();
}

torch::Tensor v2_image_features(const std::string& image_path) { return v2_patch_features(v2_load_image(image_path)); }

namespace {

void write_object(const fs::path& dir, const V2Options& o, int64_t index) {
  const uint64_t seed = o.seed;
  const ObjectSpec spec = random_object(seed, index, o.views, {o.azimuth_range_deg, o.elevation_range_deg});
  const Scene& scene = spec.scene;
  const ObjectFrame frame(spec.input_azimuth);
  // image.png and its features (the fixed patch embedding, or what V2Options::features computes).
  const Camera cam = synth_camera(spec.input_azimuth, spec.input_elevation, kV2ImageSize);
  auto rgb = raycast(scene, cam, o.supersample).rgb.clamp(0.0, 1.0);  // (518,518,3)
  save_image((dir / "image.png").string(), rgb);
  save_cameras_json((dir / "cameras.json").string(), {cam});
  save_pt((dir / "features.pt").string(), PtValue(o.features ? o.features(rgb) : v2_patch_features(rgb)));

  // Surface voxels: i, j, k index the 64³ grid of gaussians.ply's frame (voxel v covers [v/64 − ½, (v+1)/64 − ½)).
  const int G = kV2Grid;
  std::vector<uint8_t> in(G * G * G);
  auto centre = [&](int v) { return (v + 0.5) / G - 0.5; };
  for (int i = 0; i < G; ++i)
    for (int j = 0; j < G; ++j)
      for (int k = 0; k < G; ++k) in[(i * G + j) * G + k] = inside(scene, frame.to_scene(centre(i), centre(j), centre(k)));
  auto at = [&](int i, int j, int k) {
    return i >= 0 && j >= 0 && k >= 0 && i < G && j < G && k < G && in[(i * G + j) * G + k];
  };
  // coords.pt as TRELLIS writes it: on its Z-up grid, in argwhere's order. TRELLIS voxel (x, y, z) is voxel
  // (x, 63 − z, y) of the PLY frame's grid (save_ply's rotation; v2/trellis_dataset.hpp).
  std::vector<int32_t> voxels;
  std::vector<int64_t> voxel_id(G * G * G, -1);
  for (int x = 0; x < G; ++x)
    for (int y = 0; y < G; ++y)
      for (int z = 0; z < G; ++z) {
        const int i = x, j = G - 1 - z, k = y;
        if (at(i, j, k) && !(at(i - 1, j, k) && at(i + 1, j, k) && at(i, j - 1, k) && at(i, j + 1, k) &&
                             at(i, j, k - 1) && at(i, j, k + 1))) {
          voxel_id[(i * G + j) * G + k] = static_cast<int64_t>(voxels.size() / 4);
          voxels.insert(voxels.end(), {0, x, y, z});
        }
      }
  const int64_t N = static_cast<int64_t>(voxels.size() / 4);
  if (N == 0) throw Error("synth --v2: object " + std::to_string(index) + " has no surface voxel");
  auto coords = torch::from_blob(voxels.data(), {N, 4}, torch::kInt32).clone();
  save_pt((dir / "coords.pt").string(), PtValue(coords));

  // Surface Gaussians: first hits of axis-aligned rays from the 6 directions, R² rays a face (~8 Gaussians a surface
  // voxel at R = 128). Each is a disc as wide as the ray spacing (σ = ½ voxel) and a tenth of a voxel thick: discs of
  // a whole voxel (σ = 1/64) blurred every edge and scored 3.6 dB lower in the views of 4 test objects
  // (docs/benchmarks.md, "Fifth run").
  std::vector<float> rows;  // 17 per Gaussian
  auto slat = torch::zeros({N, 8});
  auto slat_a = slat.accessor<float, 2>();
  const int R = 128;
  for (int axis = 0; axis < 3; ++axis)
    for (int sign : {-1, 1})
      for (int a = 0; a < R; ++a)
        for (int b = 0; b < R; ++b) {
          const double u = (a + 0.5) / R - 0.5, v = (b + 0.5) / R - 0.5;
          double o[3], d[3] = {0, 0, 0};
          o[axis] = -sign * 0.75;
          o[(axis + 1) % 3] = u;
          o[(axis + 2) % 3] = v;
          d[axis] = sign;
          const Vec3 origin = frame.to_scene(o[0], o[1], o[2]);
          const Vec3 dir_scene = frame.direction_to_scene(d[0], d[1], d[2]);
          Hit hit;
          if (!intersect(scene, origin, dir_scene, hit)) continue;
          const Vec3 p{origin[0] + hit.t * dir_scene[0], origin[1] + hit.t * dir_scene[1],
                       origin[2] + hit.t * dir_scene[2]};
          const auto pt = frame.to_trellis(p);
          const auto nt = frame.to_trellis(hit.normal);
          const double nn = std::sqrt(nt[0] * nt[0] + nt[1] * nt[1] + nt[2] * nt[2]);
          const std::array<float, 3> n{float(nt[0] / nn), float(nt[1] / nn), float(nt[2] / nn)};
          const Vec3 c = shade(scene, hit);
          const auto q = quat_z_to(n);
          const float s_plane = std::log(1.0f / R), s_normal = std::log(0.1f / G);
          const float logit = std::log(0.95f / 0.05f);
          rows.insert(rows.end(), {pt[0], pt[1], pt[2], n[0], n[1], n[2], float((c[0] - 0.5) / sh::kC0),
                                   float((c[1] - 0.5) / sh::kC0), float((c[2] - 0.5) / sh::kC0), logit, s_plane,
                                   s_plane, s_normal, q[0], q[1], q[2], q[3]});
          // The hit's voxel gathers its structured-latent stand-in.
          int idx[3];
          for (int e = 0; e < 3; ++e) idx[e] = std::clamp(int(std::floor((pt[e] + 0.5) * G)), 0, G - 1);
          int64_t id = -1;
          for (int di = -1; di <= 1 && id < 0; ++di)
            for (int dj = -1; dj <= 1 && id < 0; ++dj)
              for (int dk = -1; dk <= 1 && id < 0; ++dk) {
                const int i = idx[0] + di, j = idx[1] + dj, k = idx[2] + dk;
                if (i >= 0 && j >= 0 && k >= 0 && i < G && j < G && k < G) id = voxel_id[(i * G + j) * G + k];
              }
          if (id < 0) continue;
          for (int e = 0; e < 3; ++e) {
            slat_a[id][e] += float(c[e]);
            slat_a[id][3 + e] += n[e];
          }
          slat_a[id][6] += 1;
        }
  auto count = slat.select(1, 6).clone();
  slat.narrow(1, 0, 6).div_(count.clamp_min(1).unsqueeze(1));
  slat.select(1, 6).copy_(torch::log1p(count));
  slat.select(1, 7).fill_(1);
  save_pt((dir / "slat.pt").string(), PtValue::of_dict({{"feats", PtValue(slat)}, {"coords", PtValue(coords)}}));

  const int64_t n_gauss = static_cast<int64_t>(rows.size() / 17);
  static const char* names[17] = {"x",       "y",      "z",      "nx",      "ny",      "nz",
                                  "f_dc_0",  "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1",
                                  "scale_2", "rot_0",  "rot_1",  "rot_2",   "rot_3"};
  std::vector<PlyColumnRef> cols;
  for (int i = 0; i < 17; ++i) cols.push_back({names[i], rows.data() + i, 17});
  atomic_write((dir / "gaussians.ply").string(),
               [&](std::ostream& os) { write_ply_float_table(os, "vertex", n_gauss, cols); });

  nlohmann::json meta = object_to_json(spec, seed, index);
  meta["generator"] = "fresnel synth --v2";
  meta["features"] = o.features ? o.features_description
                                 : "37x37 grid of 14x14 RGB patches of image.png, 2*rgb-1, and the patch position code (sin/cos of pi*2^k*u, v; k < 8), (1,1369,620)";
  meta["frame"] = "TRELLIS Y-up object frame: scene p -> s*diag(1,-1,-1)*Y(yaw)*p, s = " + std::to_string(kScale) +
                 ", yaw = the input azimuth (the input camera looks from +z)";
  meta["coords_frame"] = "trellis_z_up";  // coords.pt on TRELLIS's Z-up grid, gaussians.ply rotated as save_ply does
  meta["trellis_frame"] = {{"scale", kScale}, {"axes", {1, -1, -1}}, {"yaw_deg", spec.input_azimuth * 180 / M_PI}};
  meta["same_objects_as"] = "fresnel synth --seed " + std::to_string(seed) + " --views " + std::to_string(o.views) +
                            " --azimuth_range " + nlohmann::json(o.azimuth_range_deg).dump() + " --elevation_range " +
                            nlohmann::json(o.elevation_range_deg).dump();
  meta["num_voxels"] = N;
  meta["num_gaussians"] = n_gauss;
  write_text_file((dir / "metadata.json").string(), meta.dump(2));  // written last: marks the folder complete
}

}  // namespace

void generate_v2_dataset(const V2Options& o) {
  if (o.objects < 1) throw UsageError("--objects must be >= 1");
  if (o.views < 0) throw UsageError("--views must be >= 0");
  ensure_directory(o.out_dir);
  Progress bar("synth --v2", o.objects, "object");
  for (int64_t i = 0; i < o.objects; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "obj_%05lld", static_cast<long long>(i));
    const fs::path dir = fs::path(o.out_dir) / name;
    if (!fs::exists(dir / "metadata.json")) {
      ensure_directory(dir.string());
      write_object(dir, o, i);
    }
    bar.advance();
  }
  bar.finish();
}

}  // namespace fresnel::synth
