// Torch-free parsing of PyTorch `torch.save` files (the zip format of PyTorch ≥ 1.6): a zip archive of stored
// (uncompressed) entries `<prefix>/data.pkl` (a pickle, protocol 2) and `<prefix>/data/<key>` (raw little-endian
// storages). Only the subset torch.save writes is accepted: dicts (also `collections.OrderedDict`), lists, tuples,
// ints, floats, strings, bools, None, and tensors rebuilt by `torch._utils._rebuild_tensor_v2` /
// `_rebuild_parameter` from storages named by persistent id. Nothing is executed: any other global is an error.
// Every size and offset is checked against the file image before it is used. Kept free of libtorch so the
// fuzzer links it alone; core/torch_pt.hpp turns the result into torch tensors.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fresnel::torch_pickle {

// One stored entry of a zip archive: its name and where its bytes lie in the file image.
struct ZipEntry {
  std::string name;
  uint64_t offset = 0;  // absolute offset of the entry's data
  uint64_t size = 0;
};

// Reads the central directory (zip64 too) of the file image `bytes[0..size)`. Rejects compressed or encrypted
// entries and any range outside the image. Throws fresnel::Error starting with `source`.
std::vector<ZipEntry> read_zip_directory(const uint8_t* bytes, size_t size, const std::string& source);

// Element types of torch storages (the Python storage class each one comes from).
enum class DType { Float32, Float64, Float16, BFloat16, Int64, Int32, Int16, Int8, UInt8, Bool };
size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", …

struct TensorRef {
  std::string storage_key;  // the archive entry is "<prefix>/data/<storage_key>"
  DType dtype = DType::Float32;
  int64_t storage_numel = 0;  // elements in the storage
  int64_t offset = 0;         // in elements
  std::vector<int64_t> shape, stride;
  int64_t numel() const;
};

// A pickled object. Objects live in the Document's arena and refer to each other by pointer, so shared and even
// cyclic references (possible in hostile files) cost nothing; walkers bound their depth.
struct Object {
  enum class Kind { None, Bool, Int, Float, String, List, Tuple, Dict, Tensor, Global };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                                             // String; Global: "module.name"
  std::vector<const Object*> items;                          // List, Tuple
  std::vector<std::pair<const Object*, const Object*>> map;  // Dict, in insertion order
  TensorRef tensor;                                          // Tensor

  bool is_dict() const { return kind == Kind::Dict; }
  // Dict lookup by string key; nullptr when absent or not a dict.
  const Object* find(const std::string& key) const;
  const char* kind_name() const;
};

struct Document {
  std::vector<std::unique_ptr<Object>> arena;
  const Object* root = nullptr;
};

// Runs the pickle `bytes[0..size)` in a sandbox that knows only the opcodes and globals listed above.
// Throws fresnel::Error starting with `source` on anything else (unknown opcode, stack underflow, truncation).
Document parse_pickle(const uint8_t* bytes, size_t size, const std::string& source);

// A parsed torch.save archive: the pickle's objects and, for each storage key, its byte range in the file.
struct Archive {
  Document doc;
  std::string prefix;                        // "<prefix>/" of every entry
  std::map<std::string, ZipEntry> storages;  // key → entry
};

// Zip + pickle + every tensor's storage checked: the entry exists, holds storage_numel elements of its dtype,
// and every element the tensor's shape/stride/offset reaches is inside the storage.
Archive parse_archive(const uint8_t* bytes, size_t size, const std::string& source);

}  // namespace fresnel::torch_pickle
