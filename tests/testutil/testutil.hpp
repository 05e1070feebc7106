// Helpers shared by every test binary.
#pragma once
#include <torch/types.h>

#include <string>

namespace fresnel::test {

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Max |a − b| as double.
double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b);
// Writes raw bytes to a file (for corrupt-input tests).
void write_bytes(const std::string& path, const std::string& bytes);
std::string read_bytes(const std::string& path);

}  // namespace fresnel::test
