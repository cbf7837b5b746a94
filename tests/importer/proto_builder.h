#pragma once
// Builds small ONNX ModelProtos directly, so that tests can make models that
// no well-behaved exporter would write (undefined inputs, subgraph
// attributes, unsupported dtypes, external data pointing anywhere).
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace vdrt::test {

// Dims given as strings: "4" is a value, "batch" a dim_param, "" unknown.
void set_tensor_type(onnx::ValueInfoProto* info, const std::string& name, int32_t elem_type,
                     const std::vector<std::string>& dims);

// y = Relu(x) with x, y float ["N", "4"], opset 18, IR 8.
onnx::ModelProto relu_model();

// y = Add(x, w) where initializer w is float [4] holding 1, 2, 3, 4.
onnx::ModelProto add_initializer_model();

onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const std::string& name = "");

std::string to_bytes(const onnx::ModelProto& m);

}  // namespace vdrt::test
