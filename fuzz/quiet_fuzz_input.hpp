// What every libFuzzer harness of a file parser starts with: silence the log and std::cerr once (warnings about
// odd inputs would flood the fuzzer's output; crash reports bypass std::cerr), and the input as a stream.
#pragma once
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <sstream>
#include <string>

#include "core/log.hpp"

inline std::istringstream quiet_fuzz_input(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    fresnel::set_log_level(fresnel::LogLevel::Quiet);
    std::cerr.rdbuf(nullptr);
    return true;
  }();
  (void)quiet;
  return std::istringstream(std::string(reinterpret_cast<const char*>(data), size));
}
