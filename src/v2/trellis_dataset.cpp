#include "v2/trellis_dataset.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/image_io.hpp"
#include "core/ply_table.hpp"
#include "core/sh_constants.hpp"
#include "core/torch_pt.hpp"
#include "v2/trellis_frame.hpp"

namespace fs = std::filesystem;

namespace fresnel::v2 {

namespace {
const char* const kRequired[] = {"features.pt", "coords.pt", "slat.pt", "gaussians.ply"};

bool has_required(const fs::path& d) {
  for (const char* f : kRequired)
    if (!fs::exists(d / f)) return false;
  return true;
}

// Random subset of `keep` rows (the original's randperm(n)[:keep]) or all rows.
torch::Tensor subset_rows(int64_t n, int64_t keep, torch::Generator& gen) {
  if (n <= keep) return torch::arange(n, torch::kLong);
  return torch::randperm(n, gen, torch::kLong).narrow(0, 0, keep);
}

// A JSON file, or one error naming it.
nlohmann::json read_json(const fs::path& path) {
  try {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw file_error(path.string(), std::string("not valid JSON: ") + e.what());
  }
}

// `count` voxels of the 64³ grid that are not in `occupied` (n,3): the first half uniform over the grid, the rest
// at a random offset of up to 3 voxels from a random occupied voxel (within the grid); rejection sampling.
torch::Tensor negative_voxels(const torch::Tensor& occupied, int64_t count, torch::Generator& gen) {
  const int64_t R = kTrellisGrid;
  auto taken = torch::zeros({R * R * R}, torch::kBool);
  if (occupied.size(0) > 0)
    taken.index_put_({(occupied.select(1, 0) * R + occupied.select(1, 1)) * R + occupied.select(1, 2)}, true);
  const bool* is_taken = taken.data_ptr<bool>();
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(3 * count));
  const int64_t near = occupied.size(0) > 0 ? count / 2 : 0;
  for (int attempt = 0; attempt < 64 && static_cast<int64_t>(out.size() / 3) < count; ++attempt) {
    const bool want_near = static_cast<int64_t>(out.size() / 3) < near;
    const int64_t m = 2 * count;
    torch::Tensor cand;
    if (want_near) {
      auto base = occupied.index_select(0, torch::randint(occupied.size(0), {m}, gen, torch::kLong));
      cand = (base + torch::randint(-3, 4, {m, 3}, gen, torch::kLong)).clamp(0, R - 1);
    } else {
      cand = torch::randint(R, {m, 3}, gen, torch::kLong);
    }
    const auto* c = cand.data_ptr<int64_t>();
    for (int64_t i = 0; i < m && static_cast<int64_t>(out.size() / 3) < (want_near ? near : count); ++i) {
      const int64_t key = (c[3 * i] * R + c[3 * i + 1]) * R + c[3 * i + 2];
      if (is_taken[key]) continue;
      out.insert(out.end(), {c[3 * i], c[3 * i + 1], c[3 * i + 2]});
    }
  }
  const int64_t n = static_cast<int64_t>(out.size() / 3);
  if (n < count) throw Error("v2 dataset: fewer than " + std::to_string(count) + " empty voxels to sample");
  return torch::from_blob(out.data(), {n, 3}, torch::kLong).clone();
}

// For each target position (n,3) in the [−1,1] frame, the row of `voxel_xyz` (m,3) whose centre is nearest among the
// 27 voxels around the one holding it, or −1 when none of those is in voxel_xyz. A dense id grid keeps it O(27·n).
torch::Tensor owner_voxels(const torch::Tensor& positions, const torch::Tensor& voxel_xyz) {
  const int64_t G = kTrellisGrid, n = positions.size(0);
  auto ids = torch::full({G * G * G}, -1, torch::kLong);
  if (voxel_xyz.size(0) > 0) {
    const auto v = voxel_xyz.to(torch::kLong);
    ids.index_put_({(v.select(1, 0) * G + v.select(1, 1)) * G + v.select(1, 2)},
                   torch::arange(voxel_xyz.size(0), torch::kLong));
  }
  const auto pos = positions.to(torch::kFloat32);
  const auto home = ((pos + 1) * (G / 2.0)).floor().to(torch::kLong).clamp(0, G - 1);
  auto owner = torch::full({n}, -1, torch::kLong);
  auto best = torch::full({n}, std::numeric_limits<float>::infinity());
  for (int dx = -1; dx <= 1; ++dx)
    for (int dy = -1; dy <= 1; ++dy)
      for (int dz = -1; dz <= 1; ++dz) {
        const auto cell = home + torch::tensor({dx, dy, dz}, torch::kLong);
        const auto inside = ((cell >= 0) & (cell < G)).all(1);
        const auto c = cell.clamp(0, G - 1);
        const auto id = ids.index_select(0, (c.select(1, 0) * G + c.select(1, 1)) * G + c.select(1, 2));
        const auto centre = (c.to(torch::kFloat32) + 0.5) / (G / 2.0) - 1;
        const auto d = (pos - centre).pow(2).sum(1);
        const auto better = inside & (id >= 0) & (d < best);
        owner = torch::where(better, id, owner);
        best = torch::where(better, d, best);
      }
  return owner;
}

torch::Tensor pad_rows(const torch::Tensor& t, int64_t rows) {
  if (t.size(0) >= rows) return t;
  std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
  shape[0] = rows - t.size(0);
  return torch::cat({t, torch::zeros(shape, t.options())}, 0);
}
}  // namespace

