#include "core/npy_header.hpp"

#include <cctype>
#include <cstring>
#include <limits>

#include "core/error.hpp"

namespace fresnel::npy {

uint64_t Header::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

namespace {

// A tiny parser for the restricted Python literal numpy writes: a dict of str keys to str, bool or int tuple.
class DictParser {
 public:
  DictParser(const std::string& text, const std::string& source) : s_(text), source_(source) {}

  void parse(Header& h) {
    bool have_descr = false, have_order = false, have_shape = false;
    skip_ws();
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') break;
      const std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        h.descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        h.shape = parse_shape();
        have_shape = true;
      } else {
        throw fail("unexpected key '" + key + "' in header");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_ws();
      if (peek() != '}') throw fail("expected ',' or '}' in header dict");
    }
    if (!have_descr || !have_order || !have_shape)
      throw fail("header dict lacks one of 'descr', 'fortran_order', 'shape'");
  }

 private:
  Error fail(const std::string& what) const { return file_error(source_, "invalid .npy file: " + what); }
  char peek() const {
    if (pos_ >= s_.size()) throw fail("header ends unexpectedly");
    return s_[pos_];
  }
  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) throw fail(std::string("expected '") + c + "' in header");
    ++pos_;
  }
  std::string parse_string() {
    const char q = peek();
    if (q != '\'' && q != '"') throw fail("expected a quoted string in header");
    ++pos_;
    std::string out;
    while (peek() != q) out += s_[pos_++];
    ++pos_;
    return out;
  }
  bool parse_bool() {
    if (s_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (s_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    throw fail("fortran_order is neither True nor False");
  }
  std::vector<int64_t> parse_shape() {
    expect('(');
    std::vector<int64_t> shape;
    while (true) {
      skip_ws();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) throw fail("shape entry is not a non-negative integer");
      int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) throw fail("shape entry too large");
        v = v * 10 + (s_[pos_++] - '0');
      }
      if (peek() == 'L') ++pos_;  // Python 2 long suffix
      shape.push_back(v);
      skip_ws();
      if (peek() == ',')
        ++pos_;
      else if (peek() != ')')
        throw fail("expected ',' or ')' in shape");
    }
    ++pos_;
    return shape;
  }

  const std::string& s_;
  const std::string& source_;
  size_t pos_ = 0;
};

}  // namespace

Header parse_header(const uint8_t* bytes, size_t size, const std::string& source) {
  auto fail = [&](const std::string& what) { return file_error(source, "invalid .npy file: " + what); };
  static const char magic[] = "\x93NUMPY";
  if (size < 10 || std::memcmp(bytes, magic, 6) != 0) throw fail("bad magic (not a NumPy .npy file, or truncated)");
  const int major = bytes[6];
  size_t header_len, prefix;
  if (major == 1) {
    header_len = bytes[8] | (static_cast<size_t>(bytes[9]) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw fail("truncated header");
    header_len = bytes[8] | (static_cast<size_t>(bytes[9]) << 8) | (static_cast<size_t>(bytes[10]) << 16) |
                 (static_cast<size_t>(bytes[11]) << 24);
    prefix = 12;
  } else {
    throw fail("unsupported format version " + std::to_string(major) + "." + std::to_string(bytes[7]));
  }
  if (header_len > size - prefix) throw fail("header runs past the end of the file: truncated?");
  const std::string text(reinterpret_cast<const char*>(bytes) + prefix, header_len);
  Header h;
  DictParser(text, source).parse(h);
  h.data_offset = prefix + header_len;

  const std::string& d = h.descr;
  if (d.size() < 3) throw fail("unsupported dtype '" + d + "'");
  const char order = d[0];
  h.kind = d[1];
  const std::string width = d.substr(2);
  if (width.size() != 1 || !std::isdigit(static_cast<unsigned char>(width[0])))
    throw fail("unsupported dtype '" + d + "'");
  h.item_size = static_cast<size_t>(width[0] - '0');
  const bool known =
      (h.kind == 'f' && (h.item_size == 2 || h.item_size == 4 || h.item_size == 8)) ||
      (h.kind == 'i' && (h.item_size == 1 || h.item_size == 2 || h.item_size == 4 || h.item_size == 8)) ||
      (h.kind == 'u' && h.item_size == 1) || (h.kind == 'b' && h.item_size == 1);
  if (!known) throw fail("unsupported dtype '" + d + "' (supported: float16/32/64, int8/16/32/64, uint8, bool)");
  if (order == '>' && h.item_size > 1) throw fail("big-endian dtype '" + d + "' is not supported");
  if (order != '<' && order != '|' && order != '=' && !(order == '>' && h.item_size == 1))
    throw fail("unsupported dtype '" + d + "'");
  if (h.fortran_order) throw fail("Fortran-order arrays are not supported; save with np.ascontiguousarray(a) first");

  uint64_t numel = 1;
  for (int64_t dim : h.shape) {
    if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim) / 8)
      throw fail("shape is too large");
    numel *= static_cast<uint64_t>(dim);
  }
  const uint64_t expected = numel * h.item_size;
  const uint64_t available = size - h.data_offset;
  if (available < expected)
    throw fail("data is " + std::to_string(available) + " bytes but the shape needs " + std::to_string(expected) +
               ": truncated?");
  if (available > expected)
    throw fail("data is " + std::to_string(available) + " bytes but the shape needs only " + std::to_string(expected));
  return h;
}

std::string make_header(const std::string& descr, const std::vector<int64_t>& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dict += ",";  // Python's one-element tuple
  dict += "), }";
  // Total of magic(6) + version(2) + length(2) + dict + padding + '\n' is a multiple of 64.
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>((dict.size() >> 8) & 0xff);
  return out + dict;
}

}  // namespace fresnel::npy
