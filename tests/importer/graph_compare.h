#pragma once
// Structural equality of two graphs, reported as test failures that say
// which part differs. Used by the round-trip tests.
#include "graph/graph.h"

namespace vdrt::test {

struct CompareOptions {
  bool ir_version = true;  // export raises it to at least 8
  bool graph_name = true;  // export names an unnamed graph
};

// Adds a GoogleTest failure for every difference between `a` and `b`.
void expect_same_graph(const Graph& a, const Graph& b, const CompareOptions& options = {});

// Same dtype, dims and bytes.
bool same_tensor(const Tensor& a, const Tensor& b);

}  // namespace vdrt::test
