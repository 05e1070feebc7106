#include "core/gaussian_arrays.hpp"

#include <cmath>

#include "core/error.hpp"

namespace fresnel {

void GaussianArrays::resize(int64_t n, int k, bool with_phases) {
  count = n;
  sh_coeffs = k;
  means.assign(size_t(n) * 3, 0.f);
  quats.assign(size_t(n) * 4, 0.f);
  scales.assign(size_t(n) * 3, 0.f);
  opacities.assign(size_t(n), 0.f);
  colors.assign(size_t(n * color_stride()), 0.f);
  phases.assign(with_phases ? size_t(n) * 3 : 0, 0.f);
}

void GaussianArrays::check_sizes(const std::string& where) const {
  auto expect = [&](const std::vector<float>& v, int64_t want, const char* name) {
    if (int64_t(v.size()) != want)
      throw Error(where + ": internal size mismatch in '" + name + "' (" + std::to_string(v.size()) +
                  " values, expected " + std::to_string(want) + ")");
  };
  expect(means, count * 3, "means");
  expect(quats, count * 4, "quats");
  expect(scales, count * 3, "scales");
  expect(opacities, count, "opacities");
  expect(colors, count * color_stride(), "colors");
  if (!phases.empty()) expect(phases, count * 3, "phases");
}

void normalize_quaternion(float* q) {
  const double n2 = double(q[0]) * q[0] + double(q[1]) * q[1] + double(q[2]) * q[2] + double(q[3]) * q[3];
  if (!(n2 > 0) || !std::isfinite(n2)) return;
  const double n = std::sqrt(n2);
  if (std::abs(n - 1.0) <= 1e-6) return;
  for (int i = 0; i < 4; ++i) q[i] = float(q[i] / n);
}

namespace {
struct Field {
  const char* name;
  const std::vector<float>* values;
  int64_t stride;
};
}  // namespace

void check_finite(const GaussianArrays& g, const std::string& where) {
  const Field fields[] = {{"position", &g.means, 3},
                          {"rotation", &g.quats, 4},
                          {"scale", &g.scales, 3},
                          {"opacity", &g.opacities, 1},
                          {"color", &g.colors, g.color_stride()},
                          {"phase", &g.phases, 3}};
  for (const auto& f : fields) {
    const auto& v = *f.values;
    for (size_t i = 0; i < v.size(); ++i) {
      if (std::isfinite(v[i])) continue;
      throw Error(where + ": Gaussian " + std::to_string(int64_t(i) / f.stride) + ": " + f.name + " is " +
                  (std::isnan(v[i]) ? "NaN" : "infinite"));
    }
  }
}

int64_t count_non_finite(const GaussianArrays& g) {
  int64_t n = 0;
  for (const auto* v : {&g.means, &g.quats, &g.scales, &g.opacities, &g.colors, &g.phases})
    for (float x : *v) n += !std::isfinite(x);
  return n;
}

}  // namespace fresnel
