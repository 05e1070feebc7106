#include "core/ply_table.hpp"

#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <istream>
#include <limits>
#include <ostream>
#include <sstream>

#include "core/error.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "Fresnel's binary formats assume a little-endian host"
#endif

namespace fresnel {

int PlyElement::find(const std::string& n) const {
  for (size_t i = 0; i < properties.size(); ++i)
    if (properties[i].name == n) return int(i);
  return -1;
}

int PlyHeader::find(const std::string& n) const {
  for (size_t i = 0; i < elements.size(); ++i)
    if (elements[i].name == n) return int(i);
  return -1;
}

size_t ply_type_size(PlyType t) {
  switch (t) {
    case PlyType::Int8:
    case PlyType::UInt8:
      return 1;
    case PlyType::Int16:
    case PlyType::UInt16:
      return 2;
    case PlyType::Int32:
    case PlyType::UInt32:
    case PlyType::Float32:
      return 4;
    case PlyType::Float64:
      return 8;
  }
  return 0;
}

namespace {

bool parse_type(const std::string& s, PlyType& t) {
  static const struct {
    const char* name;
    PlyType type;
  } table[] = {{"char", PlyType::Int8},      {"int8", PlyType::Int8},       {"uchar", PlyType::UInt8},
               {"uint8", PlyType::UInt8},    {"short", PlyType::Int16},     {"int16", PlyType::Int16},
               {"ushort", PlyType::UInt16},  {"uint16", PlyType::UInt16},   {"int", PlyType::Int32},
               {"int32", PlyType::Int32},    {"uint", PlyType::UInt32},     {"uint32", PlyType::UInt32},
               {"float", PlyType::Float32},  {"float32", PlyType::Float32}, {"double", PlyType::Float64},
               {"float64", PlyType::Float64}};
  for (const auto& e : table)
    if (s == e.name) {
      t = e.type;
      return true;
    }
  return false;
}

std::vector<std::string> split_ws(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream ss(line);
  std::string tok;
  while (ss >> tok) out.push_back(tok);
  return out;
}

bool parse_int64(const std::string& s, int64_t& v) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  v = x;
  return true;
}

// double → float without undefined behaviour for values beyond float's range.
float to_float(double d) {
  if (std::isnan(d)) return std::numeric_limits<float>::quiet_NaN();
  if (d > double(FLT_MAX)) return std::numeric_limits<float>::infinity();
  if (d < -double(FLT_MAX)) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(d);
}

double decode_scalar(const unsigned char* p, PlyType t) {
  switch (t) {
    case PlyType::Int8: {
      int8_t v;
      std::memcpy(&v, p, 1);
      return v;
    }
    case PlyType::UInt8:
      return *p;
    case PlyType::Int16: {
      int16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case PlyType::UInt16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case PlyType::Int32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case PlyType::UInt32: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case PlyType::Float32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case PlyType::Float64: {
      double v;
      std::memcpy(&v, p, 8);
      return v;
    }
  }
  return 0;
}

bool is_integer_type(PlyType t) { return t != PlyType::Float32 && t != PlyType::Float64; }

// Buffered reader over an istream (the body can be gigabytes; it is never held whole).
class ByteSource {
 public:
  explicit ByteSource(std::istream& in) : in_(in), buf_(1 << 16) {}

  bool read(void* dst, size_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    while (n > 0) {
      if (pos_ == len_ && !fill()) return false;
      const size_t k = std::min(n, len_ - pos_);
      std::memcpy(out, buf_.data() + pos_, k);
      pos_ += k;
      out += k;
      n -= k;
    }
    return true;
  }
  bool skip(uint64_t n) {
    while (n > 0) {
      if (pos_ == len_ && !fill()) return false;
      const size_t k = size_t(std::min<uint64_t>(n, len_ - pos_));
      pos_ += k;
      n -= k;
    }
    return true;
  }
  // Next byte without consuming it, or -1 at end of input.
  int peek() {
    if (pos_ == len_ && !fill()) return -1;
    return buf_[pos_];
  }
  void advance() { ++pos_; }
  bool at_end() { return peek() < 0; }
  uint64_t consumed() const { return consumed_before_ + pos_; }

 private:
  bool fill() {
    consumed_before_ += len_;
    pos_ = len_ = 0;
    in_.read(reinterpret_cast<char*>(buf_.data()), std::streamsize(buf_.size()));
    len_ = size_t(in_.gcount());
    return len_ > 0;
  }
  std::istream& in_;
  std::vector<unsigned char> buf_;
  size_t pos_ = 0, len_ = 0;
  uint64_t consumed_before_ = 0;
};

bool is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Next whitespace-separated token of an ASCII body; false at end of input.
bool next_token(ByteSource& src, std::string& tok, const std::string& where) {
  tok.clear();
  int c;
  while ((c = src.peek()) >= 0 && is_space(c)) src.advance();
  if (c < 0) return false;
  while ((c = src.peek()) >= 0 && !is_space(c)) {
    if (tok.size() >= 64) throw file_error(where, "ASCII value longer than 64 characters");
    tok.push_back(char(c));
    src.advance();
  }
  return true;
}

// Bytes left in a seekable stream, or -1 when it cannot be known.
int64_t remaining_bytes(std::istream& in) {
  const auto here = in.tellg();
  if (here < 0) return -1;
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  in.seekg(here);
  if (end < 0 || !in) {
    in.clear();
    in.seekg(here);
    return -1;
  }
  return int64_t(end - here);
}

}  // namespace

PlyHeader read_ply_header(std::istream& in, const std::string& where) {
  constexpr size_t kMaxHeaderBytes = 1 << 20;
  PlyHeader h;
  size_t header_bytes = 0;
  bool saw_format = false, saw_end = false, first = true;
  std::string line;
  // A bounded getline: a binary file without newlines must not be read whole into one "line".
  auto next_line = [&]() -> bool {
    line.clear();
    int c;
    while ((c = in.get()) != EOF) {
      if (++header_bytes > kMaxHeaderBytes) throw file_error(where, "PLY header longer than 1 MiB (no end_header?)");
      if (c == '\n') return true;
      line.push_back(char(c));
      if (first && line.size() > 4) throw file_error(where, "not a PLY file (first line is not 'ply')");
    }
    return !line.empty();
  };
  while (next_line()) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first) {
      if (line != "ply") throw file_error(where, "not a PLY file (first line is not 'ply')");
      first = false;
      continue;
    }
    const auto tok = split_ws(line);
    if (tok.empty()) continue;
    const std::string& key = tok[0];
    if (key == "comment" || key == "obj_info") {
      h.comments.push_back(line.size() > key.size() + 1 ? line.substr(key.size() + 1) : "");
    } else if (key == "format") {
      if (saw_format) throw file_error(where, "PLY header has two 'format' lines");
      if (tok.size() != 3) throw file_error(where, "malformed PLY format line '" + line + "'");
      if (tok[1] == "binary_big_endian")
        throw file_error(where, "big-endian PLY is not supported (convert it to binary_little_endian or ascii)");
      if (tok[1] == "ascii")
        h.encoding = PlyEncoding::Ascii;
      else if (tok[1] == "binary_little_endian")
        h.encoding = PlyEncoding::BinaryLittleEndian;
      else
        throw file_error(where, "unknown PLY format '" + tok[1] + "' (expected ascii or binary_little_endian)");
      if (tok[2] != "1.0") throw file_error(where, "unsupported PLY version '" + tok[2] + "' (expected 1.0)");
      saw_format = true;
    } else if (key == "element") {
      int64_t n = 0;
      if (tok.size() != 3 || !parse_int64(tok[2], n) || n < 0)
        throw file_error(where, "malformed PLY element line '" + line + "'");
      if (h.find(tok[1]) >= 0) throw file_error(where, "PLY element '" + tok[1] + "' declared twice");
      h.elements.push_back({tok[1], n, {}});
    } else if (key == "property") {
      if (h.elements.empty()) throw file_error(where, "PLY property before any element: '" + line + "'");
      PlyProperty p;
      if (tok.size() == 5 && tok[1] == "list") {
        p.is_list = true;
        if (!parse_type(tok[2], p.count_type) || !parse_type(tok[3], p.type) || !is_integer_type(p.count_type))
          throw file_error(where, "malformed PLY list property '" + line + "'");
        p.name = tok[4];
      } else if (tok.size() == 3) {
        if (!parse_type(tok[1], p.type)) throw file_error(where, "unknown PLY property type '" + tok[1] + "'");
        p.name = tok[2];
      } else {
        throw file_error(where, "malformed PLY property line '" + line + "'");
      }
      auto& el = h.elements.back();
      if (el.find(p.name) >= 0)
        throw file_error(where, "PLY property '" + p.name + "' declared twice in element '" + el.name + "'");
      el.properties.push_back(p);
    } else if (key == "end_header") {
      saw_end = true;
      break;
    } else {
      throw file_error(where, "unknown PLY header line '" + line.substr(0, 80) + "'");
    }
  }
  if (first) throw file_error(where, "empty file (not a PLY file)");
  if (!saw_end) throw file_error(where, "PLY header ends without 'end_header' (truncated file?)");
  if (!saw_format) throw file_error(where, "PLY header has no 'format' line");
  return h;
}

