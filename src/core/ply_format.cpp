#include "core/ply_format.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <istream>
#include <ostream>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/ply_table.hpp"
#include "core/sh_constants.hpp"

namespace fresnel {

namespace {

bool parse_suffix(const std::string& name, const std::string& prefix, int64_t& index) {
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 6 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  index = std::stoll(digits);
  return true;
}

const char* const kRequired[] = {"x",       "y",       "z",       "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                                 "scale_0", "scale_1", "scale_2", "rot_0",  "rot_1",  "rot_2",  "rot_3"};

}  // namespace

GaussianArrays read_gaussian_ply(std::istream& in, const std::string& where) {
  const PlyHeader header = read_ply_header(in, where);
  const int vi = header.find("vertex");
  if (vi < 0) throw file_error(where, "PLY has no 'vertex' element (not a Gaussian splat file)");
  const PlyElement& vertex = header.elements[vi];

  std::string missing;
  for (const char* name : kRequired) {
    const int p = vertex.find(name);
    if (p < 0) {
      missing += (missing.empty() ? "" : ", ") + std::string(name);
    } else if (vertex.properties[p].is_list) {
      throw file_error(where, std::string("PLY property '") + name + "' is a list; a scalar is required");
    }
  }
  if (!missing.empty()) throw file_error(where, "PLY vertex element lacks required properties: " + missing);

  // SH rest coefficients: f_rest_0..M-1 must be contiguous and M = 3·(K − 1) for K ∈ {4, 9, 16}.
  int64_t rest = 0;
  std::vector<std::string> unknown;
  bool has_phase = true;
  for (const char* name : {"phase_0", "phase_1", "phase_2"}) {
    const int p = vertex.find(name);
    has_phase &= p >= 0 && !vertex.properties[p].is_list;
  }
  for (const auto& p : vertex.properties) {
    int64_t idx = 0;
    if (parse_suffix(p.name, "f_rest_", idx)) {
      rest = std::max(rest, idx + 1);
      continue;
    }
    const bool known = std::find_if(std::begin(kRequired), std::end(kRequired),
                                    [&](const char* r) { return p.name == r; }) != std::end(kRequired);
    const bool normal = p.name == "nx" || p.name == "ny" || p.name == "nz";
    const bool phase = has_phase && (p.name == "phase_0" || p.name == "phase_1" || p.name == "phase_2");
    if (!known && !normal && !phase) unknown.push_back(p.name);
  }
  if (rest > 45)
    throw file_error(where, "PLY has f_rest_" + std::to_string(rest - 1) + "; at most 45 (SH degree 3) are supported");
  for (int64_t i = 0; i < rest; ++i) {
    const int p = vertex.find("f_rest_" + std::to_string(i));
    if (p < 0)
      throw file_error(where, "PLY has f_rest_" + std::to_string(rest - 1) + " but lacks f_rest_" + std::to_string(i));
    if (vertex.properties[p].is_list)
      throw file_error(where, "PLY property 'f_rest_" + std::to_string(i) + "' is a list");
  }
  int sh_coeffs = 0;
  if (rest > 0) {
    if (rest % 3 != 0 || (rest / 3 + 1 != 4 && rest / 3 + 1 != 9 && rest / 3 + 1 != 16))
      throw file_error(where, "PLY has " + std::to_string(rest) +
                                  " f_rest_* properties; expected 9, 24 or 45 (SH degree 1, 2 or 3)");
    sh_coeffs = int(rest / 3 + 1);
  }
  if (!unknown.empty()) {
    std::string list;
    for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
    log_warn(where + ": ignoring unknown PLY vertex properties: " + list);
  }
  for (const auto& el : header.elements)
    if (el.name != "vertex") log_warn(where + ": ignoring PLY element '" + el.name + "'");

  std::vector<std::string> wanted(std::begin(kRequired), std::end(kRequired));
  for (int64_t i = 0; i < rest; ++i) wanted.push_back("f_rest_" + std::to_string(i));
  if (has_phase)
    for (const char* name : {"phase_0", "phase_1", "phase_2"}) wanted.push_back(name);
  const auto cols = read_ply_columns(in, header, "vertex", wanted, where);
  for (size_t i = 0; i < cols.size(); ++i)
    if (int64_t(cols[i].size()) != vertex.count)
      throw file_error(where, "PLY property '" + wanted[i] + "' has " + std::to_string(cols[i].size()) +
                                  " values for " + std::to_string(vertex.count) + " vertices");
  auto col = [&](size_t i) -> const std::vector<float>& { return cols[i]; };

  GaussianArrays g;
  const int64_t n = vertex.count;
  g.resize(n, sh_coeffs, has_phase);
  const int64_t cs = g.color_stride();
  for (int64_t i = 0; i < n; ++i) {
    for (int a = 0; a < 3; ++a) {
      g.means[i * 3 + a] = col(a)[i];
      g.scales[i * 3 + a] = saturate_to_float(std::exp(double(col(7 + a)[i])));
    }
    // Underflowed scales become the smallest normal float rather than an invalid 0.
    for (int a = 0; a < 3; ++a)
      if (g.scales[i * 3 + a] == 0.f) g.scales[i * 3 + a] = FLT_MIN;
    g.opacities[i] = float(1.0 / (1.0 + std::exp(-double(col(6)[i]))));
    for (int a = 0; a < 4; ++a) g.quats[i * 4 + a] = col(10 + a)[i];
    normalize_quaternion(&g.quats[i * 4]);
    for (int c = 0; c < 3; ++c) {
      const double dc = col(3 + c)[i];
      if (sh_coeffs == 0) {
        g.colors[i * cs + c] = saturate_to_float(0.5 + sh::kC0 * dc);
      } else {
        g.colors[i * cs + c] = float(dc);
        for (int k = 1; k < sh_coeffs; ++k) g.colors[i * cs + k * 3 + c] = col(14 + c * (sh_coeffs - 1) + (k - 1))[i];
      }
    }
    if (has_phase)
      for (int a = 0; a < 3; ++a) g.phases[i * 3 + a] = col(14 + rest + a)[i];
  }
  return g;
}

void write_gaussian_ply(std::ostream& out, const GaussianArrays& g) {
  g.check_sizes("write_gaussian_ply");
  const int64_t n = g.count;
  const int64_t cs = g.color_stride();
  std::vector<float> zeros(size_t(n), 0.f), log_scale(size_t(n) * 3), logit(static_cast<size_t>(n)), dc;
  for (int64_t i = 0; i < n * 3; ++i) log_scale[i] = saturate_to_float(std::log(double(g.scales[i])));
  for (int64_t i = 0; i < n; ++i) {
    const double o = std::min(std::max(double(g.opacities[i]), 1e-7), 1.0 - 1e-7);
    logit[i] = saturate_to_float(std::log(o) - std::log1p(-o));
  }
  if (g.sh_coeffs == 0) {
    dc.resize(size_t(n) * 3);
    for (int64_t i = 0; i < n * 3; ++i) dc[i] = saturate_to_float((double(g.colors[i]) - 0.5) / sh::kC0);
  }
  std::vector<PlyColumnRef> cols;
  const char* axes[] = {"x", "y", "z"};
  for (int a = 0; a < 3; ++a) cols.push_back({axes[a], g.means.data() + a, 3});
  for (const char* nname : {"nx", "ny", "nz"}) cols.push_back({nname, zeros.data(), 1});
  for (int c = 0; c < 3; ++c)
    cols.push_back({"f_dc_" + std::to_string(c), g.sh_coeffs == 0 ? dc.data() + c : g.colors.data() + c,
                    g.sh_coeffs == 0 ? 3 : cs});
  // Channel-major like the 3DGS reference: all R coefficients 1..K-1, then G, then B.
  for (int c = 0; c < 3; ++c)
    for (int k = 1; k < g.sh_coeffs; ++k)
      cols.push_back({"f_rest_" + std::to_string(c * (g.sh_coeffs - 1) + (k - 1)), g.colors.data() + k * 3 + c, cs});
  cols.push_back({"opacity", logit.data(), 1});
  for (int a = 0; a < 3; ++a) cols.push_back({"scale_" + std::to_string(a), log_scale.data() + a, 3});
  for (int a = 0; a < 4; ++a) cols.push_back({"rot_" + std::to_string(a), g.quats.data() + a, 4});
  if (!g.phases.empty())
    for (int a = 0; a < 3; ++a) cols.push_back({"phase_" + std::to_string(a), g.phases.data() + a, 3});
  write_ply_float_table(out, "vertex", n, cols);
}

}  // namespace fresnel
