#include "core/torch_pickle.hpp"

#include <cstring>
#include <limits>

#include "core/error.hpp"

namespace fresnel::torch_pickle {
namespace {

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int k = n - 1; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

// --- zip -------------------------------------------------------------------------------------------------------

constexpr uint32_t kEocd = 0x06054b50, kEocd64 = 0x06064b50, kEocd64Locator = 0x07064b50;
constexpr uint32_t kCentral = 0x02014b50, kLocal = 0x04034b50;

struct ZipReader {
  const uint8_t* bytes;
  size_t size;
  const std::string& source;

  [[noreturn]] void fail(const std::string& what) const {
    throw file_error(source, "not a valid torch.save zip: " + what);
  }
  // Bytes [offset, offset+n) must lie in the file.
  const uint8_t* at(uint64_t offset, uint64_t n, const char* what) const {
    if (offset > size || n > size - offset) fail(std::string(what) + " lies outside the file (truncated?)");
    return bytes + offset;
  }
};

}  // namespace

std::vector<ZipEntry> read_zip_directory(const uint8_t* bytes, size_t size, const std::string& source) {
  ZipReader z{bytes, size, source};
  if (size < 22) z.fail("file too short for a zip archive");
  // The end-of-central-directory record is within the last 22 + 65535 bytes (its comment is at most 65535).
  size_t eocd = std::string::npos;
  const size_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  for (size_t p = size - 22 + 1; p-- > lowest;)
    if (le(bytes + p, 4) == kEocd) {
      eocd = p;
      break;
    }
  if (eocd == std::string::npos) z.fail("no end-of-central-directory record");
  const uint8_t* e = bytes + eocd;
  uint64_t count = le(e + 10, 2), cd_size = le(e + 12, 4), cd_offset = le(e + 16, 4);
  if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    if (eocd < 20 || le(bytes + eocd - 20, 4) != kEocd64Locator) z.fail("zip64 fields without a zip64 locator");
    const uint64_t rec = le(bytes + eocd - 20 + 8, 8);
    const uint8_t* r = z.at(rec, 56, "zip64 end-of-central-directory record");
    if (le(r, 4) != kEocd64) z.fail("bad zip64 end-of-central-directory signature");
    count = le(r + 32, 8);
    cd_size = le(r + 40, 8);
    cd_offset = le(r + 48, 8);
  }
  z.at(cd_offset, cd_size, "central directory");
  if (count > cd_size / 46) z.fail("entry count " + std::to_string(count) + " does not fit the central directory");
  std::vector<ZipEntry> entries;
  entries.reserve(count);
  uint64_t p = cd_offset;
  const uint64_t cd_end = cd_offset + cd_size;
  for (uint64_t n = 0; n < count; ++n) {
    if (p + 46 > cd_end) z.fail("central directory truncated");
    const uint8_t* c = bytes + p;
    if (le(c, 4) != kCentral) z.fail("bad central directory entry signature");
    const uint64_t flags = le(c + 8, 2), method = le(c + 10, 2);
    uint64_t csize = le(c + 20, 4), usize = le(c + 24, 4), local = le(c + 42, 4);
    const uint64_t name_len = le(c + 28, 2), extra_len = le(c + 30, 2), comment_len = le(c + 32, 2);
    if (p + 46 + name_len + extra_len + comment_len > cd_end) z.fail("central directory entry runs past its end");
    ZipEntry entry;
    entry.name.assign(reinterpret_cast<const char*>(c + 46), name_len);
    // Zip64 extra field (id 1): the 8-byte values of exactly those fields saturated above, in this order.
    for (uint64_t q = 0; q + 4 <= extra_len;) {
      const uint8_t* x = c + 46 + name_len + q;
      const uint64_t id = le(x, 2), len = le(x + 2, 2);
      if (q + 4 + len > extra_len) z.fail("extra field of '" + entry.name + "' runs past its end");
      if (id == 1) {
        uint64_t k = 0;
        auto take = [&](uint64_t& field) {
          if (field != 0xFFFFFFFF) return;
          if (k + 8 > len) z.fail("zip64 extra field of '" + entry.name + "' too short");
          field = le(x + 4 + k, 8);
          k += 8;
        };
        take(usize);
        take(csize);
        take(local);
      }
      q += 4 + len;
    }
    if (flags & 1) z.fail("entry '" + entry.name + "' is encrypted");
    if (method != 0 || csize != usize)
      z.fail("entry '" + entry.name + "' is compressed (torch.save stores entries uncompressed)");
    const uint8_t* l = z.at(local, 30, "local header");
    if (le(l, 4) != kLocal) z.fail("bad local header signature for '" + entry.name + "'");
    entry.offset = local + 30 + le(l + 26, 2) + le(l + 28, 2);
    entry.size = usize;
    z.at(entry.offset, entry.size, ("data of '" + entry.name + "'").c_str());
    entries.push_back(std::move(entry));
    p += 46 + name_len + extra_len + comment_len;
  }
  return entries;
}