torch::Tensor trellis_grid_to_ply_grid(const torch::Tensor& xyz) {
  // T·((c + ½)/64 − ½) = (c_x, −c_z, c_y)/64 + … = the centre of voxel (c_x, 63 − c_z, c_y).
  return torch::stack({xyz.select(-1, 0), (kTrellisGrid - 1) - xyz.select(-1, 2), xyz.select(-1, 1)}, -1);
}

torch::Tensor ply_grid_to_trellis_grid(const torch::Tensor& xyz) {
  return torch::stack({xyz.select(-1, 0), xyz.select(-1, 2), (kTrellisGrid - 1) - xyz.select(-1, 1)}, -1);
}

CoordsFrame sample_coords_frame(const std::string& sample_dir) {
  const fs::path path = fs::path(sample_dir) / "metadata.json";
  if (!fs::exists(path)) return CoordsFrame::TrellisZUp;
  const nlohmann::json j = read_json(path);
  if (!j.is_object()) return CoordsFrame::TrellisZUp;
  if (auto it = j.find("coords_frame"); it != j.end()) {
    if (*it == "trellis_z_up") return CoordsFrame::TrellisZUp;
    if (*it == "gaussians_ply") return CoordsFrame::GaussiansPly;
    throw file_error(path.string(),
                     "coords_frame is " + it->dump() + "; expected \"trellis_z_up\" or \"gaussians_ply\"");
  }
  const bool old_synth = j.contains("generator") && j["generator"] == "fresnel synth --v2";
  return old_synth ? CoordsFrame::GaussiansPly : CoordsFrame::TrellisZUp;
}

std::vector<std::string> find_trellis_samples(const std::string& dir) {
  if (!fs::is_directory(dir)) throw file_error(dir, "is not a directory");
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && has_required(e.path())) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

torch::Tensor trellis_gaussian_targets(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, "cannot open");
  const auto header = read_ply_header(in, path);
  const std::vector<std::string> wanted = {"x",     "y",     "z",     "scale_0", "scale_1", "scale_2", "rot_0",
                                           "rot_1", "rot_2", "rot_3", "f_dc_0",  "f_dc_1",  "f_dc_2",  "opacity"};
  auto cols = read_ply_columns(in, header, "vertex", wanted, path);
  const int64_t n = cols.empty() ? 0 : static_cast<int64_t>(cols[0].size());
  for (size_t i = 0; i < wanted.size(); ++i)
    if (static_cast<int64_t>(cols[i].size()) != n || (n > 0 && cols[i].empty()))
      throw file_error(path, "has no vertex property '" + wanted[i] + "' (not a TRELLIS/3DGS Gaussian PLY)");
  auto raw = torch::empty({n, 14});
  for (size_t i = 0; i < wanted.size(); ++i)
    raw.select(1, static_cast<int64_t>(i)).copy_(torch::from_blob(cols[i].data(), {n}, torch::kFloat32));
  auto pos = raw.narrow(1, 0, 3) * 2.0;
  auto scale = raw.narrow(1, 3, 3).exp().clamp(1e-6, 1.0);
  auto rot = raw.narrow(1, 6, 4);
  rot = rot / rot.norm(2, 1, true).clamp_min(1e-6);
  auto color = (raw.narrow(1, 10, 3) * sh::kC0 + 0.5).clamp(0.0, 1.0);
  auto opacity = torch::sigmoid(raw.narrow(1, 13, 1));
  return torch::nan_to_num(torch::cat({pos, scale, rot, color, opacity}, 1), 0.0, 1.0, -1.0);
}

torch::Tensor occupancy_targets(const torch::Tensor& voxel_xyz, const torch::Tensor& positions, double threshold) {
  const int64_t n = voxel_xyz.size(0);
  auto occ = torch::zeros({n});
  if (n == 0 || positions.size(0) == 0) return occ;
  auto corners = voxel_xyz.to(torch::kFloat32) / 64.0 * 2 - 1;
  const int64_t chunk = std::max<int64_t>(1, (1 << 22) / std::max<int64_t>(1, positions.size(0)));
  for (int64_t i = 0; i < n; i += chunk) {
    const int64_t m = std::min(chunk, n - i);
    auto d = torch::cdist(corners.narrow(0, i, m), positions.to(torch::kFloat32));
    occ.narrow(0, i, m).copy_((std::get<0>(d.min(1)) < threshold).to(torch::kFloat32));
  }
  return occ;
}

