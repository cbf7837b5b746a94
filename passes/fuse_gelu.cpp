// fuse-gelu: rewrites GELU written out elementwise into one Gelu node.
//
//   erf form:  0.5 * x * (1 + erf(x / sqrt(2)))
//   tanh form: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
//              (also with the cubic factored: sqrt(2/pi) * x * (1 + 0.044715 * x^2))
//
// Products and sums are flattened (passes/algebra.h), so every grouping
// and ordering the exporters produce matches, as do x*x*x and Pow(x, 3).
// Emits ONNX Gelu (opset >= 20) or vdrt.Gelu, its twin for older models.
#include <algorithm>
#include <cmath>
#include <set>

#include "passes/algebra.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"
#include "passes/rewrite.h"

namespace vdrt {
namespace {

constexpr double kInvSqrt2 = 0.70710678118654752;
constexpr double kSqrt2OverPi = 0.79788456080286536;
constexpr double kCubic = 0.044715;

Node* producer_op(const Value* v, const char* op) {
  Node* n = v ? v->producer() : nullptr;
  return n && n->domain().empty() && n->op_type() == op ? n : nullptr;
}

// How many times x appears in the factors (Pow(x, k) counts k); -1 when
// anything else is a factor or a power is negative.
int power_of(const Product& p, const Value* x, std::vector<Node*>& nodes) {
  int k = 0;
  for (const Factor& f : p.factors) {
    if (f.power != 1) return -1;
    if (f.value == x) { ++k; continue; }
    Node* pw = producer_op(f.value, "Pow");
    auto e = pw ? scalar_constant(pw->input(1)) : std::nullopt;
    if (pw && pw->input(0) == x && e && *e == std::floor(*e) && *e > 0) {
      k += static_cast<int>(*e);
      nodes.push_back(pw);
      continue;
    }
    return -1;
  }
  return k;
}

class FuseGelu final : public Pass {
 public:
  std::string name() const override { return "fuse-gelu"; }
  std::string description() const override {
    return "Rewrites GELU written out with Erf or Tanh (either exporter's grouping) into one Gelu node "
           "(vdrt.Gelu below opset 20).";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {{"tolerance", 1e-3, "Relative tolerance on the formula's constants (0.5, 1/sqrt(2), 0.044715...)."},
            {"onnx_ops", true, "Emit ONNX Gelu when the model's opset has it; false always emits vdrt.Gelu."}};
  }

  bool run(Graph& graph, PassContext& ctx) override {
    std::vector<Node*> order;
    for (const auto& n : graph.nodes()) order.push_back(n.get());
    std::set<Node*> gone;
    bool changed = false;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      Node* n = *it;
      if (gone.count(n) || !n->domain().empty() || n->op_type() != "Mul") continue;
      Value* out = n->output(0);
      if (!out || (out->consumers().empty() && !graph.is_graph_output(out))) continue;
      std::vector<Node*> nodes;
      Value* x = nullptr;
      std::string approximate;
      if (!match_gelu(graph, out, ctx, nodes, x, approximate)) continue;
      for (Node* m : nodes) gone.insert(m);
      bool onnx = opt_bool("onnx_ops") && graph.opset("") >= 20;
      if (!onnx) ensure_opset(graph, kVdrtDomain, 1);
      std::string name = n->name();
      Node* g = replace_producer(graph, n, "Gelu", {x}, onnx ? "" : kVdrtDomain);
      g->set_name(name.empty() ? graph.unique_name("Gelu") : name + "_gelu");
      g->attrs().set("approximate", approximate);
      infer_node_outputs(graph, *g);
      ctx.count(approximate == "tanh" ? "tanh gelus" : "erf gelus");
      changed = true;
    }
    if (changed) remove_dead_nodes(graph);
    return changed;
  }

