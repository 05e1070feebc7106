// Torch-free parsing and validation of a safetensors header (https://github.com/huggingface/safetensors):
// 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets:[begin,end]},
// "__metadata__": {str: str}}, then the byte buffer (offsets are relative to its start).
// Kept free of libtorch so the fuzzer can link it alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fresnel::safetensors {

// Header lengths above this are rejected before any allocation (same bound as the reference reader).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct TensorInfo {
  std::string name;
  std::string dtype;            // "F32", "BF16", …
  std::vector<int64_t> shape;   // empty for a scalar
  uint64_t begin = 0, end = 0;  // byte range relative to the data buffer
  uint64_t numel() const;
};

struct Header {
  std::vector<TensorInfo> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // absolute offset of the data buffer in the file
  uint64_t data_size = 0;   // bytes available after data_start
};

// Bytes per element of a safetensors dtype name; 0 if the name is unknown.
size_t dtype_size(const std::string& dtype);

// Parses and validates the header of a complete file image `bytes[0..size)`. Checks: length field, JSON shape,
// known dtypes, non-negative dims, shape×dtype == byte length, offsets inside the file, no overlaps.
// Throws fresnel::Error starting with `source` (the file name) and naming the tensor at fault.
Header parse_header(const uint8_t* bytes, size_t size, const std::string& source);

// Serialises a header for the given tensors (offsets already assigned) and metadata, padded with spaces so the
// data buffer starts 8-byte aligned. Returns the 8-byte length prefix followed by the JSON text.
std::string serialize_header(const std::vector<TensorInfo>& tensors,
                             const std::map<std::string, std::string>& metadata);

}  // namespace fresnel::safetensors
