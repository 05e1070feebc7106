// core/radix_sort.hpp: the radix sort equals a stable std::sort, and float keys follow the numeric order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <random>
#include <vector>

#include "core/radix_sort.hpp"

namespace fresnel {
namespace {

template <typename F>
void expect_radix_sort_matches_stable_sort(int n, F lo, F hi) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<F> u(lo, hi);
  std::vector<decltype(float_sort_key(F(0)))> keys;
  std::vector<int32_t> values;
  std::vector<std::pair<decltype(float_sort_key(F(0))), int32_t>> ref;
  for (int32_t i = 0; i < n; ++i) {
    // Rounded values so that equal keys occur and stability is tested.
    const auto k = float_sort_key(F(std::round(u(rng) * 4) / 4));
    keys.push_back(k);
    values.push_back(i);
    ref.emplace_back(k, i);
  }
  std::stable_sort(ref.begin(), ref.end(), [](auto& a, auto& b) { return a.first < b.first; });
  radix_sort_pairs(keys, values);
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_EQ(keys[i], ref[i].first) << i;
    ASSERT_EQ(values[i], ref[i].second) << i;  // stable
  }
}

TEST(RadixSort, MatchesStableStdSortForFloatAndDoubleKeys) {
  expect_radix_sort_matches_stable_sort<float>(10000, -100.f, 100.f);
  expect_radix_sort_matches_stable_sort<double>(10000, -1e3, 1e3);
}

TEST(RadixSort, EmptyAndConstantInputs) {
  std::vector<uint32_t> k, v;
  radix_sort_pairs(k, v);
  EXPECT_TRUE(k.empty());
  k = {5, 5, 5};
  v = {2, 0, 1};
  radix_sort_pairs(k, v);
  EXPECT_EQ(v, (std::vector<uint32_t>{2, 0, 1}));
}

TEST(RadixSort, FloatKeysAreMonotonic) {
  const float f[] = {-1e30f, -3.5f, -1e-20f, -0.0f, 0.0f, 1e-20f, 2.0f, 2.5f, 1e30f};
  for (size_t i = 0; i + 1 < std::size(f); ++i) EXPECT_LT(float_sort_key(f[i]), float_sort_key(f[i + 1])) << i;
  const double d[] = {-1e300, -2.0, -0.0, 0.0, 1e-300, 3.0};
  for (size_t i = 0; i + 1 < std::size(d); ++i) EXPECT_LT(float_sort_key(d[i]), float_sort_key(d[i + 1])) << i;
}

}  // namespace
}  // namespace fresnel
