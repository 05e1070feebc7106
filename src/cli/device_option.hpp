// `--device cpu|cuda[:N]` of the commands that run models or the renderer (train, eval, infer, render, preprocess,
// bench): one flag, one check, one clear error when CUDA is asked for and this build or machine has none.
#pragma once
#include <torch/types.h>
#include <CLI/CLI.hpp>

#include <string>

namespace fresnel::cli {

// Adds --device bound to `device` (default "cpu").
CLI::Option* add_device_option(CLI::App& cmd, std::string& device);

// "cpu", "cuda" or "cuda:N" → the device. Throws fresnel::UsageError when the name is malformed, when this fresnel
// was built against a libtorch without CUDA (Debian's), or when no such CUDA device is visible.
torch::Device resolve_device(const std::string& name);

}  // namespace fresnel::cli
