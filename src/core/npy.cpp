#include "core/npy.hpp"

#include <cstring>
#include <ostream>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/npy_header.hpp"

namespace fresnel {

torch::Tensor load_npy(const std::string& path) {
  const std::string bytes = read_text_file(path);
  const auto h = npy::parse_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
  torch::ScalarType st;
  switch (h.kind) {
    case 'f':
      st = h.item_size == 2 ? torch::kHalf : (h.item_size == 4 ? torch::kFloat : torch::kDouble);
      break;
    case 'i':
      st = h.item_size == 1 ? torch::kInt8
                            : (h.item_size == 2 ? torch::kInt16 : (h.item_size == 4 ? torch::kInt32 : torch::kInt64));
      break;
    case 'u':
      st = torch::kUInt8;
      break;
    default:
      st = torch::kBool;
      break;
  }
  torch::Tensor out = torch::empty(h.shape, torch::TensorOptions().dtype(st));
  if (out.numel() > 0) std::memcpy(out.data_ptr(), bytes.data() + h.data_offset, h.numel() * h.item_size);
  return out;
}

torch::Tensor load_npy_float(const std::string& path) { return load_npy(path).to(torch::kFloat); }

void save_npy(const std::string& path, const torch::Tensor& tensor) {
  if (!tensor.defined()) throw file_error(path, "save_npy: tensor is undefined");
  std::string descr;
  switch (tensor.scalar_type()) {
    case torch::kFloat:
      descr = "<f4";
      break;
    case torch::kDouble:
      descr = "<f8";
      break;
    case torch::kUInt8:
      descr = "|u1";
      break;
    case torch::kInt32:
      descr = "<i4";
      break;
    case torch::kInt64:
      descr = "<i8";
      break;
    case torch::kBool:
      descr = "|b1";
      break;
    default:
      throw file_error(path, "save_npy: unsupported dtype (use float32, float64, uint8, int32, int64 or bool)");
  }
  const torch::Tensor c = tensor.detach().to(torch::kCPU).contiguous();
  const std::string header = npy::make_header(descr, c.sizes().vec());
  atomic_write(path, [&](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * c.element_size()));
  });
}

}  // namespace fresnel
