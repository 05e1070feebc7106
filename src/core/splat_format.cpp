#include "core/splat_format.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <istream>
#include <numeric>
#include <ostream>

#include "core/error.hpp"
#include "core/sh_constants.hpp"

namespace fresnel {

namespace {

uint8_t quantize_unit(double v) {  // [0,1] → round(v·255)
  if (!std::isfinite(v)) v = 0;
  return uint8_t(std::lround(std::min(std::max(v, 0.0), 1.0) * 255.0));
}
uint8_t quantize_signed(double v) {  // [−1,1] → round(v·128 + 128) clipped to a byte
  if (!std::isfinite(v)) v = 0;
  v = std::min(std::max(v, -2.0), 2.0);
  return uint8_t(std::min(std::max(std::lround(v * 128.0 + 128.0), 0L), 255L));
}

}  // namespace

GaussianArrays read_splat(std::istream& in, const std::string& where) {
  GaussianArrays g;
  std::vector<unsigned char> block(size_t(kSplatRecordBytes) * 2048);
  int64_t total_bytes = 0;
  while (true) {
    in.read(reinterpret_cast<char*>(block.data()), std::streamsize(block.size()));
    const size_t got = size_t(in.gcount());
    total_bytes += int64_t(got);
    if (got % kSplatRecordBytes != 0) {
      // Only the last block may be short; finish counting for the message.
      in.clear();
      in.seekg(0, std::ios::end);
      throw file_error(where, ".splat length " + std::to_string(in.tellg() >= 0 ? int64_t(in.tellg()) : total_bytes) +
                                  " bytes is not a multiple of 32 (truncated or not a .splat file)");
    }
    for (size_t off = 0; off < got; off += kSplatRecordBytes) {
      const unsigned char* r = block.data() + off;
      float f[6];
      std::memcpy(f, r, sizeof f);
      for (int a = 0; a < 3; ++a) g.means.push_back(f[a]);
      for (int a = 0; a < 3; ++a) g.scales.push_back(f[3 + a]);
      for (int c = 0; c < 3; ++c) g.colors.push_back(float(r[24 + c] / 255.0));
      g.opacities.push_back(float(r[27] / 255.0));
      float q[4];
      for (int a = 0; a < 4; ++a) q[a] = float((double(r[28 + a]) - 128.0) / 128.0);
      normalize_quaternion(q);
      g.quats.insert(g.quats.end(), q, q + 4);
    }
    if (got < block.size()) break;
  }
  g.count = int64_t(g.opacities.size());
  g.sh_coeffs = 0;
  return g;
}

void write_splat(std::ostream& out, const GaussianArrays& g) {
  g.check_sizes("write_splat");
  const int64_t n = g.count;
  const int64_t cs = g.color_stride();
  std::vector<double> importance(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    importance[i] = double(g.scales[i * 3]) * g.scales[i * 3 + 1] * g.scales[i * 3 + 2] * g.opacities[i];
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return importance[a] > importance[b]; });

  std::vector<unsigned char> block;
  block.reserve(size_t(kSplatRecordBytes) * 4096);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = order[k];
    unsigned char r[kSplatRecordBytes];
    std::memcpy(r, &g.means[i * 3], 12);
    std::memcpy(r + 12, &g.scales[i * 3], 12);
    for (int c = 0; c < 3; ++c) {
      const double v = g.sh_coeffs == 0 ? g.colors[i * cs + c] : 0.5 + sh::kC0 * g.colors[i * cs + c];
      r[24 + c] = quantize_unit(v);
    }
    r[27] = quantize_unit(g.opacities[i]);
    const float* q = &g.quats[i * 4];
    const double norm =
        std::sqrt(double(q[0]) * q[0] + double(q[1]) * q[1] + double(q[2]) * q[2] + double(q[3]) * q[3]);
    for (int a = 0; a < 4; ++a) r[28 + a] = quantize_signed(norm > 0 ? q[a] / norm : (a == 0 ? 1.0 : 0.0));
    block.insert(block.end(), r, r + kSplatRecordBytes);
    if (block.size() >= size_t(kSplatRecordBytes) * 4096 || k + 1 == n) {
      out.write(reinterpret_cast<const char*>(block.data()), std::streamsize(block.size()));
      block.clear();
    }
  }
}

}  // namespace fresnel
