#include "cli/device_option.hpp"

#include <torch/cuda.h>

#include "core/error.hpp"

namespace fresnel::cli {

CLI::Option* add_device_option(CLI::App& cmd, std::string& device) {
  return cmd
      .add_option("--device", device,
                  "cpu, or cuda / cuda:N (needs a build against a CUDA libtorch; docs/distributed.md#gpu-builds)")
      ->capture_default_str();
}

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  int index = -1;
  if (name != "cuda") {
    size_t used = 0;
    try {
      if (name.rfind("cuda:", 0) != 0) throw std::invalid_argument(name);
      index = std::stoi(name.substr(5), &used);
      if (used != name.size() - 5 || index < 0) throw std::invalid_argument(name);
    } catch (const std::exception&) {
      throw UsageError("--device '" + name + "': expected cpu, cuda or cuda:N");
    }
  }
#ifndef FRESNEL_WITH_CUDA
  throw UsageError("--device " + name +
                   ": this fresnel was built against a libtorch without CUDA (e.g. Debian's CPU build); rebuild "
                   "against a CUDA libtorch (docs/distributed.md#gpu-builds, scripts/gpu-check.sh) or use "
                   "--device cpu");
#else
  if (!torch::cuda::is_available())
    throw UsageError("--device " + name +
                     ": no CUDA device is visible (check the driver, nvidia-smi and CUDA_VISIBLE_DEVICES) or use "
                     "--device cpu");
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count)
    throw UsageError("--device " + name + ": only " + std::to_string(count) + " CUDA device(s) are visible");
  return index < 0 ? torch::Device(torch::kCUDA) : torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
#endif
}

}  // namespace fresnel::cli