 private:
  bool match_gelu(const Graph& graph, Value* root, PassContext& ctx, std::vector<Node*>& nodes, Value*& x,
                  std::string& approximate) const {
    const double tol = opt_float("tolerance");
    Product outer = flatten_product(graph, root);
    if (outer.factors.size() != 2) return false;
    // One factor is x, the other 1 + erf(...) or 1 + tanh(...).
    for (int pick = 0; pick < 2; ++pick) {
      Value* cand_x = outer.factors[pick].value;
      Value* cand_a = outer.factors[1 - pick].value;
      if (outer.factors[0].power != 1 || outer.factors[1].power != 1) return false;
      Sum a = flatten_sum(graph, cand_a);
      if (a.terms.size() != 1 || a.terms[0].sign != 1) continue;
      Node* erf = producer_op(a.terms[0].value, "Erf");
      Node* tanh = producer_op(a.terms[0].value, "Tanh");
      if (!erf && !tanh) continue;
      // Now it is a GELU in all but the details: report what differs.
      Node* root_node = root->producer();
      auto miss = [&](const std::string& why) {
        ctx.explain(*root_node, "looks like GELU but " + why + "; not fused");
        return false;
      };
      if (!near(a.constant, 1.0, tol)) return miss("the constant added to " + std::string(erf ? "erf" : "tanh") + " is " + std::to_string(a.constant) + ", not 1");
      if (!near(outer.coefficient, 0.5, tol)) return miss("the outer coefficient is " + std::to_string(outer.coefficient) + ", not 0.5");
      std::vector<Node*> all = outer.nodes;
      all.insert(all.end(), a.nodes.begin(), a.nodes.end());
      if (!a.nodes.empty() || cand_a->producer()) all.push_back(cand_a->producer());
      if (erf) {
        all.push_back(erf);
        Product in = flatten_product(graph, erf->input(0));
        all.insert(all.end(), in.nodes.begin(), in.nodes.end());
        if (power_of(in, cand_x, all) != 1) return miss("erf's argument is not a multiple of the same x");
        if (!near(in.coefficient, kInvSqrt2, tol)) return miss("erf's argument is x * " + std::to_string(in.coefficient) + ", not x / sqrt(2)");
        approximate = "none";
      } else {
        all.push_back(tanh);
        if (!tanh_argument(graph, tanh->input(0), cand_x, tol, all))
          return miss("tanh's argument is not sqrt(2/pi) * (x + 0.044715 x^3)");
        approximate = "tanh";
      }
      // Deduplicate (a Sum's root may already be listed) before the privacy check.
      std::vector<Node*> uniq;
      for (Node* n : all)
        if (n && std::find(uniq.begin(), uniq.end(), n) == uniq.end()) uniq.push_back(n);
      std::string why;
      if (!interior_is_private(graph, uniq, root_node, &why)) return miss(why);
      if (cand_x->dtype() != DType::Undefined && !is_float(cand_x->dtype())) return miss("x is not a float tensor");
      nodes = uniq;
      x = cand_x;
      return true;
    }
    return false;
  }

  // sqrt(2/pi) * (x + c x^3)  or  sqrt(2/pi) * x * (1 + c x^2)
  static bool tanh_argument(const Graph& graph, Value* arg, Value* x, double tol, std::vector<Node*>& nodes) {
    Product p = flatten_product(graph, arg);
    nodes.insert(nodes.end(), p.nodes.begin(), p.nodes.end());
    if (!near(p.coefficient, kSqrt2OverPi, tol)) return false;
    if (p.factors.size() == 1 && p.factors[0].power == 1) {  // (x + c x^3)
      Sum s = flatten_sum(graph, p.factors[0].value);
      nodes.insert(nodes.end(), s.nodes.begin(), s.nodes.end());
      if (s.constant != 0 || s.terms.size() != 2) return false;
      for (int i = 0; i < 2; ++i) {
        if (s.terms[i].value != x || s.terms[i].sign != 1 || s.terms[1 - i].sign != 1) continue;
        Product cube = flatten_product(graph, s.terms[1 - i].value);
        nodes.insert(nodes.end(), cube.nodes.begin(), cube.nodes.end());
        return near(cube.coefficient, kCubic, tol) && power_of(cube, x, nodes) == 3;
      }
      return false;
    }
    if (p.factors.size() == 2) {  // x * (1 + c x^2)
      for (int i = 0; i < 2; ++i) {
        if (p.factors[i].value != x || p.factors[i].power != 1 || p.factors[1 - i].power != 1) continue;
        Value* inner = p.factors[1 - i].value;
        Sum s = flatten_sum(graph, inner);
        nodes.insert(nodes.end(), s.nodes.begin(), s.nodes.end());
        if (inner->producer()) nodes.push_back(inner->producer());
        if (!near(s.constant, 1.0, tol) || s.terms.size() != 1 || s.terms[0].sign != 1) return false;
        Product sq = flatten_product(graph, s.terms[0].value);
        nodes.insert(nodes.end(), sq.nodes.begin(), sq.nodes.end());
        return near(sq.coefficient, kCubic, tol) && power_of(sq, x, nodes) == 2;
      }
    }
    return false;
  }
};

VDRT_REGISTER_PASS(FuseGelu);

}  // namespace
}  // namespace vdrt
