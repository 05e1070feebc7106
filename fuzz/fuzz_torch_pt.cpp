// libFuzzer target: the torch.save reader (zip directory + pickle machine + storage checks) must reject any byte
// string with fresnel::Error, never crash, loop or read outside the input. Needs only src/core/torch_pickle.cpp.
#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "core/torch_pickle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto archive = fresnel::torch_pickle::parse_archive(data, size, "fuzz.pt");
    // Every accepted tensor's storage lies inside the input: touch its first and last byte.
    volatile uint8_t sink = 0;
    for (const auto& o : archive.doc.arena) {
      if (o->kind != fresnel::torch_pickle::Object::Kind::Tensor) continue;
      const auto& e = archive.storages.at(o->tensor.storage_key);
      if (e.size > 0) sink ^= data[e.offset] ^ data[e.offset + e.size - 1];
    }
    (void)sink;
  } catch (const fresnel::Error&) {
  }
  return 0;
}
