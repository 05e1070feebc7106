#include "core/torch_pt.hpp"

#include <torch/torch.h>

#include <array>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace fresnel {

using torch_pickle::DType;
using Kind = PtObject::Kind;

namespace {

torch::ScalarType scalar_type(DType t) {
  switch (t) {
    case DType::Float32:
      return torch::kFloat32;
    case DType::Float64:
      return torch::kFloat64;
    case DType::Float16:
      return torch::kFloat16;
    case DType::BFloat16:
      return torch::kBFloat16;
    case DType::Int64:
      return torch::kInt64;
    case DType::Int32:
      return torch::kInt32;
    case DType::Int16:
      return torch::kInt16;
    case DType::Int8:
      return torch::kInt8;
    case DType::UInt8:
      return torch::kUInt8;
    case DType::Bool:
      return torch::kBool;
  }
  return torch::kFloat32;
}

// The storage class torch.save names for a dtype; throws for dtypes it cannot hold.
const char* storage_class(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return "FloatStorage";
    case torch::kFloat64:
      return "DoubleStorage";
    case torch::kFloat16:
      return "HalfStorage";
    case torch::kBFloat16:
      return "BFloat16Storage";
    case torch::kInt64:
      return "LongStorage";
    case torch::kInt32:
      return "IntStorage";
    case torch::kInt16:
      return "ShortStorage";
    case torch::kInt8:
      return "CharStorage";
    case torch::kUInt8:
      return "ByteStorage";
    case torch::kBool:
      return "BoolStorage";
    default:
      throw Error(std::string("save_pt: tensors of dtype ") + c10::toString(t) + " cannot be written");
  }
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw file_error(path, "cannot open .pt file");
  const std::streamoff size = in.tellg();
  if (size < 0) throw file_error(path, "cannot read .pt file");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) throw file_error(path, "cannot read .pt file");
  return bytes;
}

std::string key_string(const PtObject& k) {
  switch (k.kind) {
    case Kind::String:
      return k.s;
    case Kind::Int:
      return std::to_string(k.i);
    case Kind::Bool:
      return k.b ? "True" : "False";
    case Kind::None:
      return "None";
    default:
      return std::string("<") + k.kind_name() + ">";
  }
}

}  // namespace

PtFile PtFile::open(const std::string& path) {
  PtFile f;
  f.path_ = path;
  f.bytes_ = std::make_shared<std::vector<uint8_t>>(read_file(path));
  static const uint8_t empty = 0;
  const uint8_t* data = f.bytes_->empty() ? &empty : f.bytes_->data();
  f.archive_ = std::make_shared<torch_pickle::Archive>(torch_pickle::parse_archive(data, f.bytes_->size(), path));
  return f;
}

torch::Tensor PtFile::tensor(const PtObject& o, const std::string& what) const {
  if (o.kind != Kind::Tensor) throw file_error(path_, what + " is a " + o.kind_name() + ", not a tensor");
  const auto& t = o.tensor;
  const auto& entry = archive_->storages.at(t.storage_key);  // parse_archive checked it exists and fits
  const auto type = scalar_type(t.dtype);
  auto storage = torch::from_blob(bytes_->data() + entry.offset, {t.storage_numel}, torch::TensorOptions(type));
  if (t.numel() == 0) return torch::empty(t.shape, torch::TensorOptions(type));
  return storage.as_strided(t.shape, t.stride, t.offset).clone(torch::MemoryFormat::Contiguous);
}

const PtObject& PtFile::at(const PtObject& dict, const std::string& key) const {
  if (dict.kind != Kind::Dict) throw file_error(path_, "looking up '" + key + "' in a " + dict.kind_name());
  const PtObject* v = dict.find(key);
  if (!v) throw file_error(path_, "has no entry '" + key + "'");
  return *v;
}

std::vector<std::pair<std::string, torch::Tensor>> PtFile::tensors(const PtObject& dict,
                                                                   const std::string& what) const {
  if (dict.kind != Kind::Dict) throw file_error(path_, what + " is a " + dict.kind_name() + ", not a dict");
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& [k, v] : dict.map)
    if (v->kind == Kind::Tensor) out.emplace_back(key_string(*k), tensor(*v, what + "['" + key_string(*k) + "']"));
  return out;
}

