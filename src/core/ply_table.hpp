// A minimal, strict PLY reader/writer for one element of scalar properties (the "vertex" table of Gaussian
// splat files). Torch-free so it can be fuzzed on its own. Reads "binary_little_endian 1.0" and "ascii 1.0";
// writes binary little endian. Big-endian and unknown formats are rejected with a clear error.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace fresnel {

enum class PlyType { Int8, UInt8, Int16, UInt16, Int32, UInt32, Float32, Float64 };
enum class PlyEncoding { Ascii, BinaryLittleEndian };

struct PlyProperty {
  std::string name;
  PlyType type = PlyType::Float32;
  bool is_list = false;
  PlyType count_type = PlyType::UInt8;  // list length type, only when is_list
};

struct PlyElement {
  std::string name;
  int64_t count = 0;
  std::vector<PlyProperty> properties;
  // Index of a property by name, or -1.
  int find(const std::string& property_name) const;
};

struct PlyHeader {
  PlyEncoding encoding = PlyEncoding::BinaryLittleEndian;
  std::vector<PlyElement> elements;
  std::vector<std::string> comments;
  // Index of an element by name, or -1.
  int find(const std::string& element_name) const;
};

size_t ply_type_size(PlyType t);

// Parses the header up to and including "end_header"; `where` (usually the path) starts every error message.
PlyHeader read_ply_header(std::istream& in, const std::string& where);

// Reads the body after the header and returns the scalar properties of element `element_name` named in
// `wanted`, as float columns (columns[i] belongs to wanted[i]; a name absent from the element gives an
// empty column). Other elements and properties (including lists) are parsed and skipped. Errors: truncated
// body, malformed ASCII values, extra data after the last element (usually a wrong vertex count).
std::vector<std::vector<float>> read_ply_columns(std::istream& in, const PlyHeader& header,
                                                 const std::string& element_name,
                                                 const std::vector<std::string>& wanted, const std::string& where);

// A column to write: value of row r is data[r * stride] (columns may be interleaved in a larger array).
struct PlyColumnRef {
  std::string name;
  const float* data;
  int64_t stride = 1;
};

// Writes a complete binary little-endian PLY with one element of `count` rows of float properties, in the
// order of `columns`.
void write_ply_float_table(std::ostream& out, const std::string& element_name, int64_t count,
                           const std::vector<PlyColumnRef>& columns, const std::vector<std::string>& comments = {});

}  // namespace fresnel
