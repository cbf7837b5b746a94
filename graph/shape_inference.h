#pragma once
#include "graph/graph.h"

namespace vdrt {

// Infers dtype and (possibly symbolic) shape of every value from the graph
// inputs' declared shapes and the constants, in topological order. Throws
// vdrt::Error naming the node whose shapes do not fit.
void infer_shapes(Graph& graph);

}  // namespace vdrt
