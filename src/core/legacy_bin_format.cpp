#include "core/legacy_bin_format.hpp"

#include <algorithm>
#include <cstring>
#include <istream>
#include <ostream>

#include "core/error.hpp"
#include "core/sh_constants.hpp"

namespace fresnel {

void flip_legacy_axes(float* p, float* q) {
  p[1] = -p[1];
  p[2] = -p[2];
  q[2] = -q[2];
  q[3] = -q[3];
}

GaussianArrays read_legacy_bin(std::istream& in, const std::string& where) {
  GaussianArrays g;
  std::vector<float> block(size_t(kLegacyBinFloats) * 2048);
  const size_t block_bytes = block.size() * sizeof(float);
  int64_t total_bytes = 0;
  while (true) {
    in.read(reinterpret_cast<char*>(block.data()), std::streamsize(block_bytes));
    const size_t got = size_t(in.gcount());
    total_bytes += int64_t(got);
    if (got % kLegacyBinRecordBytes != 0) {
      in.clear();
      in.seekg(0, std::ios::end);
      const int64_t size = in.tellg() >= 0 ? int64_t(in.tellg()) : total_bytes;
      throw file_error(where, "Gaussian .bin length " + std::to_string(size) +
                                  " bytes is not a multiple of 56 (14 float32 per Gaussian); truncated or not a "
                                  "Fresnel gaussians.bin");
    }
    for (size_t off = 0; off < got / sizeof(float); off += kLegacyBinFloats) {
      float* r = block.data() + off;
      flip_legacy_axes(r, r + 6);
      g.means.insert(g.means.end(), r, r + 3);
      g.scales.insert(g.scales.end(), r + 3, r + 6);
      normalize_quaternion(r + 6);
      g.quats.insert(g.quats.end(), r + 6, r + 10);
      g.colors.insert(g.colors.end(), r + 10, r + 13);
      g.opacities.push_back(r[13]);
    }
    if (got < block_bytes) break;
  }
  g.count = int64_t(g.opacities.size());
  g.sh_coeffs = 0;
  return g;
}

void write_legacy_bin(std::ostream& out, const GaussianArrays& g) {
  g.check_sizes("write_legacy_bin");
  const int64_t cs = g.color_stride();
  std::vector<float> block;
  block.reserve(size_t(kLegacyBinFloats) * 4096);
  for (int64_t i = 0; i < g.count; ++i) {
    float r[kLegacyBinFloats];
    std::memcpy(r, &g.means[i * 3], 12);
    std::memcpy(r + 3, &g.scales[i * 3], 12);
    std::memcpy(r + 6, &g.quats[i * 4], 16);
    for (int c = 0; c < 3; ++c)
      r[10 + c] = g.sh_coeffs == 0 ? g.colors[i * cs + c]
                                   : float(std::min(1.0, std::max(0.0, 0.5 + sh::kC0 * g.colors[i * cs + c])));
    r[13] = g.opacities[i];
    flip_legacy_axes(r, r + 6);
    block.insert(block.end(), r, r + kLegacyBinFloats);
    if (block.size() >= size_t(kLegacyBinFloats) * 4096 || i + 1 == g.count) {
      out.write(reinterpret_cast<const char*>(block.data()), std::streamsize(block.size() * sizeof(float)));
      block.clear();
    }
  }
}

}  // namespace fresnel