nlohmann::json PtFile::json(const PtObject& root) const {
  // Iterative bound on nesting: hostile files may hold cycles.
  std::function<nlohmann::json(const PtObject&, int)> walk = [&](const PtObject& o, int depth) -> nlohmann::json {
    if (depth > 64) throw file_error(path_, "objects nested deeper than 64 levels");
    switch (o.kind) {
      case Kind::None:
        return nullptr;
      case Kind::Bool:
        return o.b;
      case Kind::Int:
        return o.i;
      case Kind::Float:
        return o.f;
      case Kind::String:
        return o.s;
      case Kind::Global:
        return "<" + o.s + ">";
      case Kind::Tensor:
        return nlohmann::json{{"tensor", o.tensor.shape}};
      case Kind::List:
      case Kind::Tuple: {
        auto a = nlohmann::json::array();
        for (const PtObject* x : o.items) a.push_back(walk(*x, depth + 1));
        return a;
      }
      case Kind::Dict: {
        auto d = nlohmann::json::object();
        for (const auto& [k, v] : o.map) d[key_string(*k)] = walk(*v, depth + 1);
        return d;
      }
    }
    return nullptr;
  };
  return walk(root, 0);
}

torch::Tensor load_pt_tensor(const std::string& path) {
  auto f = PtFile::open(path);
  return f.tensor(f.root(), "the file's object");
}

// --- writer ----------------------------------------------------------------------------------------------------

PtValue PtValue::integer(int64_t v) {
  PtValue p;
  p.kind = Kind::Int;
  p.i = v;
  return p;
}
PtValue PtValue::real(double v) {
  PtValue p;
  p.kind = Kind::Float;
  p.f = v;
  return p;
}
PtValue PtValue::boolean(bool v) {
  PtValue p;
  p.kind = Kind::Bool;
  p.b = v;
  return p;
}
PtValue PtValue::str(std::string v) {
  PtValue p;
  p.kind = Kind::String;
  p.s = std::move(v);
  return p;
}
PtValue PtValue::of_list(std::vector<PtValue> v) {
  PtValue p;
  p.kind = Kind::List;
  p.list = std::move(v);
  return p;
}
PtValue PtValue::of_dict(std::vector<std::pair<std::string, PtValue>> v) {
  PtValue p;
  p.kind = Kind::Dict;
  p.dict = std::move(v);
  return p;
}

namespace {

uint32_t crc32(const uint8_t* p, size_t n) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put(std::string& out, uint64_t v, int n) {
  for (int k = 0; k < n; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
}

class PickleWriter {
 public:
  std::string pickle;
  std::vector<torch::Tensor> storages;  // contiguous CPU tensors; key = index

  void write_root(const PtValue& v) {
    pickle += "\x80\x02";
    write(v, 0);
    pickle += '.';
  }

 private:
  void op(char c) { pickle += c; }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      put(pickle, static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v < 65536) {
      op('M');
      put(pickle, static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      put(pickle, static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(v))), 4);
    } else {
      op('\x8a');
      put(pickle, 8, 1);
      put(pickle, static_cast<uint64_t>(v), 8);
    }
  }
  void string(const std::string& s) {
    op('X');
    put(pickle, s.size(), 4);
    pickle += s;
  }
  void global(const char* module, const char* name) {
    op('c');
    pickle += std::string(module) + "\n" + name + "\n";
  }
  void tensor(const torch::Tensor& t) {
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    const std::string key = std::to_string(storages.size());
    global("torch._utils", "_rebuild_tensor_v2");
    op('(');
    op('(');  // persistent id ('storage', torch.<Type>Storage, key, 'cpu', numel)
    string("storage");
    global("torch", storage_class(c.scalar_type()));
    string(key);
    string("cpu");
    integer(c.numel());
    op('t');
    op('Q');
    storages.push_back(c);
    integer(0);
    op('(');
    for (int64_t d : c.sizes()) integer(d);
    op('t');
    op('(');
    for (int64_t s : c.strides()) integer(s);
    op('t');
    op('\x89');  // requires_grad False
    global("collections", "OrderedDict");
    op(')');
    op('R');
    op('t');
    op('R');
  }
  void write(const PtValue& v, int depth) {
    if (depth > 64) throw Error("save_pt: values nested deeper than 64 levels");
    switch (v.kind) {
      case PtValue::Kind::None:
        op('N');
        break;
      case PtValue::Kind::Bool:
        op(v.b ? '\x88' : '\x89');
        break;
      case PtValue::Kind::Int:
        integer(v.i);
        break;
      case PtValue::Kind::Float: {
        op('G');
        uint64_t bits;
        std::memcpy(&bits, &v.f, 8);
        for (int k = 7; k >= 0; --k) pickle.push_back(static_cast<char>((bits >> (8 * k)) & 0xFF));
        break;
      }
      case PtValue::Kind::String:
        string(v.s);
        break;
      case PtValue::Kind::Tensor:
        if (!v.tensor.defined()) throw Error("save_pt: undefined tensor");
        tensor(v.tensor);
        break;
      case PtValue::Kind::List:
        op(']');
        if (!v.list.empty()) {
          op('(');
          for (const auto& x : v.list) write(x, depth + 1);
          op('e');
        }
        break;
      case PtValue::Kind::Dict:
        op('}');
        if (!v.dict.empty()) {
          op('(');
          for (const auto& [k, x] : v.dict) {
            string(k);
            write(x, depth + 1);
          }
          op('u');
        }
        break;
    }
  }
};