// --- dtypes and objects ----------------------------------------------------------------------------------------

size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float64:
    case DType::Int64:
      return 8;
    case DType::Float32:
    case DType::Int32:
      return 4;
    case DType::Float16:
    case DType::BFloat16:
    case DType::Int16:
      return 2;
    default:
      return 1;
  }
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
    case DType::Float16:
      return "float16";
    case DType::BFloat16:
      return "bfloat16";
    case DType::Int64:
      return "int64";
    case DType::Int32:
      return "int32";
    case DType::Int16:
      return "int16";
    case DType::Int8:
      return "int8";
    case DType::UInt8:
      return "uint8";
    case DType::Bool:
      return "bool";
  }
  return "?";
}

int64_t TensorRef::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // dims were checked against overflow when the tensor was rebuilt
  return n;
}

const Object* Object::find(const std::string& key) const {
  if (kind != Kind::Dict) return nullptr;
  const Object* found = nullptr;  // a repeated key: the last value wins, as in Python
  for (const auto& [k, v] : map)
    if (k->kind == Kind::String && k->s == key) found = v;
  return found;
}

const char* Object::kind_name() const {
  switch (kind) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::List:
      return "list";
    case Kind::Tuple:
      return "tuple";
    case Kind::Dict:
      return "dict";
    case Kind::Tensor:
      return "tensor";
    case Kind::Global:
      return "global";
  }
  return "?";
}

// --- pickle ----------------------------------------------------------------------------------------------------
namespace {

// The storage classes torch.save names in persistent ids.
bool storage_dtype(const std::string& global, DType& out) {
  static const std::pair<const char*, DType> table[] = {
      {"torch.FloatStorage", DType::Float32}, {"torch.DoubleStorage", DType::Float64},
      {"torch.HalfStorage", DType::Float16},  {"torch.BFloat16Storage", DType::BFloat16},
      {"torch.LongStorage", DType::Int64},    {"torch.IntStorage", DType::Int32},
      {"torch.ShortStorage", DType::Int16},   {"torch.CharStorage", DType::Int8},
      {"torch.ByteStorage", DType::UInt8},    {"torch.BoolStorage", DType::Bool},
      {"torch.UntypedStorage", DType::UInt8},
  };
  for (const auto& [name, t] : table)
    if (global == name) return (out = t), true;
  return false;
}

const char* const kAllowedGlobals[] = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                       "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state"};

class Machine {
 public:
  Machine(const uint8_t* bytes, size_t size, const std::string& source)
      : start_(bytes), p_(bytes), end_(bytes + size), src_(source) {}

