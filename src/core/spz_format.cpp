#include "core/spz_format.hpp"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <istream>
#include <ostream>
#include <vector>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/sh_constants.hpp"

namespace fresnel {

namespace {

using Bytes = std::vector<uint8_t>;

constexpr size_t kLegacyHeaderBytes = 16;
constexpr size_t kNgspHeaderBytes = 32;
constexpr int kMaxSpzShDegree = 4;  // the format's limit; we keep up to degree 3
constexpr int kMaxOurShDegree = 3;
// A file may not claim more than this many times its own size of attribute data: real .spz files compress a
// few times at most, and the bound keeps a forged header (or a compression bomb) from exhausting memory.
constexpr uint64_t kMaxExpansion = 1024;
constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr uint32_t kRotationMask = (1u << 9) - 1;

constexpr const float* kShFlip = sh::kSignUnderYzFlip;  // RDF ↔ RUB signs of SH coefficients 1..15

int sh_dim_for_degree(int degree) { return (degree + 1) * (degree + 1) - 1; }  // coefficients beyond the DC

struct Header {
  uint32_t version = 0;
  uint32_t count = 0;
  int sh_degree = 0;
  int fractional_bits = 0;
  uint8_t flags = 0;
};

// Byte sizes of the six attribute blocks, in file order: positions, alphas, colors, scales, rotations, SH.
std::array<uint64_t, 6> block_sizes(const Header& h) {
  const uint64_t n = h.count;
  return {n * 9, n, n * 3, n * 3, n * (h.version >= 3 ? 4 : 3), n * 3 * uint64_t(sh_dim_for_degree(h.sh_degree))};
}

uint64_t total_size(const std::array<uint64_t, 6>& sizes) {
  uint64_t t = 0;
  for (uint64_t s : sizes) t += s;
  return t;
}

uint32_t get_u32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
uint64_t get_u64(const uint8_t* p) { return uint64_t(get_u32(p)) | (uint64_t(get_u32(p + 4)) << 32); }
void put_u32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
void put_u64(Bytes& b, uint64_t v) {
  put_u32(b, uint32_t(v));
  put_u32(b, uint32_t(v >> 32));
}

// The 15 bytes every version's header starts with: magic, version, count, SH degree, fractional bits, flags.
void put_header_start(Bytes& b, const Header& h) {
  put_u32(b, spz::kMagic);
  put_u32(b, h.version);
  put_u32(b, h.count);
  b.push_back(uint8_t(h.sh_degree));
  b.push_back(uint8_t(h.fractional_bits));
  b.push_back(h.flags);
}

Bytes read_all(std::istream& in) {
  Bytes data;
  std::array<char, 1 << 16> chunk;
  while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0)
    data.insert(data.end(), chunk.data(), chunk.data() + in.gcount());
  in.clear(in.rdstate() & ~(std::ios::failbit | std::ios::eofbit));
  return data;
}

// Checks the fields shared by every version; `available` is the compressed size the data must come from.
void check_header(const Header& h, uint64_t available, const std::string& where) {
  if (h.sh_degree > kMaxSpzShDegree)
    throw file_error(where, ".spz header: SH degree " + std::to_string(h.sh_degree) + " (the format allows 0 to 4)");
  if (h.fractional_bits > 23)
    throw file_error(where, ".spz header: " + std::to_string(h.fractional_bits) +
                                " fractional bits for 24-bit positions (at most 23)");
  const uint64_t need = total_size(block_sizes(h));
  if (need > available * kMaxExpansion)
    throw file_error(where, ".spz header claims " + std::to_string(h.count) + " Gaussians (" + std::to_string(need) +
                                " bytes), more than a file of " + std::to_string(available) +
                                " bytes can hold (corrupt or truncated)");
}

Header parse_legacy_header(const uint8_t* p, uint64_t compressed_size, const std::string& where) {
  if (get_u32(p) != spz::kMagic) throw file_error(where, ".spz: gzip stream does not start with the NGSP magic");
  Header h;
  h.version = get_u32(p + 4);
  h.count = get_u32(p + 8);
  h.sh_degree = p[12];
  h.fractional_bits = p[13];
  h.flags = p[14];
  if (h.version < 2 || h.version > 4)
    throw file_error(where, ".spz version " + std::to_string(h.version) + " in a gzip stream (supported: 2, 3)");
  check_header(h, compressed_size, where);
  return h;
}

// Inflates the gzip stream: the 16-byte header first, then exactly the blocks it announces. Output grows with
// the data actually decompressed, never with what the header claims.
Bytes inflate_legacy(const Bytes& file, Header& header, const std::string& where) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw file_error(where, "zlib initialisation failed");
  zs.next_in = const_cast<Bytef*>(file.data());
  zs.avail_in = uInt(std::min<size_t>(file.size(), UINT32_MAX));
  Bytes out;
  uint64_t want = kLegacyHeaderBytes;
  bool header_parsed = false, ended = false;
  std::array<uint8_t, 1 << 16> buf;
  try {
    while (out.size() < want && !ended) {
      zs.next_out = buf.data();
      const uInt room = uInt(std::min<uint64_t>(buf.size(), want - out.size()));
      zs.avail_out = room;
      const int rc = inflate(&zs, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        throw file_error(where, std::string(".spz gzip data is corrupt (") + (zs.msg ? zs.msg : "inflate error") + ")");
      const size_t got = room - zs.avail_out;
      out.insert(out.end(), buf.data(), buf.data() + got);
      ended = rc == Z_STREAM_END || (rc == Z_BUF_ERROR && got == 0);
      if (!header_parsed && out.size() >= kLegacyHeaderBytes) {
        header = parse_legacy_header(out.data(), file.size(), where);
        want = kLegacyHeaderBytes + total_size(block_sizes(header));
        header_parsed = true;
      }
    }
  } catch (...) {
    inflateEnd(&zs);
    throw;
  }
  inflateEnd(&zs);
  if (!header_parsed)
    throw file_error(where, ".spz gzip stream ends after " + std::to_string(out.size()) + " bytes, inside the header");
  if (out.size() < want)
    throw file_error(where, ".spz is truncated: " + std::to_string(header.count) + " Gaussians need " +
                                std::to_string(want) + " bytes of data, the stream has " + std::to_string(out.size()));
  return out;
}

// Decompresses one zstd frame into exactly `size` bytes, growing the output only as data arrives.
Bytes unzstd_block(const uint8_t* src, size_t src_size, uint64_t size, int index, const std::string& where) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (!ds) throw file_error(where, "zstd initialisation failed");
  ZSTD_initDStream(ds);
  Bytes out;
  std::array<uint8_t, 1 << 16> buf;
  ZSTD_inBuffer in{src, src_size, 0};
  size_t rc = 1;
  while (out.size() < size) {
    ZSTD_outBuffer ob{buf.data(), size_t(std::min<uint64_t>(buf.size(), size - out.size())), 0};
    rc = ZSTD_decompressStream(ds, &ob, &in);
    if (ZSTD_isError(rc)) {
      ZSTD_freeDStream(ds);
      throw file_error(where,
                       ".spz stream " + std::to_string(index) + " is corrupt (zstd: " + ZSTD_getErrorName(rc) + ")");
    }
    out.insert(out.end(), buf.data(), buf.data() + ob.pos);
    if (ob.pos == 0 && in.pos == in.size) break;  // no progress and no more input
  }
  ZSTD_freeDStream(ds);
  if (out.size() != size)
    throw file_error(where, ".spz stream " + std::to_string(index) + " holds " + std::to_string(out.size()) +
                                " bytes, its table of contents says " + std::to_string(size));
  return out;
}

