// Reading and writing safetensors files (the format of Hugging Face checkpoints and of the weights we publish).
// Reading maps the file (mmap) and copies only the tensors asked for; every header inconsistency is one
// fresnel::Error naming the file and the tensor.
#pragma once
#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/safetensors_header.hpp"

namespace fresnel {

class SafetensorsFile {
 public:
  // Maps and validates `path`; throws fresnel::Error when missing, truncated or inconsistent.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  std::vector<std::string> keys() const;  // sorted
  bool contains(const std::string& name) const;
  std::vector<int64_t> shape(const std::string& name) const;
  std::string dtype(const std::string& name) const;  // safetensors name: "F32", "BF16", …
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  // A fresh (owned, contiguous) CPU tensor. Converted to float32 unless `native` (then the stored dtype;
  // unsigned 16/32/64-bit and float8 have no libtorch dtype and are always converted to float32).
  torch::Tensor tensor(const std::string& name, bool native = false) const;

 private:
  struct Mapping;
  const safetensors::TensorInfo& info(const std::string& name) const;
  std::string path_;
  std::shared_ptr<Mapping> map_;
  safetensors::Header header_;
  std::map<std::string, size_t> index_;
};

// Writes tensors (any CPU/GPU, any layout; stored in their own dtype) and string metadata atomically.
void save_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace fresnel
