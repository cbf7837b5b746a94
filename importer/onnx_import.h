#pragma once
// ONNX ModelProto -> Graph. Any IR version loads; ai.onnx opsets 13..23 are
// supported and older/newer ones load with a warning (the conformance tests
// use old opsets). What the Graph holds:
//  - initializers are constant Values (Value::constant()); a graph input that
//    names an initializer is that constant, not a graph input;
//  - graph inputs/outputs and value_info give dtypes and shapes: dim_param
//    becomes Dim::symbol, a missing dim Dim(), a missing shape Shape();
//  - Constant nodes stay nodes (the fold-constants pass folds them); unnamed
//    nodes are named "<op_type>_<index in the file>";
//  - domain "ai.onnx" is stored as "" (nodes and opsets alike); unknown ops
//    and domains import fine and are reported later by whoever runs them;
//  - nodes are sorted topologically and the graph validated; shape inference
//    is left to the caller.
// External data is read only from files inside the model's folder. Every
// problem is a vdrt::Error naming the file (and node/op where one is
// involved); no input makes the importer crash.
#include <memory>
#include <string>

#include "graph/graph.h"

namespace vdrt {

struct ImportOptions {
  // false: external data is located and size-checked but not read; those
  // constants hold zeros (for `vdrt inspect` of big models).
  bool load_external_data = true;
};

std::unique_ptr<Graph> load_onnx(const std::string& path, const ImportOptions& options = {});
// `base_dir` is the folder external data must lie in (empty: the current
// directory); `label` names the source in errors.
std::unique_ptr<Graph> load_onnx_bytes(const std::string& bytes, const std::string& base_dir,
                                       const std::string& label, const ImportOptions& options = {});

}  // namespace vdrt
