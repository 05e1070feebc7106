#include "export/onnx_builder.hpp"

// Debian's ONNX headers need these; defined here only, so the other TUs keep the shared precompiled header.
#ifndef ONNX_NAMESPACE
#define ONNX_NAMESPACE onnx
#endif
#ifndef ONNX_ML
#define ONNX_ML 1
#endif
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace fresnel::onnx_export {

struct OnnxBuilder::Impl {
  onnx::ModelProto model;
  onnx::GraphProto* graph = nullptr;
};

OnnxBuilder::OnnxBuilder(int64_t opset, const std::string& graph_name) : impl_(std::make_unique<Impl>()) {
  auto& m = impl_->model;
  m.set_ir_version(7);  // IR 7 (ONNX 1.8+): read by every runtime that supports opset 14
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  m.set_producer_name("fresnel");
  impl_->graph = m.mutable_graph();
  impl_->graph->set_name(graph_name);
}

OnnxBuilder::~OnnxBuilder() = default;

std::string OnnxBuilder::fresh(const std::string& hint) { return hint + "_" + std::to_string(counter_++); }

static void set_float_type(onnx::ValueInfoProto* v, const std::vector<int64_t>& dims) {
  auto* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  auto* shape = t->mutable_shape();
  for (const int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d < 0)
      dim->set_dim_param("batch");
    else
      dim->set_dim_value(d);
  }
}

void OnnxBuilder::add_input(const std::string& name, const std::vector<int64_t>& dims) {
  auto* v = impl_->graph->add_input();
  v->set_name(name);
  set_float_type(v, dims);
}

void OnnxBuilder::add_output(const std::string& name, const std::vector<int64_t>& dims) {
  auto* v = impl_->graph->add_output();
  v->set_name(name);
  set_float_type(v, dims);
}

std::string OnnxBuilder::constant(const torch::Tensor& value, const std::string& hint) {
  const std::string name = fresh(hint);
  auto* t = impl_->graph->add_initializer();
  t->set_name(name);
  for (const int64_t d : value.sizes()) t->add_dims(d);
  if (value.is_floating_point()) {
    auto v = value.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data_ptr<float>()), v.numel() * sizeof(float)));
  } else {
    auto v = value.detach().to(torch::kCPU, torch::kInt64).contiguous();
    t->set_data_type(onnx::TensorProto::INT64);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data_ptr<int64_t>()), v.numel() * sizeof(int64_t)));
  }
  return name;
}

std::string OnnxBuilder::scalar(float value) { return constant(torch::tensor(value), "scalar"); }

std::string OnnxBuilder::shape(const std::vector<int64_t>& dims) {
  return constant(torch::tensor(dims, torch::kInt64), "shape");
}

std::string OnnxBuilder::node(const std::string& op_type, const std::vector<std::string>& inputs,
                              const std::vector<Attr>& attrs, const std::string& output) {
  const std::string out = output.empty() ? fresh(op_type) : output;
  auto* n = impl_->graph->add_node();
  n->set_op_type(op_type);
  n->set_name(out + "/" + op_type);
  for (const auto& i : inputs) n->add_input(i);
  n->add_output(out);
  for (const auto& a : attrs) {
    auto* p = n->add_attribute();
    p->set_name(a.name);
    if (const auto* i = std::get_if<int64_t>(&a.value)) {
      p->set_type(onnx::AttributeProto::INT);
      p->set_i(*i);
    } else if (const auto* f = std::get_if<float>(&a.value)) {
      p->set_type(onnx::AttributeProto::FLOAT);
      p->set_f(*f);
    } else if (const auto* s = std::get_if<std::string>(&a.value)) {
      p->set_type(onnx::AttributeProto::STRING);
      p->set_s(*s);
    } else {
      p->set_type(onnx::AttributeProto::INTS);
      for (const int64_t v : std::get<std::vector<int64_t>>(a.value)) p->add_ints(v);
    }
  }
  return out;
}

int64_t OnnxBuilder::node_count() const { return impl_->graph->node_size(); }

void OnnxBuilder::save(const std::string& path, const std::string& doc_string) const {
  onnx::ModelProto model = impl_->model;
  if (!doc_string.empty()) model.set_doc_string(doc_string);
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("generated ONNX model is invalid: ") + e.what());
  }
  atomic_write(path, [&](std::ostream& os) {
    if (!model.SerializeToOstream(&os)) throw file_error(path, "cannot serialize the ONNX model");
  });
}

OnnxModelInfo describe_onnx(const std::string& path) {
  onnx::ModelProto model;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw file_error(path, "cannot open ONNX file");
    if (!model.ParseFromIstream(&in)) throw file_error(path, "not a valid ONNX model (protobuf parse failed)");
  }
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("ONNX checker: ") + e.what());
  }
  OnnxModelInfo info;
  for (const auto& op : model.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") info.opset = op.version();
  auto dims_of = [](const onnx::ValueInfoProto& v) {
    std::vector<int64_t> dims;
    for (const auto& d : v.type().tensor_type().shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
    return dims;
  };
  for (const auto& v : model.graph().input()) info.inputs.emplace_back(v.name(), dims_of(v));
  for (const auto& v : model.graph().output()) info.outputs.emplace_back(v.name(), dims_of(v));
  for (const auto& n : model.graph().node())
    if (std::find(info.op_types.begin(), info.op_types.end(), n.op_type()) == info.op_types.end())
      info.op_types.push_back(n.op_type());
  return info;
}

}  // namespace fresnel::onnx_export
