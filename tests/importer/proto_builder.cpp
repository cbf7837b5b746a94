#include "proto_builder.h"


namespace vdrt::test {

void set_tensor_type(onnx::ValueInfoProto* info, const std::string& name, int32_t elem_type,
                     const std::vector<std::string>& dims) {
  info->set_name(name);
  auto* tt = info->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (const auto& d : dims) {
    auto* dim = shape->add_dim();
    if (d.empty()) continue;
    if (d.find_first_not_of("0123456789") == std::string::npos)
      dim->set_dim_value(std::stoll(d));
    else
      dim->set_dim_param(d);
  }
}

onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const std::string& name) {
  auto* n = g->add_node();
  n->set_op_type(op);
  if (!name.empty()) n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

onnx::ModelProto relu_model() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("proto_builder");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(18);
  auto* g = m.mutable_graph();
  g->set_name("relu");
  set_tensor_type(g->add_input(), "x", onnx::TensorProto::FLOAT, {"N", "4"});
  set_tensor_type(g->add_output(), "y", onnx::TensorProto::FLOAT, {"N", "4"});
  add_node(g, "Relu", {"x"}, {"y"}, "relu");
  return m;
}

onnx::ModelProto add_initializer_model() {
  onnx::ModelProto m = relu_model();
  auto* g = m.mutable_graph();
  g->clear_node();
  add_node(g, "Add", {"x", "w"}, {"y"}, "add");
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(4);
  for (float v : {1.f, 2.f, 3.f, 4.f}) w->add_float_data(v);
  return m;
}

std::string to_bytes(const onnx::ModelProto& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

}  // namespace vdrt::test
