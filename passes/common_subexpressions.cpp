// common-subexpressions: merges nodes that compute the same thing (same op,
// attributes and inputs) and identical constants. Exporters repeat shape
// computations per use and duplicate small constants per module; merging
// them shrinks the graph and lets later matches see one value where the
// math has one (e.g. the two Sqrt(scale) of TorchScript's attention).
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string_view>

#include "passes/pass_registry.h"
#include "passes/rewrite.h"

namespace vdrt {
namespace {

size_t tensor_hash(const Tensor& t) {
  size_t h = std::hash<std::string_view>{}(
      std::string_view(static_cast<const char*>(t.raw()), t.nbytes()));
  return h ^ (static_cast<size_t>(t.dtype()) << 1) ^ std::hash<std::string>{}(dims_str(t.dims()));
}

bool tensors_equal(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.dims() == b.dims() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

bool attributes_equal(const AttributeMap& a, const AttributeMap& b) {
  if (a.all().size() != b.all().size()) return false;
  for (const auto& [k, va] : a.all()) {
    auto it = b.all().find(k);
    if (it == b.all().end() || it->second.index() != va.index()) return false;
    const Attribute& vb = it->second;
    if (const auto* ta = std::get_if<Tensor>(&va)) {
      if (!tensors_equal(*ta, std::get<Tensor>(vb))) return false;
    } else if (attribute_str(va) != attribute_str(vb)) {
      return false;
    }
  }
  return true;
}

std::string node_key(const Node& n) {
  std::string key = n.domain() + "|" + n.op_type() + "|";
  for (Value* v : n.inputs()) key += (v ? v->name() : std::string("<none>")) + ",";
  key += "|" + std::to_string(n.outputs().size()) + "|";
  for (const auto& [k, v] : n.attrs().all()) {
    if (const auto* t = std::get_if<Tensor>(&v)) key += k + "=#" + std::to_string(tensor_hash(*t)) + ";";
    else key += k + "=" + attribute_str(v) + ";";
  }
  return key;
}

bool deterministic(const Node& n) {
  static const std::set<std::string> random = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                               "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout"};
  return !(n.domain().empty() && random.count(n.op_type()));
}

class CommonSubexpressions final : public Pass {
 public:
  std::string name() const override { return "common-subexpressions"; }
  std::string description() const override {
    return "Merges nodes with the same op, attributes and inputs, and constants with identical contents.";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {{"merge_constants", true, "Also merge constants with identical dtype, shape and bytes."},
            OptionSpec{"max_constant_bytes", int64_t{1} << 20,
                       "Constants larger than this are not compared (hashing huge weights costs time and rarely pays)."}
                .at_least(0)};
  }

  bool run(Graph& graph, PassContext& ctx) override {
    bool changed = false;
    if (opt_bool("merge_constants")) changed |= merge_constants(graph, ctx);

    std::map<std::string, std::vector<Node*>> seen;
    std::vector<Node*> order;
    for (const auto& n : graph.nodes()) order.push_back(n.get());
    for (Node* n : order) {
      if (n->outputs().empty() || !deterministic(*n)) continue;
      std::vector<Node*>& bucket = seen[node_key(*n)];
      Node* twin = nullptr;
      for (Node* c : bucket)
        if (same_computation(*c, *n)) twin = c;
      if (!twin) {
        bucket.push_back(n);
        continue;
      }
      bool replaceable = true;
      for (Value* o : n->outputs())
        if (o && graph.is_graph_output(o)) replaceable = false;
      if (!replaceable) continue;
      for (size_t i = 0; i < n->outputs().size(); ++i) {
        Value* o = n->output(i);
        Value* t = twin->output(i);
        if (!o) continue;
        if (!t) { replaceable = false; break; }
      }
      if (!replaceable) continue;
      for (size_t i = 0; i < n->outputs().size(); ++i)
        if (n->output(i)) replace_value(graph, n->output(i), twin->output(i));
      graph.remove_node(n);
      ctx.count("nodes merged");
      changed = true;
    }
    return changed;
  }

 private:
  static bool same_computation(const Node& a, const Node& b) {
    return a.op_type() == b.op_type() && a.domain() == b.domain() && a.inputs() == b.inputs() &&
           a.outputs().size() == b.outputs().size() && attributes_equal(a.attrs(), b.attrs());
  }

  bool merge_constants(Graph& graph, PassContext& ctx) {
    const size_t max_bytes = static_cast<size_t>(std::max<int64_t>(0, opt_int("max_constant_bytes")));
    std::map<size_t, std::vector<Value*>> by_hash;
    bool changed = false;
    for (Value* v : graph.values()) {
      if (!v->is_constant() || v->producer() || graph.is_graph_input(v) || graph.is_graph_output(v)) continue;
      if (v->constant().nbytes() > max_bytes || v->consumers().empty()) continue;
      auto& bucket = by_hash[tensor_hash(v->constant())];
      Value* twin = nullptr;
      for (Value* c : bucket)
        if (tensors_equal(c->constant(), v->constant())) twin = c;
      if (!twin) {
        bucket.push_back(v);
        continue;
      }
      replace_value(graph, v, twin);
      ctx.count("constants merged");
      changed = true;
    }
    return changed;
  }
};

VDRT_REGISTER_PASS(CommonSubexpressions);

}  // namespace
}  // namespace vdrt