// Version 4: plain header, table of contents, one zstd frame per non-empty block. Returns the blocks concatenated
// in file order (the same layout as a legacy body).
Bytes read_ngsp(const Bytes& file, Header& h, const std::string& where) {
  if (file.size() < kNgspHeaderBytes)
    throw file_error(where,
                     ".spz file of " + std::to_string(file.size()) + " bytes is shorter than its 32-byte header");
  const uint8_t* p = file.data();
  h.version = get_u32(p + 4);
  h.count = get_u32(p + 8);
  h.sh_degree = p[12];
  h.fractional_bits = p[13];
  h.flags = p[14];
  const int streams = p[15];
  const uint64_t toc = get_u32(p + 16);
  if (h.version != 4)
    throw file_error(where, ".spz version " + std::to_string(h.version) + " with a plain NGSP header (supported: 4)");
  check_header(h, file.size(), where);
  if (h.flags & 0x2)
    log_warn(where + ": .spz extension records are skipped (they may describe a non-standard coordinate system)");
  const auto sizes = block_sizes(h);
  int expected_streams = 0;
  for (uint64_t s : sizes) expected_streams += s > 0;
  if (streams != expected_streams)
    throw file_error(where, ".spz header names " + std::to_string(streams) + " streams; " + std::to_string(h.count) +
                                " Gaussians of SH degree " + std::to_string(h.sh_degree) + " need " +
                                std::to_string(expected_streams));
  if (toc < kNgspHeaderBytes || toc + uint64_t(streams) * 16 > file.size())
    throw file_error(where, ".spz table of contents at byte " + std::to_string(toc) + " lies outside the file of " +
                                std::to_string(file.size()) + " bytes");
  Bytes body;
  body.reserve(size_t(total_size(sizes)));  // bounded by check_header
  uint64_t offset = toc + uint64_t(streams) * 16;
  int stream = 0;
  for (uint64_t size : sizes) {
    if (size == 0) continue;
    const uint8_t* e = p + toc + size_t(stream) * 16;
    const uint64_t compressed = get_u64(e), uncompressed = get_u64(e + 8);
    if (uncompressed != size)
      throw file_error(where, ".spz stream " + std::to_string(stream) + " is " + std::to_string(uncompressed) +
                                  " bytes uncompressed; the header implies " + std::to_string(size));
    if (compressed > file.size() - offset)
      throw file_error(where, ".spz stream " + std::to_string(stream) + " runs past the end of the file (truncated)");
    const Bytes block = unzstd_block(p + offset, size_t(compressed), size, stream, where);
    body.insert(body.end(), block.begin(), block.end());
    offset += compressed;
    ++stream;
  }
  return body;
}

