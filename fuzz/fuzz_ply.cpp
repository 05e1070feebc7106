// libFuzzer target for the PLY reader: header parsing, binary and ASCII bodies, and the 3DGS decoding on top.
// Any input must give either Gaussians or a fresnel::Error — never a crash, hang, leak or huge allocation.
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <sstream>
#include <string>

#include "core/error.hpp"
#include "core/gaussian_arrays.hpp"
#include "core/log.hpp"
#include "core/ply_format.hpp"
#include "quiet_fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in = quiet_fuzz_input(data, size);
  try {
    const fresnel::GaussianArrays g = fresnel::read_gaussian_ply(in, "fuzz.ply");
    g.check_sizes("fuzz.ply");
    fresnel::count_non_finite(g);
    // What was read must be writable again.
    std::ostringstream out;
    fresnel::write_gaussian_ply(out, g);
  } catch (const fresnel::Error&) {
  }
  return 0;
}