TrellisSample load_trellis_sample(const std::string& dir, const TrellisDatasetOptions& o, torch::Generator gen) {
  if (!gen.defined()) gen = at::detail::getDefaultCPUGenerator();
  const fs::path d(dir);
  TrellisSample s;
  s.name = d.filename().string();
  auto features = load_pt_tensor((d / "features.pt").string()).to(torch::kFloat32);
  if (features.dim() == 3 && features.size(0) == 1) features = features.squeeze(0);
  if (features.dim() != 2)
    throw file_error((d / "features.pt").string(),
                     "expected (1,M,C) or (M,C) features, got " + c10::str(features.sizes()));
  s.features = torch::nan_to_num(features, 0.0, 1.0, -1.0);

  const std::string coords_path = (d / "coords.pt").string();
  auto coords = load_pt_tensor(coords_path);
  if (coords.dim() != 2 || coords.size(1) != 4 || coords.is_floating_point())
    throw file_error(coords_path, "expected (N,4) integer coords, got " + c10::str(coords.sizes()));
  coords = coords.to(torch::kLong);
  const std::string slat_path = (d / "slat.pt").string();
  auto slat = PtFile::open(slat_path);
  auto slat_feats = slat.tensor(slat.at(slat.root(), "feats"), "feats").to(torch::kFloat32);
  auto slat_coords = slat.tensor(slat.at(slat.root(), "coords"), "coords").to(torch::kLong);
  if (slat_coords.dim() != 2 || slat_coords.size(1) != 4)
    throw file_error(slat_path, "expected (N,4) coords, got " + c10::str(slat_coords.sizes()));
  if (slat_feats.dim() != 2 || slat_feats.size(0) != coords.size(0) || slat_coords.size(0) != coords.size(0))
    throw file_error(slat_path, "feats/coords rows (" + std::to_string(slat_feats.size(0)) +
                                    ") do not match coords.pt (" + std::to_string(coords.size(0)) + ")");
  const auto xyz = coords.narrow(1, 1, 3);
  if (coords.size(0) > 0 && (xyz.min().item<int64_t>() < 0 || xyz.max().item<int64_t>() >= kTrellisGrid))
    throw file_error(coords_path, "voxel indices outside the 64³ grid");
  if (sample_coords_frame(dir) == CoordsFrame::TrellisZUp) {
    coords = torch::cat({coords.narrow(1, 0, 1), trellis_grid_to_ply_grid(xyz)}, 1);
    slat_coords = torch::cat({slat_coords.narrow(1, 0, 1), trellis_grid_to_ply_grid(slat_coords.narrow(1, 1, 3))}, 1);
  }

  auto targets = trellis_gaussian_targets((d / "gaussians.ply").string());
  const auto all_xyz = coords.narrow(1, 1, 3);
  torch::Tensor ci;
  if (o.targets_of_decoded_voxels && coords.size(0) > o.max_coords) {
    // Only the targets of the voxels that are decoded: each Gaussian belongs to the voxel whose centre is nearest.
    ci = subset_rows(coords.size(0), o.max_coords, gen);
    auto decoded = torch::zeros({coords.size(0) + 1}, torch::kBool);  // slot 0: no owner
    decoded.index_fill_(0, ci + 1, true);
    const auto owner = owner_voxels(targets.narrow(1, 0, 3), all_xyz);
    targets = targets.index_select(0, decoded.index_select(0, owner + 1).nonzero().squeeze(1));
    targets = targets.index_select(0, subset_rows(targets.size(0), o.max_gaussians, gen));
  } else {
    targets = targets.index_select(0, subset_rows(targets.size(0), o.max_gaussians, gen));
    ci = subset_rows(coords.size(0), o.max_coords, gen);
  }
  s.n_gaussians = targets.size(0);
  s.gaussians = pad_rows(targets, o.max_gaussians);
  coords = coords.index_select(0, ci);
  s.n_coords = coords.size(0);
  s.coords = pad_rows(coords, o.max_coords);
  s.slat_feats = pad_rows(slat_feats.index_select(0, ci), o.max_coords);
  s.slat_coords = pad_rows(slat_coords.index_select(0, ci), o.max_coords);
  s.gaussian_mask = torch::arange(o.max_gaussians) < s.n_gaussians;
  s.coord_mask = torch::arange(o.max_coords) < s.n_coords;
  s.occupancy_target =
      pad_rows(occupancy_targets(coords.narrow(1, 1, 3), targets.narrow(1, 0, 3), o.occupancy_threshold), o.max_coords);
  s.surface_mask = s.coord_mask.clone();
  if (o.negative_voxels > 0) {
    auto negatives = negative_voxels(all_xyz, o.negative_voxels, gen);
    auto rows = torch::cat({torch::zeros({negatives.size(0), 1}, torch::kLong), negatives}, 1);
    s.coords = torch::cat({s.coords, rows});
    s.coord_mask = torch::cat({s.coord_mask, torch::ones({negatives.size(0)}, torch::kBool)});
    s.surface_mask = torch::cat({s.surface_mask, torch::zeros({negatives.size(0)}, torch::kBool)});
    s.occupancy_target = torch::cat({s.occupancy_target, torch::zeros({negatives.size(0)}, s.occupancy_target.options())});
  }
  if (o.pixel_aligned)
    s.pixel = pixel_query(s.coords.narrow(1, 1, 3), load_sample_frame(dir), load_image((d / "image.png").string()),
                          kTrellisGrid, all_xyz);  // visibility against every voxel of the object, not the subset
  return s;
}

