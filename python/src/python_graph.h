#pragma once
// Read-only views of a Graph for Python, kept alive by a shared owner (the
// Graph itself, or the Session that holds it).
#include <map>
#include <memory>
#include <vector>

#include "common.h"

namespace vdrt::python {

struct GraphView {
  std::shared_ptr<const Graph> graph;
  std::vector<NodeArg> inputs() const;
  std::vector<NodeArg> outputs() const;
};

struct NodeView {
  std::shared_ptr<const Graph> graph;  // keeps `node` alive
  const Node* node;
};

}  // namespace vdrt::python
