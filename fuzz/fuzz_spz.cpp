// libFuzzer target for the .spz reader: gzip (v2/v3) and zstd (v4) containers, header checks, table of contents
// and the attribute decoding. Any input must give either Gaussians or a fresnel::Error — never a crash, hang, leak
// or an allocation larger than the bound the header check enforces.
// fuzz-links: zlib zstd
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <sstream>
#include <string>

#include "core/error.hpp"
#include "core/gaussian_arrays.hpp"
#include "core/log.hpp"
#include "core/spz_format.hpp"
#include "quiet_fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in = quiet_fuzz_input(data, size);
  try {
    const fresnel::GaussianArrays g = fresnel::read_spz(in, "fuzz.spz");
    g.check_sizes("fuzz.spz");
    fresnel::count_non_finite(g);
    // What was read must be writable again, in both containers.
    for (int version : {3, 4}) {
      fresnel::SpzWriteOptions options;
      options.version = version;
      std::ostringstream out;
      fresnel::write_spz(out, g, options);
    }
  } catch (const fresnel::Error&) {
  }
  return 0;
}