TrellisBatch collate(const std::vector<TrellisSample>& samples) {
  TrellisBatch b;
  std::vector<torch::Tensor> f, c, cm, sm, g, gm, occ, uv, rgb, vis;
  for (const auto& s : samples) {
    b.names.push_back(s.name);
    f.push_back(s.features);
    c.push_back(s.coords);
    cm.push_back(s.coord_mask);
    sm.push_back(s.surface_mask);
    g.push_back(s.gaussians);
    gm.push_back(s.gaussian_mask);
    occ.push_back(s.occupancy_target);
    if (s.pixel.defined()) {
      uv.push_back(s.pixel.uv);
      rgb.push_back(s.pixel.rgb);
      if (s.pixel.visibility.defined()) vis.push_back(s.pixel.visibility);
    }
  }
  if (!uv.empty() && uv.size() != samples.size()) throw Error("v2 batch: pixel queries on some samples only");
  for (size_t i = 1; i < f.size(); ++i)
    if (f[i].sizes() != f[0].sizes())
      throw Error("v2 batch: features of '" + b.names[i] + "' are " + c10::str(f[i].sizes()) + " but '" + b.names[0] +
                  "' has " + c10::str(f[0].sizes()));
  b.features = torch::stack(f);
  b.coords = torch::stack(c);
  b.coord_mask = torch::stack(cm);
  b.surface_mask = torch::stack(sm);
  b.gaussians = torch::stack(g);
  b.gaussian_mask = torch::stack(gm);
  b.occupancy_target = torch::stack(occ);
  if (!uv.empty()) b.pixel = {torch::stack(uv), torch::stack(rgb)};
  if (!vis.empty()) {
    if (vis.size() != uv.size()) throw Error("v2 batch: voxel visibility on some samples only");
    b.pixel.visibility = torch::stack(vis);
  }
  return b;
}

Split split_indices(int64_t n, double val_fraction, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto perm = torch::randperm(n, gen, torch::kLong);
  const int64_t n_val = static_cast<int64_t>(static_cast<double>(n) * val_fraction);
  Split s;
  for (int64_t i = 0; i < n; ++i) (i < n - n_val ? s.train : s.val).push_back(perm[i].item<int64_t>());
  return s;
}

int64_t DatasetReport::valid() const {
  return std::count_if(samples.begin(), samples.end(), [](const SampleReport& r) { return r.valid; });
}

DatasetReport check_trellis_dataset(const std::string& dir, const TrellisDatasetOptions& options) {
  if (!fs::is_directory(dir)) throw file_error(dir, "is not a directory");
  DatasetReport report;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    SampleReport r;
    r.name = d.filename().string();
    for (const char* f : kRequired)
      if (!fs::exists(d / f)) r.problem += (r.problem.empty() ? "missing " : ", ") + std::string(f);
    if (r.problem.empty()) {
      try {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
        auto s = load_trellis_sample(d.string(), options, gen);
        if (s.n_gaussians == 0) r.problem = "gaussians.ply holds no Gaussians";
      } catch (const Error& e) {
        r.problem = e.what();
      }
    }
    r.valid = r.problem.empty();
    report.samples.push_back(r);
  }
  const fs::path failures = fs::path(dir) / "_failures.json";
  if (fs::exists(failures)) {
    const nlohmann::json j = read_json(failures);
    if (!j.is_object()) throw file_error(failures.string(), "expected an object {image: failure count}");
    for (const auto& [name, count] : j.items())
      if (count.is_number_integer() && count.get<int64_t>() >= 2) report.skipped_images.push_back(name);
  }
  return report;
}

}  // namespace fresnel::v2
