// libFuzzer target: the safetensors header parser must reject any byte string with fresnel::Error, never crash.
// Needs only src/core/safetensors_header.cpp (torch-free) and nlohmann_json.
#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "core/safetensors_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto h = fresnel::safetensors::parse_header(data, size, "fuzz.safetensors");
    // Every accepted tensor must lie inside the input: touch its first and last byte.
    volatile uint8_t sink = 0;
    for (const auto& t : h.tensors)
      if (t.end > t.begin) sink ^= data[h.data_start + t.begin] ^ data[h.data_start + t.end - 1];
    (void)sink;
  } catch (const fresnel::Error&) {
  }
  return 0;
}
