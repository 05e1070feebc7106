// A small builder for ONNX graphs written with Debian's ONNX library (libonnx-dev): inputs, outputs,
// initializers from libtorch tensors, and nodes with attributes. Generated value names are unique; the model
// is checked with onnx::checker before it is written (atomically).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace fresnel::onnx_export {

// One node attribute: INT, FLOAT, STRING or INTS.
struct Attr {
  std::string name;
  std::variant<int64_t, float, std::string, std::vector<int64_t>> value;
};

// What a model file declares: opset and named inputs/outputs with their dims (−1 for a symbolic dim).
struct OnnxModelInfo {
  int64_t opset = 0;
  std::vector<std::pair<std::string, std::vector<int64_t>>> inputs, outputs;
  std::vector<std::string> op_types;  // distinct, in first-use order
};
// Parses and checks a model file; throws fresnel::Error naming the file.
OnnxModelInfo describe_onnx(const std::string& path);

class OnnxBuilder {
 public:
  OnnxBuilder(int64_t opset, const std::string& graph_name);
  ~OnnxBuilder();
  OnnxBuilder(const OnnxBuilder&) = delete;
  OnnxBuilder& operator=(const OnnxBuilder&) = delete;

  // Float32 graph input/output; a negative dimension is the symbolic batch dimension "batch".
  void add_input(const std::string& name, const std::vector<int64_t>& dims);
  void add_output(const std::string& name, const std::vector<int64_t>& dims);
  // Float32 (or int64 when the tensor is integral) initializer; returns its name.
  std::string constant(const torch::Tensor& value, const std::string& hint = "const");
  std::string scalar(float value);
  std::string shape(const std::vector<int64_t>& dims);  // int64 1-D initializer for Reshape
  // Adds a node with one output and returns the output's name (`output` if given, else a fresh name).
  std::string node(const std::string& op_type, const std::vector<std::string>& inputs,
                   const std::vector<Attr>& attrs = {}, const std::string& output = "");

  int64_t node_count() const;
  // Runs onnx::checker and writes the serialized model; throws fresnel::Error naming the path.
  void save(const std::string& path, const std::string& doc_string = "") const;

 private:
  std::string fresh(const std::string& hint);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int64_t counter_ = 0;
};

}  // namespace fresnel::onnx_export
