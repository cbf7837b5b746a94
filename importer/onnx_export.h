#pragma once
// Graph -> ONNX ModelProto, lossless for graphs the importer made: IR version
// max(graph.ir_version, 8), raised to what the ai.onnx opset and float8 types
// need (opset 23: IR 11; float8: IR 9); the graph's opsets plus an import for every other
// domain a node uses ("vdrt" version 1 for vdrt's own ops, ai.onnx 23 if a
// hand-built graph imports none); metadata; inputs/outputs with dtype and
// symbolic shapes; value_info for intermediates of known dtype; initializers
// for constants that a node reads or that are outputs (unused ones are
// dropped); all attributes. Large constants can go to one external-data file
// "<model file name>.data" beside the model, 64-byte aligned, referenced by
// a relative location.
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
