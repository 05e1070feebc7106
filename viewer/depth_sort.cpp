#include "depth_sort.hpp"

#include "core/radix_sort.hpp"

namespace fresnel::viewer {

void sort_back_to_front(const float* positions, int stride, const std::vector<uint32_t>& candidates,
                        const double depth_row[4], double near_plane, std::vector<uint32_t>& out) {
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
