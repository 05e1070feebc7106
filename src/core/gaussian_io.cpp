#include "core/gaussian_io.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/gaussian_arrays.hpp"
#include "core/legacy_bin_format.hpp"
#include "core/log.hpp"
#include "core/ply_format.hpp"
#include "core/splat_format.hpp"

namespace fresnel {

namespace {

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext;
}

torch::Tensor to_tensor(const std::vector<float>& v, std::vector<int64_t> shape) {
  auto t = torch::empty(shape, torch::kFloat32);
  if (!v.empty()) std::memcpy(t.data_ptr<float>(), v.data(), v.size() * sizeof(float));
  return t;
}

void from_tensor(const torch::Tensor& t, std::vector<float>& v) {
  const auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  v.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

Gaussians arrays_to_gaussians(const GaussianArrays& a) {
  const int64_t n = a.count;
  Gaussians g;
  g.means = to_tensor(a.means, {n, 3});
  g.quats = to_tensor(a.quats, {n, 4});
  g.scales = to_tensor(a.scales, {n, 3});
  g.opacities = to_tensor(a.opacities, {n});
  g.colors = a.sh_coeffs == 0 ? to_tensor(a.colors, {n, 3}) : to_tensor(a.colors, {n, a.sh_coeffs, 3});
  if (!a.phases.empty()) g.phases = to_tensor(a.phases, {n, 3});
  return g;
}

GaussianArrays gaussians_to_arrays(const Gaussians& g) {
  GaussianArrays a;
  a.count = g.count();
  a.sh_coeffs = g.has_sh() ? int(g.colors.size(-2)) : 0;
  from_tensor(g.means, a.means);
  from_tensor(g.quats, a.quats);
  from_tensor(g.scales, a.scales);
  from_tensor(g.opacities, a.opacities);
  from_tensor(g.colors, a.colors);
  if (g.has_phases()) from_tensor(g.phases, a.phases);
  return a;
}

}  // namespace

GaussianFormat gaussian_format_for_path(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".ply") return GaussianFormat::Ply;
  if (ext == ".splat") return GaussianFormat::Splat;
  if (ext == ".bin") return GaussianFormat::LegacyBin;
  throw file_error(path, "unknown Gaussian file extension '" + ext + "' (supported: " +
                             supported_gaussian_extensions() + ")");
}

bool is_gaussian_file(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == ".ply" || ext == ".splat" || ext == ".bin";
}

std::string supported_gaussian_extensions() { return ".ply, .splat, .bin"; }

Gaussians load_gaussians(const std::string& path) { return load_gaussians(path, GaussianLoadOptions{}); }

Gaussians load_gaussians(const std::string& path, const GaussianLoadOptions& options) {
  const GaussianFormat format = gaussian_format_for_path(path);
  if (std::filesystem::is_directory(path)) throw file_error(path, "is a directory, not a Gaussian file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, "cannot open for reading (missing or unreadable)");
  GaussianArrays a;
  switch (format) {
    case GaussianFormat::Ply: a = read_gaussian_ply(in, path); break;
    case GaussianFormat::Splat: a = read_splat(in, path); break;
    case GaussianFormat::LegacyBin: a = read_legacy_bin(in, path); break;
  }
  if (in.bad()) throw file_error(path, "read error");
  a.check_sizes(path);
  if (!options.allow_invalid) check_finite(a, path);
  Gaussians g = arrays_to_gaussians(a);
  if (!options.allow_invalid) g.validate(path);
  return g;
}

void save_gaussians(const std::string& path, const Gaussians& g_in) {
  const GaussianFormat format = gaussian_format_for_path(path);
  Gaussians g = g_in;
  if (g.batched()) {
    if (g.batch_size() != 1)
      throw file_error(path, "cannot save a batch of " + std::to_string(g.batch_size()) +
                                 " scenes in one file; save each Gaussians::batch(b) separately");
    g = g.batch(0);
  }
  g.validate(path);
  const GaussianArrays a = gaussians_to_arrays(g);
  if (format != GaussianFormat::Ply) {
    if (a.sh_coeffs > 1)
      log_warn(path + ": this format stores RGB only; SH degree " + std::to_string(g.sh_degree()) +
               " is reduced to its view-independent colour");
    if (!a.phases.empty()) log_warn(path + ": this format has no phases; they are not saved");
  }
  atomic_write(path, [&](std::ostream& out) {
    switch (format) {
      case GaussianFormat::Ply: write_gaussian_ply(out, a); break;
      case GaussianFormat::Splat: write_splat(out, a); break;
      case GaussianFormat::LegacyBin: write_legacy_bin(out, a); break;
    }
  });
}

}  // namespace fresnel
