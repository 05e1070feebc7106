#include "core/memory.hpp"

#include <fstream>
#include <string>

namespace fresnel {

double peak_memory_mib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

}  // namespace fresnel
