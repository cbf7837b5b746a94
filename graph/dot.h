#pragma once
// Graphviz DOT rendering of a Graph, for `--dump-dir` and for eyeballing a
// rewrite. Nodes are boxes labelled with op and name; edges carry the value's
// name and (possibly symbolic) shape. Constants feeding a node are folded
// into its label instead of drawn, or the weights would swamp the picture.
#include <ostream>
#include <string>

#include "graph/graph.h"

namespace vdrt {

struct DotOptions {
  bool show_shapes = true;
  bool show_constants = false;  // draw each constant as its own node
  size_t max_label = 48;        // long names are shortened in the middle
};

void write_dot(const Graph& graph, std::ostream& out, const DotOptions& options = {});
std::string to_dot(const Graph& graph, const DotOptions& options = {});
// Writes the DOT text to `path`; throws vdrt::Error if the file cannot be written.
void save_dot(const Graph& graph, const std::string& path, const DotOptions& options = {});

}  // namespace vdrt
