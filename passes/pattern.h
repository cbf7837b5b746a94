#pragma once
// A small declarative matcher over the IR. A Pattern describes a value by
// the op that produces it and, recursively, that op's inputs (producer
// edges); captures name values and nodes for the rewrite:
//
//   auto p = Pattern::op("Mul", {Pattern::any("x"),
//                                Pattern::op("Sigmoid", {Pattern::any("x")})}).commutative();
//   if (auto m = match(p, graph, value, &why)) use(m->value("x"));
//
// A capture name used twice must bind the same value (x above). Interior
// nodes (all matched nodes but the root) must have no consumers outside the
// match and must not be graph outputs, so that removing the match removes
// no one else's work; Pattern::shared() relaxes that for one node.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace vdrt {

class Pattern {
 public:
  // Any value (including absent optional inputs when `optional_ok`).
  static Pattern any(std::string capture = "");
  // A constant value (initializer or folded).
  static Pattern constant(std::string capture = "");
  // A constant holding one number within `tolerance` (relative) of `value`.
  static Pattern scalar(double value, double tolerance = 1e-3, std::string capture = "");
  // A value produced by `op_type` in `domain`. With no inputs given the
  // node's inputs are not examined; otherwise their count must match.
  static Pattern op(std::string op_type, std::vector<Pattern> inputs = {}, std::string domain = "");

  Pattern& as(std::string capture);  // names the producing node and its output
  Pattern& commutative();            // a two-input op: also try the inputs swapped
  Pattern& shared();                 // this interior node may have outside consumers
  Pattern& where(std::function<bool(const Node&)> check, std::string what);

 private:
  friend class Matcher;
  enum class Kind { Any, Constant, Scalar, Op } kind_ = Kind::Any;
  std::string capture_;
  double scalar_ = 0, tolerance_ = 0;
  std::string op_type_, domain_;
  std::vector<Pattern> inputs_;
  bool commutative_ = false, shared_ = false;
  std::vector<std::pair<std::function<bool(const Node&)>, std::string>> checks_;
};

struct Match {
  Value* root = nullptr;
  Node* root_node = nullptr;
  std::map<std::string, Value*> values;
  std::map<std::string, Node*> nodes;
  std::vector<Node*> matched;  // every matched op node, root first

  Value* value(const std::string& name) const;  // nullptr if not captured
  Node* node(const std::string& name) const;
};

// Matches `pattern` against `value`. On failure returns nullopt and, when
// `why` is given, a short reason ("expected Softmax, got Sigmoid") for --explain.
std::optional<Match> match(const Pattern& pattern, const Graph& graph, Value* value, std::string* why = nullptr);

// True when every consumer of every output of the nodes in `nodes`, other
// than `root`, lies inside `nodes` and none of those outputs is a graph
// output. Otherwise sets `why` to the first offending value.
bool interior_is_private(const Graph& graph, const std::vector<Node*>& nodes, const Node* root,
                         std::string* why = nullptr);

}  // namespace vdrt