std::vector<std::vector<float>> read_ply_columns(std::istream& in, const PlyHeader& header,
                                                 const std::string& element_name,
                                                 const std::vector<std::string>& wanted, const std::string& where) {
  std::vector<std::vector<float>> columns(wanted.size());
  const int target = header.find(element_name);
  const bool binary = header.encoding == PlyEncoding::BinaryLittleEndian;
  const int64_t remaining = binary ? remaining_bytes(in) : -1;

  // Fixed-size binary elements can be checked against the file size before anything is allocated.
  if (remaining >= 0) {
    int64_t need = 0;
    bool fixed = true;
    for (const auto& el : header.elements) {
      int64_t row = 0;
      for (const auto& p : el.properties) {
        if (p.is_list) fixed = false;
        row += int64_t(ply_type_size(p.type));
      }
      if (!fixed) break;
      if (row > 0 && el.count > (remaining - need) / row)
        throw file_error(where, "truncated PLY body: element '" + el.name + "' declares " + std::to_string(el.count) +
                                    " rows of " + std::to_string(row) + " bytes but only " +
                                    std::to_string(remaining - need) + " bytes remain");
      need += row * el.count;
    }
  }

  ByteSource src(in);
  std::string tok;
  std::vector<unsigned char> row;
  for (int e = 0; e < int(header.elements.size()); ++e) {
    const PlyElement& el = header.elements[e];
    if (el.properties.empty()) continue;
    // slot[i]: index into `wanted` for property i of the target element, or -1.
    std::vector<int> slot(el.properties.size(), -1);
    bool has_list = false;
    size_t row_size = 0;
    std::vector<size_t> offset(el.properties.size(), 0);
    for (size_t i = 0; i < el.properties.size(); ++i) {
      has_list |= el.properties[i].is_list;
      offset[i] = row_size;
      row_size += ply_type_size(el.properties[i].type);
      if (e != target || el.properties[i].is_list) continue;
      for (size_t w = 0; w < wanted.size(); ++w)
        if (wanted[w] == el.properties[i].name) slot[i] = int(w);
    }
    if (e == target) {
      int64_t reserve = el.count;
      if (remaining >= 0 && row_size > 0) reserve = std::min<int64_t>(reserve, remaining / int64_t(row_size));
      // Without a known file size a lying header must not trigger a huge allocation.
      reserve = std::min<int64_t>(reserve, remaining >= 0 ? int64_t(1) << 26 : int64_t(1) << 16);
      for (size_t i = 0; i < slot.size(); ++i)
        if (slot[i] >= 0) columns[slot[i]].reserve(size_t(reserve));
    }
    auto truncated = [&](int64_t r) {
      return file_error(where, std::string("truncated PLY body: element '") + el.name + "' ends after " +
                                   std::to_string(r) + " of " + std::to_string(el.count) + " rows");
    };

    for (int64_t r = 0; r < el.count; ++r) {
      if (binary && !has_list) {
        row.resize(row_size);
        if (!src.read(row.data(), row_size)) throw truncated(r);
        for (size_t i = 0; i < slot.size(); ++i)
          if (slot[i] >= 0)
            columns[slot[i]].push_back(to_float(decode_scalar(row.data() + offset[i], el.properties[i].type)));
        continue;
      }
      for (size_t i = 0; i < el.properties.size(); ++i) {
        const PlyProperty& p = el.properties[i];
        if (binary) {
          unsigned char buf[8];
          if (p.is_list) {
            if (!src.read(buf, ply_type_size(p.count_type))) throw truncated(r);
            const double n = decode_scalar(buf, p.count_type);
            if (n < 0) throw file_error(where, "negative list length in PLY element '" + el.name + "'");
            if (!src.skip(uint64_t(n) * ply_type_size(p.type))) throw truncated(r);
          } else {
            if (!src.read(buf, ply_type_size(p.type))) throw truncated(r);
            if (slot[i] >= 0) columns[slot[i]].push_back(to_float(decode_scalar(buf, p.type)));
          }
          continue;
        }
        // ASCII: one token per scalar; lists are a length followed by that many values.
        auto parse_value = [&](PlyType t, const char* what) -> double {
          if (!next_token(src, tok, where)) throw truncated(r);
          char* end = nullptr;
          errno = 0;
          double v;
          if (is_integer_type(t)) {
            const long long x = std::strtoll(tok.c_str(), &end, 10);
            v = double(x);
          } else {
            v = std::strtod(tok.c_str(), &end);
          }
          if (end != tok.c_str() + tok.size() || (is_integer_type(t) && errno == ERANGE))
            throw file_error(where, "malformed ASCII " + std::string(what) + " '" + tok + "' for property '" + p.name +
                                        "' in row " + std::to_string(r) + " of element '" + el.name + "'");
          return v;
        };
        if (p.is_list) {
          const double n = parse_value(p.count_type, "list length");
          if (n < 0) throw file_error(where, "negative list length in PLY element '" + el.name + "'");
          for (int64_t k = 0; k < int64_t(n); ++k) parse_value(p.type, "list value");
        } else {
          const double v = parse_value(p.type, "value");
          if (slot[i] >= 0) columns[slot[i]].push_back(to_float(v));
        }
      }
    }
  }
  if (binary) {
    if (!src.at_end()) {
      const int64_t extra = remaining >= 0 ? remaining - int64_t(src.consumed()) : -1;
      throw file_error(where, "unexpected data after the last PLY element" +
                                  (extra > 0 ? " (" + std::to_string(extra) + " bytes)" : std::string()) +
                                  "; is the element count in the header right?");
    }
  } else if (next_token(src, tok, where)) {
    throw file_error(
        where, "unexpected value '" + tok + "' after the last PLY element; is the element count in the header right?");
  }
  return columns;
}

void write_ply_float_table(std::ostream& out, const std::string& element_name, int64_t count,
                           const std::vector<PlyColumnRef>& columns, const std::vector<std::string>& comments) {
  std::string header = "ply\nformat binary_little_endian 1.0\n";
  for (const auto& c : comments) header += "comment " + c + "\n";
  header += "element " + element_name + " " + std::to_string(count) + "\n";
  for (const auto& c : columns) header += "property float " + c.name + "\n";
  header += "end_header\n";
  out.write(header.data(), std::streamsize(header.size()));
  // Rows are assembled in blocks so that writing is one large call per block.
  const size_t props = columns.size();
  constexpr int64_t kBlockRows = 4096;
  std::vector<float> block(size_t(kBlockRows) * props);
  for (int64_t r0 = 0; r0 < count; r0 += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, count - r0);
    for (int64_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < props; ++c) block[size_t(r) * props + c] = columns[c].data[(r0 + r) * columns[c].stride];
    out.write(reinterpret_cast<const char*>(block.data()), std::streamsize(size_t(rows) * props * sizeof(float)));
  }
}

}  // namespace fresnel
