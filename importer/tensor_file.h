#pragma once
// Single tensors in ONNX TensorProto files (*.pb), the format of ONNX's
// test_data_set_N folders.
#include <string>
#include <vector>

#include "graph/tensor.h"

namespace vdrt {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

NamedTensor load_tensor_pb(const std::string& path);
void save_tensor_pb(const Tensor& tensor, const std::string& name, const std::string& path);

// Reads input_K.pb / output_K.pb of an ONNX test_data_set folder, in K order.
std::vector<NamedTensor> load_test_set(const std::string& dir, const std::string& prefix /* "input" | "output" */);

}  // namespace vdrt