// A zip of stored entries whose data start 64-byte aligned (as torch.save pads them, so readers may map them).
class ZipWriter {
 public:
  std::string out;

  void add(const std::string& name, const uint8_t* data, size_t size) {
    const uint64_t header = out.size();
    const size_t base = header + 30 + name.size() + 4;  // with an empty padding extra field
    const size_t pad = (64 - base % 64) % 64;
    const uint32_t crc = crc32(data, size);
    if (header + 30 + name.size() + 4 + pad + size > 0xFFFFFFFFull)
      throw Error("save_pt: files over 4 GiB are not written");
    put(out, 0x04034b50, 4);
    put(out, 20, 2);  // version needed
    put(out, 0, 2);   // flags
    put(out, 0, 2);   // stored
    put(out, 0, 4);   // time, date
    put(out, crc, 4);
    put(out, size, 4);
    put(out, size, 4);
    put(out, name.size(), 2);
    put(out, 4 + pad, 2);
    out += name;
    put(out, 0x4246, 2);  // "FB": torch.save's padding field
    put(out, pad, 2);
    out.append(pad, 'Z');
    out.append(reinterpret_cast<const char*>(data), size);
    entries_.push_back({name, crc, size, header});
  }

  void finish() {
    const uint64_t cd_offset = out.size();
    for (const auto& e : entries_) {
      put(out, 0x02014b50, 4);
      put(out, 20, 2);  // made by
      put(out, 20, 2);  // needed
      put(out, 0, 2);
      put(out, 0, 2);
      put(out, 0, 4);
      put(out, e.crc, 4);
      put(out, e.size, 4);
      put(out, e.size, 4);
      put(out, e.name.size(), 2);
      put(out, 0, 2);  // extra
      put(out, 0, 2);  // comment
      put(out, 0, 2);  // disk
      put(out, 0, 2);  // internal attributes
      put(out, 0, 4);  // external attributes
      put(out, e.offset, 4);
      out += e.name;
    }
    const uint64_t cd_size = out.size() - cd_offset;
    put(out, 0x06054b50, 4);
    put(out, 0, 4);
    put(out, entries_.size(), 2);
    put(out, entries_.size(), 2);
    put(out, cd_size, 4);
    put(out, cd_offset, 4);
    put(out, 0, 2);
  }

 private:
  struct Entry {
    std::string name;
    uint32_t crc;
    uint64_t size, offset;
  };
  std::vector<Entry> entries_;
};

}  // namespace

void save_pt(const std::string& path, const PtValue& value) {
  PickleWriter pickler;
  pickler.write_root(value);
  ZipWriter zip;
  const std::string prefix = "archive/";
  zip.add(prefix + "data.pkl", reinterpret_cast<const uint8_t*>(pickler.pickle.data()), pickler.pickle.size());
  for (size_t k = 0; k < pickler.storages.size(); ++k) {
    const auto& t = pickler.storages[k];
    zip.add(prefix + "data/" + std::to_string(k), static_cast<const uint8_t*>(t.data_ptr()), t.nbytes());
  }
  const std::string version = "3\n";
  zip.add(prefix + "version", reinterpret_cast<const uint8_t*>(version.data()), version.size());
  zip.finish();
  atomic_write(path, [&](std::ostream& os) { os.write(zip.out.data(), static_cast<std::streamsize>(zip.out.size())); });
}

}  // namespace fresnel
