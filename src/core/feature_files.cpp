#include "core/feature_files.hpp"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace fresnel {

namespace {

// Whole file as float32 (these files are a few MB at most).
torch::Tensor read_floats(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw file_error(path, "cannot open for reading (missing or not a file)");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw file_error(path, "cannot read file size: " + ec.message());
  if (size == 0) throw file_error(path, "file is empty");
  if (size % 4 != 0)
    throw file_error(path, "length " + std::to_string(size) + " bytes is not a whole number of float32 values");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, "cannot open for reading");
  auto t = torch::empty({int64_t(size / 4)}, torch::kFloat32);
  in.read(reinterpret_cast<char*>(t.data_ptr<float>()), std::streamsize(size));
  if (size_t(in.gcount()) != size) throw file_error(path, "read error (file changed while reading?)");
  return t;
}

void check_finite(const torch::Tensor& t, const std::string& path) {
  if (!torch::isfinite(t).all().item<bool>()) {
    const int64_t bad = (~torch::isfinite(t)).sum().item<int64_t>();
    throw file_error(path, "contains " + std::to_string(bad) + " NaN or infinite values");
  }
}

void write_floats(const std::string& path, const torch::Tensor& t) {
  const auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  atomic_write(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(c.data_ptr<float>()), std::streamsize(c.numel() * sizeof(float)));
  });
}

}  // namespace

std::string dinov2_file_name(const std::string& stem, const std::string& model_size) {
  if (model_size == "small") return stem + "_dinov2.bin";
  if (model_size == "base" || model_size == "large") return stem + "_dinov2_" + model_size + ".bin";
  throw UsageError("unknown DINOv2 size '" + model_size + "' (expected small, base or large)");
}

std::string depth_file_name(const std::string& stem) { return stem + "_depth.bin"; }

int64_t dinov2_channels(const std::string& model_size) {
  if (model_size == "small") return 384;
  if (model_size == "base") return 768;
  if (model_size == "large") return 1024;
  throw UsageError("unknown DINOv2 size '" + model_size + "' (expected small, base or large)");
}

torch::Tensor load_dinov2_features(const std::string& path, int64_t expected_channels) {
  const auto flat = read_floats(path);
  const int64_t cells = kDinoGrid * kDinoGrid;
  if (flat.numel() % cells != 0)
    throw file_error(path, "length " + std::to_string(flat.numel() * 4) +
                               " bytes is not 37·37·C·4 for any channel count C (not a DINOv2 feature file)");
  const int64_t c = flat.numel() / cells;
  if (expected_channels > 0 && c != expected_channels)
    throw file_error(path, "has " + std::to_string(c) + " feature channels, expected " +
                               std::to_string(expected_channels) + " (different DINOv2 size?)");
  check_finite(flat, path);
  return flat.view({kDinoGrid, kDinoGrid, c}).permute({2, 0, 1}).contiguous();
}

void save_dinov2_features(const std::string& path, const torch::Tensor& f) {
  if (f.dim() != 3 || f.size(1) != kDinoGrid || f.size(2) != kDinoGrid)
    throw file_error(path, "DINOv2 features must have shape (C,37,37), got " + c10::str(f.sizes()));
  write_floats(path, f.permute({1, 2, 0}));
}

torch::Tensor load_depth_bin(const std::string& path) {
  const auto flat = read_floats(path);
  const int64_t n = flat.numel();
  const auto s = int64_t(std::llround(std::sqrt(double(n))));
  if (s * s != n)
    throw file_error(
        path, "holds " + std::to_string(n) + " float32 values, which is not S·S for any S (not a square depth map)");
  check_finite(flat, path);
  return flat.view({s, s});
}

void save_depth_bin(const std::string& path, const torch::Tensor& depth) {
  auto d = depth.dim() == 3 && depth.size(0) == 1 ? depth.squeeze(0) : depth;
  if (d.dim() != 2 || d.size(0) != d.size(1))
    throw file_error(path, "depth must have shape (S,S) or (1,S,S), got " + c10::str(depth.sizes()));
  write_floats(path, d);
}

}  // namespace fresnel
