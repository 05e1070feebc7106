// Torch-free parsing of NumPy .npy headers (format versions 1.0, 2.0, 3.0):
// "\x93NUMPY", major, minor, header length (u16 for v1, u32 for v2/v3), a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (37, 37), } padded with spaces and '\n', then raw data.
// Kept free of libtorch so the fuzzer can link it alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fresnel::npy {

struct Header {
  std::string descr;     // as written, e.g. "<f4", "|u1"
  char kind = 0;         // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
  size_t item_size = 0;  // bytes per element
  bool fortran_order = false;
  std::vector<int64_t> shape;  // empty for a 0-d array
  size_t data_offset = 0;      // where the data starts in the file
  uint64_t numel() const;
};

// Parses and validates a whole file image `bytes[0..size)`: magic, version, dict syntax, a supported
// little-endian dtype (f2 f4 f8 i1 i2 i4 i8 u1 b1), C order, and that the data is exactly as long as the shape says.
// Throws fresnel::Error starting with `source`.
Header parse_header(const uint8_t* bytes, size_t size, const std::string& source);

// A version 1.0 header for `descr` and `shape` (C order), padded so the data starts 64-byte aligned.
std::string make_header(const std::string& descr, const std::vector<int64_t>& shape);

}  // namespace fresnel::npy
