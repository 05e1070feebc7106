// NumPy .npy arrays ↔ libtorch tensors (e.g. `{stem}_vlm_density.npy`, bootstrap features).
#pragma once
#include <torch/types.h>

#include <string>

namespace fresnel {

// Reads a C-order .npy file (versions 1–3) into a CPU tensor of its own dtype (float16/32/64, int8/16/32/64,
// uint8, bool). Throws fresnel::Error naming the file on truncation, bad magic, Fortran order or other dtypes.
torch::Tensor load_npy(const std::string& path);
// Same, converted to float32.
torch::Tensor load_npy_float(const std::string& path);
// Writes a version 1.0 .npy atomically. Supported dtypes: float32, float64, uint8, int32, int64, bool.
void save_npy(const std::string& path, const torch::Tensor& tensor);

}  // namespace fresnel
