#include "core/gaussian_io.hpp"

#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/file_extension.hpp"
#include "core/gaussian_arrays.hpp"
#include "core/legacy_bin_format.hpp"
#include "core/log.hpp"
#include "core/ply_format.hpp"
#include "core/splat_format.hpp"
#include "core/spz_format.hpp"

namespace fresnel {

namespace {

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

// Writers without options, adapted to the table's signature.
template <void (*Write)(std::ostream&, const GaussianArrays&)>
void write_ignoring_options(std::ostream& out, const GaussianArrays& g, const GaussianSaveOptions&) {
  Write(out, g);
}

void write_spz_with_options(std::ostream& out, const GaussianArrays& g, const GaussianSaveOptions& options) {
  SpzWriteOptions spz;
  spz.version = options.spz_version;
  write_spz(out, g, spz);
}

}  // namespace

const std::vector<GaussianFormat>& gaussian_formats() {
  static const std::vector<GaussianFormat> formats = {
      {"ply", ".ply", "3DGS PLY with SH and phases; also reads the original's 14-property and TRELLIS PLYs",
       read_gaussian_ply, write_ignoring_options<write_gaussian_ply>, /*keeps_sh=*/true, /*keeps_phases=*/true},
      {"splat", ".splat", "antimatter15 splat viewer format, quantised RGB", read_splat,
       write_ignoring_options<write_splat>},
      {"bin", ".bin", "the original Fresnel's 14 floats per Gaussian", read_legacy_bin,
       write_ignoring_options<write_legacy_bin>},
      {"spz", ".spz", "Niantic's compressed format, v2-v4 read, v3 written (v4 on request), quantised", read_spz,
       write_spz_with_options, /*keeps_sh=*/true},
  };
  return formats;
}

// The row whose extension matches the path's (any case), or nullptr.
static const GaussianFormat* find_format_for_path(const std::string& path) {
  const std::string ext = lower_extension(path);
  for (const auto& f : gaussian_formats())
    if (f.extension == ext) return &f;
  return nullptr;
}

const GaussianFormat& gaussian_format_for_path(const std::string& path) {
  if (const GaussianFormat* f = find_format_for_path(path)) return *f;
  throw file_error(path, "unknown Gaussian file extension '" + lower_extension(path) +
                             "' (supported: " + supported_gaussian_extensions() + ")");
}

const GaussianFormat& gaussian_format_named(const std::string& name) {
  for (const auto& f : gaussian_formats())
    if (f.name == name) return f;
  throw UsageError("unknown Gaussian file format '" + name + "' (formats: " + join_list(gaussian_format_names()) + ")");
}

bool is_gaussian_file(const std::string& path) { return find_format_for_path(path) != nullptr; }

std::string supported_gaussian_extensions() {
  std::vector<std::string> exts;
  for (const auto& f : gaussian_formats()) exts.push_back(f.extension);
  return join_list(exts);
}

std::vector<std::string> gaussian_format_names() {
  std::vector<std::string> names;
  for (const auto& f : gaussian_formats()) names.push_back(f.name);
  return names;
}

std::string gaussian_formats_help() {
  std::vector<std::string> rows;
  for (const auto& f : gaussian_formats()) rows.push_back(f.extension + " (" + f.description + ")");
  return join_list(rows);
}

Gaussians load_gaussians(const std::string& path) { return load_gaussians(path, GaussianLoadOptions{}); }

Gaussians load_gaussians(const std::string& path, const GaussianLoadOptions& options) {
  const GaussianFormat& format = gaussian_format_for_path(path);
  if (!format.read) throw file_error(path, "the " + format.name + " format cannot be read");
  if (std::filesystem::is_directory(path)) throw file_error(path, "is a directory, not a Gaussian file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, "cannot open for reading (missing or unreadable)");
  GaussianArrays a = format.read(in, path);
  if (in.bad()) throw file_error(path, "read error");
  a.check_sizes(path);
  if (!options.allow_invalid) check_finite(a, path);
  Gaussians g = arrays_to_gaussians(a);
  if (!options.allow_invalid) g.validate(path);
  return g;
}

void save_gaussians(const std::string& path, const Gaussians& g_in, const GaussianSaveOptions& options) {
  const GaussianFormat& format = gaussian_format_for_path(path);
  if (!format.write) throw file_error(path, "the " + format.name + " format cannot be written");
  Gaussians g = g_in;
  if (g.batched()) {
    if (g.batch_size() != 1)
      throw file_error(path, "cannot save a batch of " + std::to_string(g.batch_size()) +
                                 " scenes in one file; save each Gaussians::batch(b) separately");
    g = g.batch(0);
  }
  g.validate(path);
  const GaussianArrays a = gaussians_to_arrays(g);
  if (!format.keeps_sh && a.sh_coeffs > 1)
    log_warn(path + ": this format stores RGB only; SH degree " + std::to_string(g.sh_degree()) +
             " is reduced to its view-independent colour");
  if (!format.keeps_phases && !a.phases.empty()) log_warn(path + ": this format has no phases; they are not saved");
  atomic_write(path, [&](std::ostream& out) { format.write(out, a, options); });
}

}  // namespace fresnel
