#include "core/gaussians.hpp"

#include <torch/torch.h>

#include "core/error.hpp"
#include "core/sh_constants.hpp"

namespace fresnel {

int sh_degree_for_coeffs(int64_t coeffs) {
  for (int d = 0; d <= 3; ++d)
    if (sh_coeffs_for_degree(d) == coeffs) return d;
  return -1;
}

int64_t Gaussians::count() const { return means.defined() ? means.size(-2) : 0; }
bool Gaussians::batched() const { return means.defined() && means.dim() == 3; }
int64_t Gaussians::batch_size() const { return batched() ? means.size(0) : 1; }
bool Gaussians::has_sh() const { return colors.defined() && colors.dim() == means.dim() + 1; }
int Gaussians::sh_degree() const { return has_sh() ? sh_degree_for_coeffs(colors.size(-2)) : 0; }

static std::string shape_str(const torch::Tensor& t) {
  std::string s = "(";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + ")";
}

void Gaussians::validate(const std::string& where) const {
  auto fail = [&](const std::string& field, const std::string& problem) {
    throw Error(where + ": field '" + field + "' " + problem);
  };
  if (!means.defined()) fail("means", "is missing");
  if (means.dim() != 2 && means.dim() != 3) fail("means", "must be (N,3) or (B,N,3), got " + shape_str(means));
  if (means.size(-1) != 3) fail("means", "must have 3 components, got " + shape_str(means));
  const auto lead = means.sizes().slice(0, means.dim() - 1);  // (…,N)
  auto expect = [&](const torch::Tensor& t, const std::string& name, std::vector<int64_t> tail) {
    if (!t.defined()) fail(name, "is missing");
    std::vector<int64_t> want(lead.begin(), lead.end());
    want.insert(want.end(), tail.begin(), tail.end());
    if (t.sizes().vec() != want) {
      std::string w = "(";
      for (size_t i = 0; i < want.size(); ++i) w += (i ? "," : "") + std::to_string(want[i]);
      fail(name, "has shape " + shape_str(t) + ", expected " + w + ")");
    }
    if (!t.is_floating_point()) fail(name, "must be floating point");
    if (!torch::isfinite(t).all().item<bool>()) fail(name, "contains NaN or Inf");
  };
  expect(means, "means", {3});
  expect(quats, "quats", {4});
  expect(scales, "scales", {3});
  expect(opacities, "opacities", {});
  if (!colors.defined()) fail("colors", "is missing");
  if (colors.dim() == means.dim()) {
    expect(colors, "colors", {3});
  } else {
    if (colors.dim() != means.dim() + 1 || sh_degree_for_coeffs(colors.size(-2)) < 0)
      fail("colors", "must be (…,N,3) RGB or (…,N,K,3) SH with K in {1,4,9,16}, got " + shape_str(colors));
    expect(colors, "colors", {colors.size(-2), 3});
  }
  if (phases.defined()) expect(phases, "phases", {3});
  if ((scales <= 0).any().item<bool>()) fail("scales", "must be positive (linear scales)");
  if ((opacities < 0).any().item<bool>() || (opacities > 1).any().item<bool>()) fail("opacities", "must lie in [0,1]");
  if ((quats.norm(2, -1) < 1e-12).any().item<bool>()) fail("quats", "contains a zero-norm quaternion");
}

static torch::Tensor maybe(const torch::Tensor& t, const std::function<torch::Tensor(const torch::Tensor&)>& f) {
  return t.defined() ? f(t) : t;
}

Gaussians Gaussians::to(const torch::TensorOptions& options) const {
  auto f = [&](const torch::Tensor& t) { return t.to(options); };
  return {maybe(means, f), maybe(quats, f), maybe(scales, f), maybe(opacities, f), maybe(colors, f), maybe(phases, f)};
}

Gaussians Gaussians::detach() const {
  auto f = [](const torch::Tensor& t) { return t.detach(); };
  return {maybe(means, f), maybe(quats, f), maybe(scales, f), maybe(opacities, f), maybe(colors, f), maybe(phases, f)};
}

Gaussians Gaussians::index_select(const torch::Tensor& idx) const {
  const int64_t dim = batched() ? 1 : 0;
  auto f = [&](const torch::Tensor& t) { return t.index_select(dim, idx.to(t.device())); };
  return {maybe(means, f), maybe(quats, f), maybe(scales, f), maybe(opacities, f), maybe(colors, f), maybe(phases, f)};
}

Gaussians Gaussians::batch(int64_t b) const {
  if (!batched()) {
    if (b != 0) throw Error("Gaussians::batch: index out of range for unbatched Gaussians");
    return *this;
  }
  auto f = [&](const torch::Tensor& t) { return t.select(0, b); };
  return {maybe(means, f), maybe(quats, f), maybe(scales, f), maybe(opacities, f), maybe(colors, f), maybe(phases, f)};
}

// Joins one field across parts with `join` (cat or stack). A field present in every part is joined; one absent
// from every part stays absent; a field present in only some parts is an error, since dropping it silently would
// lose data (e.g. phases) and inventing it is impossible.
static Gaussians join_fields(const std::vector<Gaussians>& parts, const char* what,
                             const std::function<torch::Tensor(const std::vector<torch::Tensor>&)>& join) {
  if (parts.empty()) throw Error(std::string(what) + ": no Gaussians given");
  auto gather = [&](torch::Tensor Gaussians::*field, const char* name) {
    std::vector<torch::Tensor> ts;
    for (const auto& p : parts)
      if ((p.*field).defined()) ts.push_back(p.*field);
    if (ts.empty()) return torch::Tensor();
    if (ts.size() != parts.size())
      throw Error(std::string(what) + ": '" + name + "' is present in some parts and missing in others");
    return join(ts);
  };
  return {gather(&Gaussians::means, "means"),   gather(&Gaussians::quats, "quats"),
          gather(&Gaussians::scales, "scales"), gather(&Gaussians::opacities, "opacities"),
          gather(&Gaussians::colors, "colors"), gather(&Gaussians::phases, "phases")};
}

Gaussians Gaussians::cat(const std::vector<Gaussians>& parts) {
  for (const auto& p : parts)
    if (p.batched()) throw Error("Gaussians::cat: expects unbatched Gaussians");
  return join_fields(parts, "Gaussians::cat", [](const std::vector<torch::Tensor>& ts) { return torch::cat(ts, 0); });
}

Gaussians Gaussians::stack(const std::vector<Gaussians>& scenes) {
  for (const auto& s : scenes) {
    if (s.batched()) throw Error("Gaussians::stack: expects unbatched Gaussians (one scene each)");
    if (s.count() != scenes.front().count())
      throw Error("Gaussians::stack: scenes hold different numbers of Gaussians (" +
                  std::to_string(scenes.front().count()) + " and " + std::to_string(s.count()) + ")");
  }
  return join_fields(scenes, "Gaussians::stack",
                     [](const std::vector<torch::Tensor>& ts) { return torch::stack(ts, 0); });
}

torch::Tensor Gaussians::base_rgb() const {
  if (!has_sh()) return colors;
  return (colors.select(-2, 0) * sh::kC0 + 0.5).clamp(0.0, 1.0);
}

std::pair<torch::Tensor, torch::Tensor> Gaussians::bounds() const {
  auto flat = means.reshape({-1, 3});
  return {std::get<0>(flat.min(0)), std::get<0>(flat.max(0))};
}

}  // namespace fresnel
