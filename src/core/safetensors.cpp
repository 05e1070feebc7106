#include "core/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <ostream>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace fresnel {

// Read-only private mapping of a whole file; unmapped when the last SafetensorsFile copy goes.
struct SafetensorsFile::Mapping {
  const uint8_t* data = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (data) ::munmap(const_cast<uint8_t*>(data), size);
  }
};

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw file_error(path, std::string("cannot open safetensors file: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw file_error(path, "not a regular file");
  }
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<size_t>(st.st_size);
  if (map->size > 0) {
    void* p = ::mmap(nullptr, map->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw file_error(path, std::string("cannot map file: ") + std::strerror(errno));
    }
    map->data = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  SafetensorsFile f;
  f.path_ = path;
  static const uint8_t empty = 0;
  f.header_ = safetensors::parse_header(map->data ? map->data : &empty, map->size, path);
  f.map_ = std::move(map);
  for (size_t i = 0; i < f.header_.tensors.size(); ++i) f.index_[f.header_.tensors[i].name] = i;
  return f;
}

std::vector<std::string> SafetensorsFile::keys() const {
  std::vector<std::string> k;
  k.reserve(header_.tensors.size());
  for (const auto& t : header_.tensors) k.push_back(t.name);
  return k;
}

bool SafetensorsFile::contains(const std::string& name) const { return index_.count(name) != 0; }

const safetensors::TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw file_error(path_, "no tensor named '" + name + "'");
  return header_.tensors[it->second];
}

std::vector<int64_t> SafetensorsFile::shape(const std::string& name) const { return info(name).shape; }
std::string SafetensorsFile::dtype(const std::string& name) const { return info(name).dtype; }

namespace {

// Libtorch dtype for a safetensors dtype, when one exists.
bool torch_dtype_for(const std::string& d, torch::ScalarType& out) {
  static const std::map<std::string, torch::ScalarType> m = {
      {"BOOL", torch::kBool}, {"U8", torch::kUInt8},  {"I8", torch::kInt8},  {"I16", torch::kInt16},
      {"I32", torch::kInt32}, {"I64", torch::kInt64}, {"F16", torch::kHalf}, {"BF16", torch::kBFloat16},
      {"F32", torch::kFloat}, {"F64", torch::kDouble}};
  auto it = m.find(d);
  if (it == m.end()) return false;
  out = it->second;
  return true;
}

std::string safetensors_dtype_for(torch::ScalarType t, const std::string& name) {
  switch (t) {
    case torch::kBool:
      return "BOOL";
    case torch::kUInt8:
      return "U8";
    case torch::kInt8:
      return "I8";
    case torch::kInt16:
      return "I16";
    case torch::kInt32:
      return "I32";
    case torch::kInt64:
      return "I64";
    case torch::kHalf:
      return "F16";
    case torch::kBFloat16:
      return "BF16";
    case torch::kFloat:
      return "F32";
    case torch::kDouble:
      return "F64";
    default:
      throw Error("save_safetensors: tensor '" + name + "' has an unsupported dtype");
  }
}

// Element conversions for dtypes libtorch lacks (little-endian host assumed, as everywhere in this project).
template <typename T>
void unsigned_to_float(const uint8_t* src, float* dst, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<float>(v);
  }
}

float fp8_to_float(uint8_t b, int exp_bits, int man_bits, int bias, bool e4m3) {
  const int sign = b >> 7;
  const int e = (b >> man_bits) & ((1 << exp_bits) - 1);
  const int m = b & ((1 << man_bits) - 1);
  float v;
  if (e4m3 && e == 15 && m == 7) {
    v = std::numeric_limits<float>::quiet_NaN();
  } else if (!e4m3 && e == 31) {
    v = m ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else if (e == 0) {
    v = std::ldexp(static_cast<float>(m) / (1 << man_bits), 1 - bias);
  } else {
    v = std::ldexp(1.0f + static_cast<float>(m) / (1 << man_bits), e - bias);
  }
  return sign ? -v : v;
}

}  // namespace

torch::Tensor SafetensorsFile::tensor(const std::string& name, bool native) const {
  const auto& t = info(name);
  const uint8_t* src = map_->data + header_.data_start + t.begin;
  const auto n = static_cast<int64_t>(t.numel());
  torch::ScalarType st;
  if (torch_dtype_for(t.dtype, st)) {
    // Copy into owned, aligned memory (tensor offsets in the file need not be aligned).
    torch::Tensor out = torch::empty(t.shape, torch::TensorOptions().dtype(st));
    if (n > 0) std::memcpy(out.data_ptr(), src, t.end - t.begin);
    return native || st == torch::kFloat ? out : out.to(torch::kFloat);
  }
  torch::Tensor out = torch::empty(t.shape, torch::kFloat);
  float* dst = out.data_ptr<float>();
  if (t.dtype == "U16") {
    unsigned_to_float<uint16_t>(src, dst, n);
  } else if (t.dtype == "U32") {
    unsigned_to_float<uint32_t>(src, dst, n);
  } else if (t.dtype == "U64") {
    unsigned_to_float<uint64_t>(src, dst, n);
  } else if (t.dtype == "F8_E4M3") {
    for (int64_t i = 0; i < n; ++i) dst[i] = fp8_to_float(src[i], 4, 3, 7, true);
  } else if (t.dtype == "F8_E5M2") {
    for (int64_t i = 0; i < n; ++i) dst[i] = fp8_to_float(src[i], 5, 2, 15, false);
  } else {
    throw file_error(path_, "tensor '" + name + "': unsupported dtype " + t.dtype);
  }
  return out;
}

void save_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<safetensors::TensorInfo> infos;
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") throw Error("save_safetensors: '__metadata__' is reserved and cannot name a tensor");
    if (!t.defined()) throw Error("save_safetensors: tensor '" + name + "' is undefined");
    safetensors::TensorInfo info;
    info.name = name;
    info.dtype = safetensors_dtype_for(t.scalar_type(), name);
    info.shape = t.sizes().vec();
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    info.begin = offset;
    info.end = offset + bytes;
    offset = info.end;
    infos.push_back(std::move(info));
    data.push_back(std::move(c));
  }
  const std::string header = safetensors::serialize_header(infos, metadata);
  atomic_write(path, [&](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const auto& c : data)
      out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * c.element_size()));
  });
}

}  // namespace fresnel
