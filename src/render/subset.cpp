// Importance subset sampling (systematic πps sampling) for stochastic subset rendering.
#include "render/subset.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.hpp"

namespace fresnel {

torch::Tensor inclusion_probabilities(const torch::Tensor& importance, int64_t k) {
  if (!importance.defined() || importance.dim() != 1 || importance.size(0) < 1)
    throw Error("sample_importance_subset: importance must be a non-empty (N) tensor");
  if (k < 1) throw Error("sample_importance_subset: K must be at least 1");
  const auto w0 = importance.detach().to(torch::kFloat64).contiguous();
  if (!torch::isfinite(w0).all().item<bool>() || (w0 < 0).any().item<bool>())
    throw Error("sample_importance_subset: importance must be finite and non-negative");
  const int64_t n = w0.size(0);
  if (k >= n) return torch::ones({n}, torch::kFloat64);
  const double mean = w0.mean().item<double>();
  const auto w = w0 + (mean > 0 ? 1e-6 * mean : 1.0);
  const double* wp = w.data_ptr<double>();
  std::vector<bool> capped(n, false);
  std::vector<double> pi(n);
  int64_t ncapped = 0;
  // Cap probabilities at 1 and redistribute the rest until nothing new exceeds 1.
  for (;;) {
    double rest = 0;
    for (int64_t i = 0; i < n; ++i)
      if (!capped[i]) rest += wp[i];
    const double c = double(k - ncapped) / rest;
    bool changed = false;
    for (int64_t i = 0; i < n; ++i) {
      if (capped[i]) continue;
      pi[i] = c * wp[i];
      if (pi[i] >= 1.0) {
        capped[i] = true;
        pi[i] = 1.0;
        ++ncapped;
        changed = true;
      }
    }
    if (!changed) break;
  }
  for (int64_t i = 0; i < n; ++i)
    if (capped[i]) pi[i] = 1.0;
  return torch::tensor(pi, torch::kFloat64);
}

SubsetSample sample_importance_subset(const torch::Tensor& importance, int64_t k, uint64_t seed) {
  const torch::Tensor pi_t = inclusion_probabilities(importance, k);
  const int64_t n = pi_t.size(0);
  const double* pi = pi_t.data_ptr<double>();
  std::vector<int64_t> idx;
  std::vector<double> inc;
  if (k >= n) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
    inc.assign(n, 1.0);
  } else {
    std::mt19937_64 rng(seed);
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    // Item i is taken when an integer m satisfies S_{i-1} ≤ u + m < S_i; since π_i ≤ 1 at most once.
    double s = 0;
    double next = u;
    for (int64_t i = 0; i < n && int64_t(idx.size()) < k; ++i) {
      s += pi[i];
      if (next < s || (i == n - 1)) {
        idx.push_back(i);
        inc.push_back(pi[i]);
        next += 1.0;
      }
    }
    // Rounding in Σπ can leave the last pick missing: take the largest remaining π.
    while (int64_t(idx.size()) < k) {
      int64_t best = -1;
      for (int64_t i = n - 1; i >= 0; --i) {
        if (std::find(idx.begin(), idx.end(), i) != idx.end()) continue;
        if (best < 0 || pi[i] > pi[best]) best = i;
      }
      idx.push_back(best);
      inc.push_back(pi[best]);
    }
  }
  SubsetSample out;
  out.indices = torch::tensor(idx, torch::kInt64);
  auto order = std::get<1>(out.indices.sort());
  out.indices = out.indices.index_select(0, order);
  out.inclusion = torch::tensor(inc, torch::kFloat64).index_select(0, order);
  out.weights = 1.0 / out.inclusion;
  return out;
}

}  // namespace fresnel
