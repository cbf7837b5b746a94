#include "passes/rewrite.h"

#include <algorithm>
#include <set>

#include "graph/error.h"
#include "graph/op_registry.h"

namespace vdrt {

bool infer_node_outputs(Graph& graph, Node& node) {
  std::vector<ValueInfo> ins;
  for (Value* v : node.inputs()) {
    if (!v) { ins.emplace_back(); continue; }
    ins.push_back(ValueInfo{v->dtype(), v->shape(), v->is_constant() ? &v->constant() : nullptr, true});
  }
  try {
    auto outs = infer_node(node, ins, graph.opset(node.domain()), graph.source_path);
    for (size_t i = 0; i < node.outputs().size(); ++i) {
      Value* o = node.output(i);
      if (!o || !outs[i].present) continue;
      o->set_dtype(outs[i].dtype);
      o->set_shape(outs[i].shape);
    }
    return true;
  } catch (const Error&) {
    return false;
  }
}

Node* add_node_fresh(Graph& graph, const std::string& op_type, const std::vector<Value*>& inputs,
                     size_t num_outputs, const std::string& base, const std::string& domain) {
  std::vector<Value*> outs;
  for (size_t i = 0; i < num_outputs; ++i)
    outs.push_back(graph.value(graph.unique_name(num_outputs == 1 ? base : base + "_" + std::to_string(i))));
  Node* n = graph.add_node(op_type, inputs, outs, graph.unique_name(base + "_node"), domain);
  infer_node_outputs(graph, *n);
  return n;
}

Value* add_constant_fresh(Graph& graph, const std::string& base, Tensor t) {
  return graph.add_constant(graph.unique_name(base), std::move(t));
}

Value* add_int64s(Graph& graph, const std::string& base, const std::vector<int64_t>& values) {
  return add_constant_fresh(graph, base, Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values));
}

void ensure_opset(Graph& graph, const std::string& domain, int64_t version) {
  if (graph.opset(domain) == 0) graph.opsets.push_back({domain, version});
}

size_t remove_dead_nodes(Graph& graph) {
  size_t removed = 0;
  bool progress = true;
  while (progress) {
    progress = false;
    // Walk backwards so a chain dies in one sweep.
    std::vector<Node*> order;
    for (const auto& n : graph.nodes()) order.push_back(n.get());
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      Node* n = *it;
      bool live = false;
      for (Value* o : n->outputs())
        if (o && (!o->consumers().empty() || graph.is_graph_output(o))) live = true;
      if (live) continue;
      graph.remove_node(n);
      ++removed;
      progress = true;
    }
  }
  return removed;
}

bool replace_value(Graph& graph, Value* from, Value* to) {
  if (from == to) return true;
  if (graph.is_graph_output(from)) return false;
  graph.replace_all_uses(from, to);
  return true;
}

Node* replace_producer(Graph& graph, Node* old, const std::string& op_type, const std::vector<Value*>& inputs,
                       const std::string& domain) {
  std::vector<Value*> outs = old->outputs();
  std::string name = old->name();
  graph.remove_node(old);
  Node* n = graph.add_node(op_type, inputs, outs, name, domain);
  infer_node_outputs(graph, *n);
  return n;
}

size_t consumer_count(const Value* v) {
  std::set<const Node*> distinct(v->consumers().begin(), v->consumers().end());
  return distinct.size();
}

Node* sole_consumer(const Graph& graph, const Value* v) {
  if (!v || graph.is_graph_output(v) || consumer_count(v) != 1) return nullptr;
  return v->consumers().front();
}

std::optional<double> scalar_constant(const Value* v) {
  if (!v || !v->is_constant()) return std::nullopt;
  const Tensor& t = v->constant();
  if (t.numel() != 1) return std::nullopt;
  try {
    return t.as_double()[0];
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::optional<std::vector<int64_t>> int_constant(const Value* v) {
  if (!v || !v->is_constant() || !is_integer(v->constant().dtype())) return std::nullopt;
  return v->constant().as_int64();
}

std::string node_label(const Node& n) { return "'" + n.name() + "' (" + n.qualified_op() + ")"; }

bool rewrite_sweep(Graph& graph, bool outermost_first, const TryRewrite& try_rewrite) {
  std::vector<Node*> order;
  for (const auto& n : graph.nodes()) order.push_back(n.get());
  if (outermost_first) std::reverse(order.begin(), order.end());
  std::set<Node*> gone;
  bool changed = false;
  for (Node* n : order) {
    if (gone.count(n) || n->outputs().empty()) continue;
    bool live = false;
    for (Value* out : n->outputs()) live |= out && (!out->consumers().empty() || graph.is_graph_output(out));
    if (!live) continue;
    std::optional<std::vector<Node*>> replaced = try_rewrite(*n, gone);
    if (!replaced) continue;
    gone.insert(replaced->begin(), replaced->end());
    changed = true;
  }
  if (changed) remove_dead_nodes(graph);
  return changed;
}

}  // namespace vdrt