uint8_t to_byte(double v) {
  if (!std::isfinite(v)) v = 0;
  return uint8_t(std::clamp(std::round(v), 0.0, 255.0));
}

Bytes gzip(const Bytes& data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    throw Error("write_spz: zlib initialisation failed");
  Bytes out(deflateBound(&zs, uLong(data.size())));
  zs.next_in = const_cast<Bytef*>(data.data());
  zs.avail_in = uInt(data.size());
  zs.next_out = out.data();
  zs.avail_out = uInt(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw Error("write_spz: gzip compression failed");
  out.resize(zs.total_out);
  return out;
}

Bytes zstd(const uint8_t* data, size_t size) {
  Bytes out(ZSTD_compressBound(size));
  const size_t n = ZSTD_compress(out.data(), out.size(), data, size, 12);
  if (ZSTD_isError(n)) throw Error(std::string("write_spz: zstd compression failed: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

}  // namespace

namespace spz {

int32_t encode_position(double v, int fractional_bits) {
  return int32_t(std::lround(v * double(1 << fractional_bits)));
}
uint8_t encode_log_scale(double s) { return to_byte((std::log(s) + 10.0) * 16.0); }
double decode_log_scale(uint8_t b) { return std::exp(b / 16.0 - 10.0); }
uint8_t encode_dc(double f_dc) { return to_byte(f_dc * (kColorScale * 255.0) + 0.5 * 255.0); }
double decode_dc(uint8_t b) { return (b / 255.0 - 0.5) / kColorScale; }
uint8_t encode_sh(double c, int bits) {
  // Quantise to 8 bits, then to the centre of a bucket of 2^(8−bits) codes; 0 is always a bucket centre.
  const int bucket = 1 << (8 - bits);
  int q = int(std::lround(std::isfinite(c) ? std::clamp(c, -2.0, 2.0) * 128.0 : 0.0)) + 128;
  q = (q + bucket / 2) / bucket * bucket;
  return uint8_t(std::clamp(q, 0, 255));
}
double decode_sh(uint8_t b) { return (double(b) - 128.0) / 128.0; }

uint32_t encode_quaternion_smallest_three(const float xyzw[4]) {
  double q[4];
  double norm = 0;
  for (int i = 0; i < 4; ++i) norm += double(xyzw[i]) * xyzw[i];
  norm = std::sqrt(norm);
  for (int i = 0; i < 4; ++i) q[i] = norm > 0 ? xyzw[i] / norm : (i == 3 ? 1.0 : 0.0);
  int largest = 0;
  for (int i = 1; i < 4; ++i)
    if (std::fabs(q[i]) > std::fabs(q[largest])) largest = i;
  // −q is the same rotation: flip so the largest is positive and its sign need not be stored.
  const bool negate = q[largest] < 0;
  uint32_t packed = uint32_t(largest);
  for (int i = 0; i < 4; ++i) {
    if (i == largest) continue;
    const uint32_t negbit = uint32_t((q[i] < 0) != negate);
    const uint32_t mag =
        std::min<uint32_t>(kRotationMask, uint32_t(kRotationMask * (std::fabs(q[i]) / kSqrt1_2) + 0.5));
    packed = (packed << 10) | (negbit << 9) | mag;
  }
  return packed;
}

void decode_quaternion_smallest_three(uint32_t packed, float xyzw[4]) {
  const int largest = int(packed >> 30);
  double sum = 0;
  for (int i = 3; i >= 0; --i) {
    if (i == largest) continue;
    const uint32_t mag = packed & kRotationMask;
    const bool negative = (packed >> 9) & 1u;
    packed >>= 10;
    const double v = kSqrt1_2 * double(mag) / double(kRotationMask);
    xyzw[i] = float(negative ? -v : v);
    sum += v * v;
  }
  xyzw[largest] = float(std::sqrt(std::max(0.0, 1.0 - sum)));
}

void encode_quaternion_first_three(const float xyzw[4], uint8_t out[3]) {
  double norm = 0;
  for (int i = 0; i < 4; ++i) norm += double(xyzw[i]) * xyzw[i];
  norm = std::sqrt(norm);
  const double sign = (norm > 0 && xyzw[3] < 0) ? -1.0 : 1.0;  // w ≥ 0 so that it can be rebuilt
  for (int i = 0; i < 3; ++i) out[i] = to_byte((norm > 0 ? sign * xyzw[i] / norm : 0.0) * 127.5 + 127.5);
}

void decode_quaternion_first_three(const uint8_t in[3], float xyzw[4]) {
  double sum = 0;
  for (int i = 0; i < 3; ++i) {
    const double v = in[i] / 127.5 - 1.0;
    xyzw[i] = float(v);
    sum += v * v;
  }
  xyzw[3] = float(std::sqrt(std::max(0.0, 1.0 - sum)));
}

}  // namespace spz

GaussianArrays read_spz(std::istream& in, const std::string& where) {
  const Bytes file = read_all(in);
  if (in.bad()) throw file_error(where, "read error");
  Header h;
  Bytes body;
  if (file.size() >= 4 && get_u32(file.data()) == spz::kMagic) {
    body = read_ngsp(file, h, where);
  } else if (file.size() >= 2 && file[0] == 0x1f && file[1] == 0x8b) {
    body = inflate_legacy(file, h, where);
    body.erase(body.begin(), body.begin() + kLegacyHeaderBytes);
  } else {
    throw file_error(where, "not a .spz file (neither a gzip stream nor an NGSP header)");
  }
  const auto sizes = block_sizes(h);
  const int64_t n = h.count;
  const uint8_t* pos = body.data();
  const uint8_t* alpha = pos + sizes[0];
  const uint8_t* color = alpha + sizes[1];
  const uint8_t* scale = color + sizes[2];
  const uint8_t* rot = scale + sizes[3];
  const uint8_t* sh = rot + sizes[4];

  const int spz_dim = sh_dim_for_degree(h.sh_degree);
  const int keep_degree = std::min(h.sh_degree, kMaxOurShDegree);
  if (h.sh_degree > kMaxOurShDegree)
    log_warn(where + ": .spz SH degree " + std::to_string(h.sh_degree) + " is reduced to degree 3 (our limit)");
  const int sh_coeffs = keep_degree == 0 ? 0 : sh_dim_for_degree(keep_degree) + 1;

  GaussianArrays g;
  g.resize(n, sh_coeffs, false);
  const int64_t cs = g.color_stride();
  const double unit = 1.0 / double(1 << h.fractional_bits);
  for (int64_t i = 0; i < n; ++i) {
    for (int a = 0; a < 3; ++a) {
      const uint8_t* b = pos + (i * 3 + a) * 3;
      int32_t fixed = int32_t(uint32_t(b[0]) | (uint32_t(b[1]) << 8) | (uint32_t(b[2]) << 16));
      if (fixed & 0x800000) fixed -= 0x1000000;                      // sign extension of 24 bits
      g.means[i * 3 + a] = float(fixed * unit * (a == 0 ? 1 : -1));  // RUB → RDF
      g.scales[i * 3 + a] = float(spz::decode_log_scale(scale[i * 3 + a]));
    }
    g.opacities[i] = float(alpha[i] / 255.0);
    float q[4];  // x y z w, RUB
    if (h.version >= 3)
      spz::decode_quaternion_smallest_three(get_u32(rot + i * 4), q);
    else
      spz::decode_quaternion_first_three(rot + i * 3, q);
    const float ours[4] = {q[3], q[0], -q[1], -q[2]};
    std::memcpy(&g.quats[i * 4], ours, sizeof ours);
    normalize_quaternion(&g.quats[i * 4]);
    for (int c = 0; c < 3; ++c) {
      const double dc = spz::decode_dc(color[i * 3 + c]);
      if (sh_coeffs == 0) {
        g.colors[i * cs + c] = float(0.5 + sh::kC0 * dc);
      } else {
        g.colors[i * cs + c] = float(dc);
        for (int k = 1; k < sh_coeffs; ++k)
          g.colors[i * cs + k * 3 + c] = float(spz::decode_sh(sh[(i * spz_dim + (k - 1)) * 3 + c]) * kShFlip[k - 1]);
      }
    }
  }
  return g;
}

void write_spz(std::ostream& out, const GaussianArrays& g, const SpzWriteOptions& o) {
  g.check_sizes("write_spz");
  if (o.version < 2 || o.version > 4)
    throw UsageError("SPZ version " + std::to_string(o.version) + " (supported: 2, 3, 4)");
  if (o.fractional_bits < 0 || o.fractional_bits > 23)
    throw UsageError("SPZ fractional bits " + std::to_string(o.fractional_bits) + " (0 to 23)");
  if (g.count > int64_t(UINT32_MAX)) throw Error("write_spz: more Gaussians than .spz can count");
  Header h;
  h.version = uint32_t(o.version);
  h.count = uint32_t(g.count);
  h.sh_degree = g.sh_coeffs <= 1 ? 0 : int(std::lround(std::sqrt(double(g.sh_coeffs)))) - 1;
  h.fractional_bits = o.fractional_bits;
  h.flags = o.antialiased ? 0x1 : 0x0;
  const auto sizes = block_sizes(h);
  const int64_t n = g.count, cs = g.color_stride();
  const int spz_dim = sh_dim_for_degree(h.sh_degree);

  std::array<Bytes, 6> blocks;
  for (int b = 0; b < 6; ++b) blocks[b].resize(size_t(sizes[b]));
  const int32_t limit = 1 << 23;
  for (int64_t i = 0; i < n; ++i) {
    for (int a = 0; a < 3; ++a) {
      const double v = double(g.means[i * 3 + a]) * (a == 0 ? 1 : -1);  // RDF → RUB
      const double fixed_d = v * double(1 << o.fractional_bits);
      if (!(std::fabs(fixed_d) < double(limit) - 0.5))
        throw Error("write_spz: Gaussian " + std::to_string(i) + " has position " + std::to_string(v) +
                    ", outside .spz's range ±" + std::to_string(limit >> o.fractional_bits) + " (" +
                    std::to_string(o.fractional_bits) + " fractional bits)");
      const uint32_t fixed = uint32_t(spz::encode_position(v, o.fractional_bits));
      for (int k = 0; k < 3; ++k) blocks[0][size_t((i * 3 + a) * 3 + k)] = uint8_t(fixed >> (8 * k));
      blocks[3][size_t(i * 3 + a)] = spz::encode_log_scale(g.scales[i * 3 + a]);
    }
    blocks[1][size_t(i)] = to_byte(double(g.opacities[i]) * 255.0);
    for (int c = 0; c < 3; ++c) {
      const double dc = g.sh_coeffs == 0 ? (g.colors[i * cs + c] - 0.5) / sh::kC0 : g.colors[i * cs + c];
      blocks[2][size_t(i * 3 + c)] = spz::encode_dc(dc);
      for (int k = 1; k <= spz_dim; ++k)
        blocks[5][size_t((i * spz_dim + (k - 1)) * 3 + c)] =
            spz::encode_sh(double(g.colors[i * cs + k * 3 + c]) * kShFlip[k - 1], k <= 3 ? o.sh1_bits : o.sh_rest_bits);
    }
    const float* q = &g.quats[i * 4];  // w x y z, RDF
    const float xyzw[4] = {q[1], -q[2], -q[3], q[0]};
    if (h.version >= 3) {
      const uint32_t packed = spz::encode_quaternion_smallest_three(xyzw);
      for (int k = 0; k < 4; ++k) blocks[4][size_t(i * 4 + k)] = uint8_t(packed >> (8 * k));
    } else {
      spz::encode_quaternion_first_three(xyzw, &blocks[4][size_t(i * 3)]);
    }
  }

  Bytes file;
  if (h.version <= 3) {
    Bytes raw;
    put_header_start(raw, h);
    raw.push_back(0);  // reserved
    for (const auto& b : blocks) raw.insert(raw.end(), b.begin(), b.end());
    file = gzip(raw);
  } else {
    std::vector<Bytes> frames;
    std::vector<uint64_t> raw_sizes;
    for (const auto& b : blocks)
      if (!b.empty()) {
        frames.push_back(zstd(b.data(), b.size()));
        raw_sizes.push_back(b.size());
      }
    put_header_start(file, h);
    file.push_back(uint8_t(frames.size()));
    put_u32(file, uint32_t(kNgspHeaderBytes));  // TOC right after the header: no extensions
    file.resize(kNgspHeaderBytes, 0);           // reserved
    for (size_t s = 0; s < frames.size(); ++s) {
      put_u64(file, frames[s].size());
      put_u64(file, raw_sizes[s]);
    }
    for (const auto& f : frames) file.insert(file.end(), f.begin(), f.end());
  }
  out.write(reinterpret_cast<const char*>(file.data()), std::streamsize(file.size()));
}

}  // namespace fresnel
