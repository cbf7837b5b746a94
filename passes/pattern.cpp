#include "passes/pattern.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "passes/rewrite.h"

namespace vdrt {

Pattern Pattern::any(std::string capture) {
  Pattern p;
  p.kind_ = Kind::Any;
  p.capture_ = std::move(capture);
  return p;
}

Pattern Pattern::constant(std::string capture) {
  Pattern p;
  p.kind_ = Kind::Constant;
  p.capture_ = std::move(capture);
  return p;
}

Pattern Pattern::scalar(double value, double tolerance, std::string capture) {
  Pattern p;
  p.kind_ = Kind::Scalar;
  p.scalar_ = value;
  p.tolerance_ = tolerance;
  p.capture_ = std::move(capture);
  return p;
}

Pattern Pattern::op(std::string op_type, std::vector<Pattern> inputs, std::string domain) {
  Pattern p;
  p.kind_ = Kind::Op;
  p.op_type_ = std::move(op_type);
  p.inputs_ = std::move(inputs);
  p.domain_ = std::move(domain);
  return p;
}

Pattern& Pattern::as(std::string capture) { capture_ = std::move(capture); return *this; }
Pattern& Pattern::commutative() { commutative_ = true; return *this; }
Pattern& Pattern::shared() { shared_ = true; return *this; }
Pattern& Pattern::where(std::function<bool(const Node&)> check, std::string what) {
  checks_.emplace_back(std::move(check), std::move(what));
  return *this;
}

Value* Match::value(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? nullptr : it->second;
}

Node* Match::node(const std::string& name) const {
  auto it = nodes.find(name);
  return it == nodes.end() ? nullptr : it->second;
}

// Backtracking matcher: state is copied at each commutative choice point.
class Matcher {
 public:
  struct State {
    Match m;
    std::set<const Node*> shared;
  };

  static bool run(const Pattern& p, Value* v, State& s, std::string& why) {
    if (!p.capture_.empty() && p.kind_ != Pattern::Kind::Op) {
      auto it = s.m.values.find(p.capture_);
      if (it != s.m.values.end() && it->second != v) {
        why = "'" + p.capture_ + "' would bind two different values (" + name(it->second) + ", " + name(v) + ")";
        return false;
      }
    }
    switch (p.kind_) {
      case Pattern::Kind::Any:
        if (!v) { why = "a required input is absent"; return false; }
        break;
      case Pattern::Kind::Constant:
        if (!v || !v->is_constant()) { why = "'" + name(v) + "' is not a constant"; return false; }
        break;
      case Pattern::Kind::Scalar: {
        auto x = scalar_constant(v);
        if (!x) { why = "'" + name(v) + "' is not a scalar constant"; return false; }
        if (std::fabs(*x - p.scalar_) > p.tolerance_ * std::max(1.0, std::fabs(p.scalar_))) {
          why = "constant '" + name(v) + "' is " + std::to_string(*x) + ", expected " + std::to_string(p.scalar_);
          return false;
        }
        break;
      }
      case Pattern::Kind::Op:
        if (!match_op(p, v, s, why)) return false;
        break;
    }
    if (!p.capture_.empty()) s.m.values[p.capture_] = v;
    return true;
  }

 private:
  static std::string name(const Value* v) { return v ? v->name() : "<absent>"; }

  static bool match_op(const Pattern& p, Value* v, State& s, std::string& why) {
    Node* n = v ? v->producer() : nullptr;
    const std::string want = p.domain_.empty() ? p.op_type_ : p.domain_ + "." + p.op_type_;
    if (!n) {
      why = "expected " + want + " producing '" + name(v) + "', but it is " +
            (v && v->is_constant() ? "a constant" : "a graph input");
      return false;
    }
    std::string dom = n->domain() == "ai.onnx" ? "" : n->domain();
    if (n->op_type() != p.op_type_ || dom != p.domain_) {
      why = "expected " + want + ", got " + node_label(*n);
      return false;
    }
    if (!p.capture_.empty()) {
      auto it = s.m.nodes.find(p.capture_);
      if (it != s.m.nodes.end() && it->second != n) {
        why = "'" + p.capture_ + "' would bind two different nodes";
        return false;
      }
    }
    for (const auto& [check, what] : p.checks_)
      if (!check(*n)) {
        why = node_label(*n) + ": " + what;
        return false;
      }
    if (!p.inputs_.empty()) {
      if (n->inputs().size() != p.inputs_.size()) {
        why = node_label(*n) + " has " + std::to_string(n->inputs().size()) + " inputs, expected " +
              std::to_string(p.inputs_.size());
        return false;
      }
      State saved = s;
      if (!match_inputs(p, n, s, why, false)) {
        if (!(p.commutative_ && p.inputs_.size() == 2)) return false;
        s = saved;
        std::string why2;
        if (!match_inputs(p, n, s, why2, true)) return false;
      }
    }
    if (std::find(s.m.matched.begin(), s.m.matched.end(), n) == s.m.matched.end()) s.m.matched.push_back(n);
    if (p.shared_) s.shared.insert(n);
    if (!p.capture_.empty()) s.m.nodes[p.capture_] = n;
    return true;
  }

  static bool match_inputs(const Pattern& p, Node* n, State& s, std::string& why, bool swapped) {
    for (size_t i = 0; i < p.inputs_.size(); ++i) {
      size_t j = swapped ? 1 - i : i;
      if (!run(p.inputs_[i], n->input(j), s, why)) return false;
    }
    return true;
  }
};

std::optional<Match> match(const Pattern& pattern, const Graph& graph, Value* value, std::string* why) {
  Matcher::State s;
  std::string reason;
  if (!Matcher::run(pattern, value, s, reason)) {
    if (why) *why = reason;
    return std::nullopt;
  }
  s.m.root = value;
  s.m.root_node = value ? value->producer() : nullptr;
  // The root goes first in `matched` (inputs were appended before it).
  auto& mn = s.m.matched;
  auto it = std::find(mn.begin(), mn.end(), s.m.root_node);
  if (it != mn.end()) std::rotate(mn.begin(), it, it + 1);

  // Nodes marked shared() may feed others; every other interior node must not.
  std::set<const Node*> inside(mn.begin(), mn.end());
  for (Node* n : mn) {
    if (n == s.m.root_node || s.shared.count(n)) continue;
    for (Value* o : n->outputs()) {
      if (!o) continue;
      bool outside = graph.is_graph_output(o);
      for (Node* c : o->consumers()) outside |= !inside.count(c);
      if (outside) {
        if (why) *why = "intermediate value '" + o->name() + "' is also used outside the pattern";
        return std::nullopt;
      }
    }
  }
  return s.m;
}

bool interior_is_private(const Graph& graph, const std::vector<Node*>& nodes, const Node* root, std::string* why) {
  std::set<const Node*> inside(nodes.begin(), nodes.end());
  for (const Node* n : nodes) {
    if (n == root) continue;
    for (const Value* o : n->outputs()) {
      if (!o) continue;
      bool outside = graph.is_graph_output(o);
      for (const Node* c : o->consumers()) outside |= !inside.count(c);
      if (outside) {
        if (why) *why = "intermediate value '" + o->name() + "' is also used outside the pattern";
        return false;
      }
    }
  }
  return true;
}

}  // namespace vdrt
