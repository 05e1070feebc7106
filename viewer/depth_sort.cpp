#include "depth_sort.hpp"

#include <array>

namespace fresnel::viewer {

void radix_sort_pairs(std::vector<uint32_t>& keys, std::vector<uint32_t>& values) {
  const size_t n = keys.size();
  std::vector<uint32_t> k2(n), v2(n);
  // Four 8-bit passes; a pass whose digit is the same for every key is skipped.
  for (int shift = 0; shift < 32; shift += 8) {
    std::array<size_t, 257> count{};
    for (size_t i = 0; i < n; ++i) ++count[((keys[i] >> shift) & 0xFF) + 1];
    bool trivial = false;
    for (int d = 1; d <= 256; ++d)
      if (count[d] == n) trivial = true;
    if (trivial) continue;
    for (int d = 0; d < 256; ++d) count[d + 1] += count[d];
    for (size_t i = 0; i < n; ++i) {
      const size_t dst = count[(keys[i] >> shift) & 0xFF]++;
      k2[dst] = keys[i];
      v2[dst] = values[i];
    }
    keys.swap(k2);
    values.swap(v2);
  }
}

void sort_back_to_front(const float* positions, int stride, const std::vector<uint32_t>& candidates, const double depth_row[4],
                        double near_plane, std::vector<uint32_t>& out) {
  std::vector<uint32_t> keys;
  out.clear();
  keys.reserve(candidates.size());
  out.reserve(candidates.size());
  const float r0 = float(depth_row[0]), r1 = float(depth_row[1]), r2 = float(depth_row[2]), t = float(depth_row[3]);
  for (const uint32_t i : candidates) {
    const float* p = positions + size_t(i) * stride;
    const float z = r0 * p[0] + r1 * p[1] + r2 * p[2] + t;
    if (!(z >= near_plane)) continue;
    keys.push_back(~float_sort_key(z));  // inverted key: ascending sort gives decreasing depth
    out.push_back(i);
  }
  radix_sort_pairs(keys, out);
}

}  // namespace fresnel::viewer
