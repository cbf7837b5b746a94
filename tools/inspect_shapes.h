#pragma once
// `vdrt inspect`: concrete shapes where the model (or sample inputs) fix them.
// Shape inference alone leaves every value behind a Shape -> Slice -> Concat
// -> Reshape chain as `?`; folding those chains on a copy of the graph
// (fold-constants over the declared input shapes, or over the shapes of the
// tensors in an ONNX test_data_set folder) makes them concrete.
#include <string>

#include "graph/graph.h"

namespace vdrt::cli {

// With `inputs_dir` (may be empty: declared shapes only), sets the graph
// inputs' shapes to those of the folder's input_K.pb tensors, then refines
// every value's shape from a folded copy of the graph. Returns why shape
// inference failed with those shapes, or "" (bad input files throw).
std::string refine_shapes(Graph& graph, const std::string& inputs_dir);

}  // namespace vdrt::cli
