// libFuzzer target: the .npy header parser must reject any byte string with fresnel::Error, never crash.
// Needs only src/core/npy_header.cpp (torch-free).
#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "core/npy_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto h = fresnel::npy::parse_header(data, size, "fuzz.npy");
    // An accepted header promises exactly numel × item_size bytes after data_offset.
    volatile uint8_t sink = 0;
    const uint64_t bytes = h.numel() * h.item_size;
    if (bytes > 0) sink ^= data[h.data_offset] ^ data[h.data_offset + bytes - 1];
    (void)sink;
  } catch (const fresnel::Error&) {
  }
  return 0;
}
