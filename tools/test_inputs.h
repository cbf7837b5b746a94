#pragma once
// Reads an ONNX test_data_set folder's input_K.pb files as a Session feed.
#include <string>

#include "runtime/session.h"

namespace vdrt::cli {

// Tensors are bound by their TensorProto name, or by position when the name
// is empty or unknown to the model.
TensorMap load_feed(const Graph& graph, const std::string& folder);

}  // namespace vdrt::cli
