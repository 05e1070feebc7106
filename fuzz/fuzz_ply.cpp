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

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    // Warnings about unknown properties would flood the fuzzer's output; crash reports bypass std::cerr.
    fresnel::set_log_level(fresnel::LogLevel::Quiet);
    std::cerr.rdbuf(nullptr);
    return true;
  }();
  (void)quiet;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
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
