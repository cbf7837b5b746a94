#pragma once
// Small graph-editing helpers shared by the passes: creating nodes with
// fresh output values (shapes inferred right away, so later matches in the
// same pass can read them), constants, dead-node removal.
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace vdrt {

// Adds `op_type` with fresh outputs named after `base`, infers their dtype
// and shape when the op registry allows it, and returns the node.
Node* add_node_fresh(Graph& graph, const std::string& op_type, const std::vector<Value*>& inputs,
                     size_t num_outputs, const std::string& base, const std::string& domain = kOnnxDomain);
// Re-infers the outputs of one node from its inputs' current infos; false if it could not.
bool infer_node_outputs(Graph& graph, Node& node);

Value* add_constant_fresh(Graph& graph, const std::string& base, Tensor t);
Value* add_int64s(Graph& graph, const std::string& base, const std::vector<int64_t>& values);

// Declares `domain` at `version` in the graph's opset imports if absent.
void ensure_opset(Graph& graph, const std::string& domain, int64_t version);

// Removes nodes none of whose outputs is consumed or a graph output,
// repeatedly; returns how many were removed.
size_t remove_dead_nodes(Graph& graph);

// Redirects every node input reading `from` to `to`. Refuses (returns false,
// changes nothing) when `from` is a graph output, whose name is part of the
// model's interface; rewrites then make the new node produce `from` itself
// (see replace_producer).
bool replace_value(Graph& graph, Value* from, Value* to);

// Removes `old` and adds a node that produces the same output Values, so
// names, graph outputs and consumers stay as they were. The old node's
// inputs are left to remove_dead_nodes.
Node* replace_producer(Graph& graph, Node* old, const std::string& op_type, const std::vector<Value*>& inputs,
                       const std::string& domain = kOnnxDomain);

// The only consumer of `v`, or nullptr when it has none, several, or is a graph output.
Node* sole_consumer(const Graph& graph, const Value* v);
// Number of distinct consuming nodes.
size_t consumer_count(const Value* v);

// Value of a constant holding exactly one number (any numeric dtype).
std::optional<double> scalar_constant(const Value* v);
// Values of a constant integer tensor (any rank), e.g. Reshape targets.
std::optional<std::vector<int64_t>> int_constant(const Value* v);

// "'name' (Op)" for messages.
std::string node_label(const Node& n);

// One sweep of a fusion pass. Offers each live node (an output consumed or
// a graph output) that no earlier rewrite of the sweep replaced to
// `try_rewrite`, which rewrites and returns the nodes it replaced, or
// nothing when the node is not the root of a match. `outermost_first`
// visits the nodes in reverse order, so a root that contains another
// candidate (a norm with its weight and bias) wins over it. Dead nodes are
// removed at the end; returns whether anything was rewritten.
using TryRewrite = std::function<std::optional<std::vector<Node*>>(Node& root, const std::set<Node*>& gone)>;
bool rewrite_sweep(Graph& graph, bool outermost_first, const TryRewrite& try_rewrite);

}  // namespace vdrt