  Document run() {
    while (true) {
      if (p_ >= end_) fail("pickle ends without STOP (truncated?)");
      const uint8_t op = *p_++;
      switch (op) {
        case 0x80:
          take(1);
          break;  // PROTO
        case 0x95:
          take(8);
          break;   // FRAME (protocol 4): a length hint only
        case '.':  // STOP
          if (stack_.size() != 1 || !marks_.empty())
            fail("pickle stops with " + std::to_string(stack_.size()) + " objects on the stack");
          doc_.root = stack_.back();
          return std::move(doc_);
        case 'N':
          push(make(Object::Kind::None));
          break;
        case 0x88:
          push(boolean(true));
          break;
        case 0x89:
          push(boolean(false));
          break;
        case 'K':
          push(integer(static_cast<int64_t>(le(take(1), 1))));
          break;
        case 'M':
          push(integer(static_cast<int64_t>(le(take(2), 2))));
          break;
        case 'J':
          push(integer(static_cast<int32_t>(le(take(4), 4))));
          break;
        case 0x8a: {  // LONG1: n-byte two's complement
          const uint64_t n = le(take(1), 1);
          if (n > 8) fail("integer of " + std::to_string(n) + " bytes is too large");
          const uint8_t* b = take(n);
          uint64_t v = n ? le(b, static_cast<int>(n)) : 0;
          if (n > 0 && n < 8 && (b[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);
          push(integer(static_cast<int64_t>(v)));
          break;
        }
        case 'G': {  // BINFLOAT: big-endian double
          const uint8_t* b = take(8);
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | b[k];
          Object* o = make(Object::Kind::Float);
          std::memcpy(&o->f, &bits, 8);
          push(o);
          break;
        }
        case 'X':
          push(string(le(take(4), 4)));
          break;  // BINUNICODE
        case 0x8c:
          push(string(le(take(1), 1)));
          break;  // SHORT_BINUNICODE (protocol 4)
        case 'T':
          push(string(le(take(4), 4)));
          break;  // BINSTRING
        case 'U':
          push(string(le(take(1), 1)));
          break;  // SHORT_BINSTRING
        case 'B':
          push(string(le(take(4), 4)));
          break;  // BINBYTES
        case 'C':
          push(string(le(take(1), 1)));
          break;  // SHORT_BINBYTES
        case '}':
          push(make(Object::Kind::Dict));
          break;  // EMPTY_DICT
        case ']':
          push(make(Object::Kind::List));
          break;  // EMPTY_LIST
        case ')':
          push(make(Object::Kind::Tuple));
          break;  // EMPTY_TUPLE
        case '(':
          marks_.push_back(stack_.size());
          break;  // MARK
        case 't':
          push(collect(Object::Kind::Tuple, pop_mark()));
          break;
        case 'l':
          push(collect(Object::Kind::List, pop_mark()));
          break;
        case 'd': {  // DICT
          auto items = pop_mark();
          if (items.size() % 2) fail("DICT with an odd number of items");
          Object* d = make(Object::Kind::Dict);
          for (size_t k = 0; k < items.size(); k += 2) d->map.emplace_back(items[k], items[k + 1]);
          push(d);
          break;
        }
        case 0x85:
          push(collect(Object::Kind::Tuple, pop_n(1)));
          break;
        case 0x86:
          push(collect(Object::Kind::Tuple, pop_n(2)));
          break;
        case 0x87:
          push(collect(Object::Kind::Tuple, pop_n(3)));
          break;
        case 'a': {  // APPEND
          Object* v = pop();
          list_on_top()->items.push_back(v);
          break;
        }
        case 'e': {  // APPENDS
          auto items = pop_mark();
          Object* l = list_on_top();
          l->items.insert(l->items.end(), items.begin(), items.end());
          break;
        }
        case 's': {  // SETITEM
          Object* v = pop();
          Object* k = pop();
          dict_on_top()->map.emplace_back(k, v);
          break;
        }
        case 'u': {  // SETITEMS
          auto items = pop_mark();
          if (items.size() % 2) fail("SETITEMS with an odd number of items");
          Object* d = dict_on_top();
          for (size_t k = 0; k < items.size(); k += 2) d->map.emplace_back(items[k], items[k + 1]);
          break;
        }
        case '0':
          pop();
          break;  // POP
        case '1':
          pop_mark();
          break;  // POP_MARK
        case '2':
          push(top());
          break;  // DUP
        case 'q':
          memo_[le(take(1), 1)] = top();
          break;  // BINPUT
        case 'r':
          memo_[le(take(4), 4)] = top();
          break;  // LONG_BINPUT
        case 0x94:
          memo_[memo_.size()] = top();
          break;  // MEMOIZE (protocol 4)
        case 'h':
          push(memo(le(take(1), 1)));
          break;  // BINGET
        case 'j':
          push(memo(le(take(4), 4)));
          break;     // LONG_BINGET
        case 'c': {  // GLOBAL "module\nname\n"
          std::string module = line(), name = line();
          push(global(module + "." + name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL (protocol 4)
          Object* name = pop();
          Object* module = pop();
          if (name->kind != Object::Kind::String || module->kind != Object::Kind::String)
            fail("STACK_GLOBAL needs two strings");
          push(global(module->s + "." + name->s));
          break;
        }
        case 'Q':
          push(persistent(pop()));
          break;     // BINPERSID
        case 'R': {  // REDUCE
          Object* args = pop();
          Object* callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 'b': {  // BUILD: object state (OrderedDict._metadata, parameter attributes) carries no data we use
          pop();
          Object* target = top();
          if (target->kind != Object::Kind::Dict && target->kind != Object::Kind::Tensor)
            fail(std::string("BUILD on a ") + target->kind_name());
          break;
        }
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(std::string("unsupported pickle opcode ") + hex + " at byte " + std::to_string(p_ - 1 - start_));
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw file_error(src_, "data.pkl: " + what); }

  const uint8_t* take(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) fail("pickle truncated");
    const uint8_t* b = p_;
    p_ += n;
    return b;
  }
  std::string line() {
    const uint8_t* nl = static_cast<const uint8_t*>(std::memchr(p_, '\n', end_ - p_));
    if (!nl) fail("pickle truncated inside a GLOBAL");
    std::string s(reinterpret_cast<const char*>(p_), nl - p_);
    p_ = nl + 1;
    return s;
  }

  Object* make(Object::Kind kind) {
    doc_.arena.push_back(std::make_unique<Object>());
    doc_.arena.back()->kind = kind;
    return doc_.arena.back().get();
  }
  Object* boolean(bool v) {
    Object* o = make(Object::Kind::Bool);
    o->b = v;
    return o;
  }
  Object* integer(int64_t v) {
    Object* o = make(Object::Kind::Int);
    o->i = v;
    return o;
  }
  Object* string(uint64_t n) {
    const uint8_t* b = take(n);
    Object* o = make(Object::Kind::String);
    o->s.assign(reinterpret_cast<const char*>(b), n);
    return o;
  }
  Object* global(const std::string& name) {
    DType unused;
    bool ok = storage_dtype(name, unused);
    for (const char* g : kAllowedGlobals) ok = ok || name == g;
    if (!ok) fail("unsupported global '" + name + "' (only what torch.save writes for tensors and dicts is read)");
    Object* o = make(Object::Kind::Global);
    o->s = name;
    return o;
  }
  Object* collect(Object::Kind kind, std::vector<Object*> items) {
    Object* o = make(kind);
    o->items.assign(items.begin(), items.end());
    return o;
  }

  void push(Object* o) { stack_.push_back(o); }
  Object* top() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("stack underflow");
    return stack_.back();
  }
  Object* pop() {
    Object* o = top();
    stack_.pop_back();
    return o;
  }
  std::vector<Object*> pop_n(size_t n) {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() < floor + n) fail("stack underflow");
    std::vector<Object*> items(stack_.end() - n, stack_.end());
    stack_.resize(stack_.size() - n);
    return items;
  }
  std::vector<Object*> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Object*> items(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return items;
  }
  Object* list_on_top() {
    Object* l = top();
    if (l->kind != Object::Kind::List) fail(std::string("APPEND to a ") + l->kind_name());
    return l;
  }
  Object* dict_on_top() {
    Object* d = top();
    if (d->kind != Object::Kind::Dict) fail(std::string("SETITEM on a ") + d->kind_name());
    return d;
  }
  Object* memo(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key " + std::to_string(key) + " was never stored");
    return it->second;
  }

  // ('storage', <storage class>, key, location, numel) → a 1-D storage-shaped tensor reference.
  Object* persistent(Object* pid) {
    if (pid->kind != Object::Kind::Tuple || pid->items.size() != 5 || pid->items[0]->kind != Object::Kind::String ||
        pid->items[0]->s != "storage" || pid->items[1]->kind != Object::Kind::Global ||
        pid->items[2]->kind != Object::Kind::String || pid->items[4]->kind != Object::Kind::Int)
      fail("persistent id is not ('storage', type, key, location, numel)");
    Object* o = make(Object::Kind::Tensor);
    if (!storage_dtype(pid->items[1]->s, o->tensor.dtype)) fail("'" + pid->items[1]->s + "' is not a storage type");
    o->tensor.storage_key = pid->items[2]->s;
    o->tensor.storage_numel = pid->items[4]->i;
    if (o->tensor.storage_numel < 0) fail("storage '" + o->tensor.storage_key + "' has a negative size");
    o->tensor.shape = {o->tensor.storage_numel};
    o->tensor.stride = {1};
    is_storage_.push_back(o);
    return o;
  }
  bool is_storage(const Object* o) const {
    for (const Object* s : is_storage_)
      if (s == o) return true;
    return false;
  }
  std::vector<int64_t> ints(const Object* tuple, const char* what) {
    if (tuple->kind != Object::Kind::Tuple) fail(std::string("tensor ") + what + " is not a tuple");
    std::vector<int64_t> v;
    for (const Object* x : tuple->items) {
      if (x->kind != Object::Kind::Int || x->i < 0) fail(std::string("tensor ") + what + " holds a non-size");
      v.push_back(x->i);
    }
    return v;
  }

  Object* reduce(Object* callable, Object* args) {
    if (callable->kind != Object::Kind::Global) fail(std::string("REDUCE calls a ") + callable->kind_name());
    if (args->kind != Object::Kind::Tuple) fail("REDUCE arguments are not a tuple");
    const std::string& name = callable->s;
    const auto& a = args->items;
    if (name == "collections.OrderedDict") {
      Object* d = make(Object::Kind::Dict);
      if (!a.empty()) fail("OrderedDict with constructor arguments");
      return d;
    }
    if (name == "torch._utils._rebuild_tensor_v2") {
      if (a.size() < 6 || !is_storage(a[0]) || a[1]->kind != Object::Kind::Int)
        fail("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, requires_grad, hooks)");
      Object* t = make(Object::Kind::Tensor);
      t->tensor = a[0]->tensor;
      t->tensor.offset = a[1]->i;
      t->tensor.shape = ints(a[2], "size");
      t->tensor.stride = ints(a[3], "stride");
      check_tensor(t->tensor);
      return t;
    }
    // _rebuild_parameter(tensor, requires_grad, hooks[, state]): an nn.Parameter is its tensor.
    if (a.empty() || a[0]->kind != Object::Kind::Tensor || is_storage(a[0]))
      fail("'" + name + "' needs a tensor argument");
    return const_cast<Object*>(a[0]);  // every object is owned by this machine's arena
  }

  // Every element the view reaches must be inside its storage; sizes must not overflow.
  void check_tensor(const TensorRef& t) {
    if (t.shape.size() != t.stride.size()) fail("tensor size and stride differ in length");
    if (t.offset < 0) fail("tensor has a negative storage offset");
    int64_t numel = 1, last = t.offset;
    const int64_t cap = std::numeric_limits<int64_t>::max() / 2;
    for (size_t d = 0; d < t.shape.size(); ++d) {
      if (t.shape[d] == 0) return;  // empty: touches nothing
      if (t.shape[d] > cap / numel) fail("tensor size overflows");
      numel *= t.shape[d];
      if (t.stride[d] > 0 && t.shape[d] - 1 > (cap - last) / t.stride[d]) fail("tensor stride overflows");
      last += (t.shape[d] - 1) * t.stride[d];
    }
    if (last >= t.storage_numel)
      fail("tensor reaches element " + std::to_string(last) + " of storage '" + t.storage_key + "' which holds " +
           std::to_string(t.storage_numel));
  }

  const uint8_t* start_;
  const uint8_t* p_;
  const uint8_t* end_;
  const std::string& src_;
  Document doc_;
  std::vector<Object*> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, Object*> memo_;
  std::vector<const Object*> is_storage_;
};

}  // namespace

Document parse_pickle(const uint8_t* bytes, size_t size, const std::string& source) {
  return Machine(bytes, size, source).run();
}

Archive parse_archive(const uint8_t* bytes, size_t size, const std::string& source) {
  const auto entries = read_zip_directory(bytes, size, source);
  const ZipEntry* pickle = nullptr;
  Archive archive;
  for (const auto& e : entries) {
    const auto slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      pickle = &e;
      archive.prefix = e.name.substr(0, slash + 1);
    }
  }
  if (!pickle)
    throw file_error(source, "no '<archive>/data.pkl' entry: not a torch.save file (or a legacy pre-1.6 one)");
  for (const auto& e : entries)
    if (e.name.compare(0, archive.prefix.size() + 5, archive.prefix + "data/") == 0)
      archive.storages[e.name.substr(archive.prefix.size() + 5)] = e;
  archive.doc = parse_pickle(bytes + pickle->offset, pickle->size, source);
  for (const auto& o : archive.doc.arena) {
    if (o->kind != Object::Kind::Tensor) continue;
    const TensorRef& t = o->tensor;
    auto it = archive.storages.find(t.storage_key);
    if (it == archive.storages.end())
      throw file_error(source,
                       "storage '" + t.storage_key + "' named in data.pkl has no entry 'data/" + t.storage_key + "'");
    const uint64_t elem = dtype_size(t.dtype);
    if (static_cast<uint64_t>(t.storage_numel) > it->second.size / elem || it->second.size != t.storage_numel * elem)
      throw file_error(source, "storage '" + t.storage_key + "' should hold " + std::to_string(t.storage_numel) + " " +
                                   dtype_name(t.dtype) + " values but its entry has " +
                                   std::to_string(it->second.size) + " bytes");
  }
  return archive;
}

}  // namespace fresnel::torch_pickle
