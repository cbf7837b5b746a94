#pragma once
// Graph -> ONNX ModelProto. vdrt-domain ops are written in the "vdrt" domain
// with an opset import for it. Large constants can go to one external-data
// file beside the model.
#include <string>

#include "graph/graph.h"

namespace vdrt {

struct ExportOptions {
  // Constants of at least this many bytes go to `<model>.data`; 0 keeps all inline.
  size_t external_data_threshold = 0;
};

void save_onnx(const Graph& graph, const std::string& path, const ExportOptions& options = {});
std::string serialize_onnx(const Graph& graph);  // inline data only

}  // namespace vdrt
