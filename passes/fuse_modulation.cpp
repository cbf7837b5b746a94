// fuse-modulation: rewrites a DiT's adaLN arithmetic into one vdrt.MulAdd
// (Y = A * (B + offset) + C) per chain, so each is one pass over memory:
//
//   modulation:     Add(Mul(x, Add(scale, k)), shift)  ->  MulAdd(x, scale, shift, offset = k)
//                   (Wan: norm(x) * (1 + scale) + shift; k any scalar constant)
//   gated residual: Add(x, Mul(y, gate))               ->  MulAdd(y, gate, x, offset = 0)
//                   (Wan: x + y * gate, the gate [B, 1, D] repeated over the tokens)
//
// Both Adds and the Mul may take their inputs in either order. A gate is
// the Mul operand that broadcasts into the other (a literal 1 where the
// other's dim is not); a product of two full tensors is a plain multiply-add
// and a sum of two products (RoPE's rotation, a complex product) is no
// residual: both are left alone without a report, as is a vector constant
// in place of k (a Linear's bias: (MatMul + bias) * gate is a gate's
// product). Refused and reported through explain: an intermediate
// (k + scale, the product) used elsewhere, inputs that are not float32 (the
// fused kernels' type) or that do not broadcast.
#include <set>

#include "passes/pass_registry.h"
#include "passes/pattern.h"
#include "passes/rewrite.h"

namespace vdrt {
namespace {

Node* onnx_producer(const Value* v, const char* op) {
  Node* n = v ? v->producer() : nullptr;
  return n && n->domain().empty() && n->op_type() == op && n->inputs().size() == 2 && n->input(0) && n->input(1)
             ? n
             : nullptr;
}

// Whether `g` repeats along some axis of `y` when the two broadcast: a
// right-aligned dim of g is a literal 1 (or absent) where y's is not known to be 1.
bool broadcasts_into(const Shape& g, const Shape& y) {
  if (!g.rank_known() || !y.rank_known() || g.rank() > y.rank()) return false;
  for (size_t j = 0; j < y.rank(); ++j) {
    const Dim& yd = y[y.rank() - 1 - j];
    const bool g_one = j >= g.rank() || (g[g.rank() - 1 - j].known() && g[g.rank() - 1 - j].value() == 1);
    if (g_one && !(yd.known() && yd.value() == 1)) return true;
  }
  return false;
}

struct Chain {
  bool modulation = false;
  Value *a = nullptr, *b = nullptr, *c = nullptr;
  double offset = 0;
  std::vector<Node*> nodes;  // root first
};

class FuseModulation final : public Pass {
 public:
  std::string name() const override { return "fuse-modulation"; }
  std::string description() const override {
    return "Rewrites adaLN modulation x * (1 + scale) + shift and gated residuals x + y * gate into one "
           "vdrt.MulAdd each.";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {{"modulation", true, "Fuse x * (k + scale) + shift (adaLN modulation)."},
            {"gated_residual", true, "Fuse x + y * gate where the gate broadcasts over y (adaLN-Zero gates)."}};
  }

  bool run(Graph& graph, PassContext& ctx) override {
    return rewrite_sweep(graph, false, [&](Node& n, const std::set<Node*>&) -> std::optional<std::vector<Node*>> {
      if (!n.domain().empty() || n.op_type() != "Add" || n.inputs().size() != 2) return std::nullopt;
      auto m = match_chain(graph, n, ctx);
      if (!m) return std::nullopt;
      rewrite(graph, *m, ctx);
      return m->nodes;
    });
  }

 private:
  std::optional<Chain> match_chain(const Graph& graph, Node& root, PassContext& ctx) const {
    Node* mul_of[2] = {onnx_producer(root.input(0), "Mul"), onnx_producer(root.input(1), "Mul")};
    // A modulation on either side first: its (k + scale) marks it.
    for (int side = 0; side < 2; ++side) {
      if (!mul_of[side]) continue;
      Node* mul = mul_of[side];
      for (int f = 0; f < 2; ++f) {
        Node* plus = onnx_producer(mul->input(f), "Add");
        if (!plus) continue;
        for (int s = 0; s < 2; ++s) {
          // One number: a constant vector added is a Linear's bias, and
          // (MatMul + bias) * gate is the gated residual's product instead.
          auto offset = scalar_constant(plus->input(1 - s));
          if (!offset || plus->input(s)->is_constant()) continue;
          if (!opt_bool("modulation")) return std::nullopt;  // not a gate's product either
          Chain m;
          m.modulation = true;
          m.a = mul->input(1 - f);
          m.b = plus->input(s);
          m.c = root.input(1 - side);
          m.nodes = {&root, mul, plus};
          m.offset = *offset;
          if (auto why = refusal(graph, m)) {
            ctx.explain(root, "looks like an adaLN modulation x * (k + scale) + shift but " + *why + "; not fused");
            return std::nullopt;
          }
          return m;
        }
      }
    }
    if (!opt_bool("gated_residual")) return std::nullopt;
    if (mul_of[0] && mul_of[1]) return std::nullopt;  // a sum of products: no residual stream
    const int side = mul_of[0] ? 0 : 1;
    Node* mul = mul_of[side];
    if (!mul) return std::nullopt;
    for (int g = 0; g < 2; ++g) {
      Value* gate = mul->input(g);
      Value* y = mul->input(1 - g);
      if (!broadcasts_into(gate->shape(), y->shape()) || broadcasts_into(y->shape(), gate->shape())) continue;
      Chain m;
      m.a = y;
      m.b = gate;
      m.c = root.input(1 - side);
      m.nodes = {&root, mul};
      if (auto why = refusal(graph, m)) {
        ctx.explain(root, "looks like a gated residual x + y * gate but " + *why + "; not fused");
        return std::nullopt;
      }
      return m;
    }
    return std::nullopt;
  }

  // Why a chain that has the right shape cannot be fused, or nullopt.
  static std::optional<std::string> refusal(const Graph& graph, const Chain& m) {
    for (const Value* v : {m.a, m.b, m.c})
      if (v->dtype() != DType::F32)
        return "'" + v->name() + "' is " + dtype_name(v->dtype()) + ", not float32 (the fused kernels' type)";
    try {
      broadcast_shapes(broadcast_shapes(m.a->shape(), m.b->shape()), m.c->shape());
    } catch (const Error&) {
      return "the shapes " + m.a->shape().str() + ", " + m.b->shape().str() + ", " + m.c->shape().str() +
             " do not broadcast";
    }
    std::string why;
    if (!interior_is_private(graph, m.nodes, m.nodes.front(), &why)) return why;
    return std::nullopt;
  }

  static void rewrite(Graph& graph, const Chain& m, PassContext& ctx) {
    ensure_opset(graph, kVdrtDomain, 1);
    Node* root = m.nodes.front();
    std::string name = root->name();
    Node* n = replace_producer(graph, root, "MulAdd", {m.a, m.b, m.c}, kVdrtDomain);
    const char* what = m.modulation ? "modulate" : "gated_residual";
    n->set_name(name.empty() ? graph.unique_name(what) : name + "_" + what);
    n->attrs().set("offset", static_cast<float>(m.offset));
    infer_node_outputs(graph, *n);
    ctx.count(m.modulation ? "modulations" : "gated residuals");
  }
};

VDRT_REGISTER_PASS(FuseModulation);

}  // namespace
}  // namespace vdrt
