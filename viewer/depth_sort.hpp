// Back-to-front ordering of splats for alpha blending: camera-space depth of each splat, then an LSD
// radix sort of the 32-bit depth keys (core/radix_sort.hpp; O(N), about 10 ms for 1M splats on one core).
#pragma once
#include <cstdint>
#include <vector>

namespace fresnel::viewer {

// Orders `candidates` (indices into `positions`: splat i's xyz at positions[i·stride]) by decreasing camera depth
// z = r·p + t, where (r, t) is the third row of the world→camera matrix. Splats with z < near are
// dropped (they are behind the camera and the rasterizer culls them too). The result goes into `out`.
void sort_back_to_front(const float* positions, int stride, const std::vector<uint32_t>& candidates,
                        const double depth_row[4], double near_plane, std::vector<uint32_t>& out);

}  // namespace fresnel::viewer
