// fuse-qkv: the projections that feed one fused attention and read the same
// activations become one MatMul by their weights side by side, cut back by a
// Split on the last axis:
//
//   self-attention:  q = x Wq + bq, k = x Wk + bk, v = x Wv + bv
//                    -> Split(x [Wq | Wk | Wv] + [bq | bk | bv]) -> q, k, v
//   cross-attention: k and v of the text context, likewise (q reads the video tokens)
//
// One GEMM with N = 3 * dim packs the activations once instead of three
// times and keeps every thread busy on small inputs; fuse-gemm-epilogue then
// folds the bias Add and the Split into vdrt.FusedMatMul, which writes q, k
// and v in place. Runs after fuse-attention: the projections are found by
// walking back from each vdrt.Attention's query, key and value inputs to
// the first MatMul by a 2-D matrix on every path (through norms, RoPE and
// views), so a block's projections are grouped by the attention they feed,
// not with every other reader of the same input (all layers' cross-attention
// reads one text context). Projections of one input are fused only when
// every weight is a constant 2-D matrix of the activations' dtype and every
// bias (an Add of a constant vector, where present) has that dtype too; a
// missing bias is zeros. Near misses are reported through explain.
#include <cstring>
#include <deque>
#include <map>
#include <set>

#include "passes/pass_registry.h"
#include "passes/rewrite.h"

namespace vdrt {
namespace {

bool is_matmul(const Node* n) {
  return n && n->domain().empty() && n->op_type() == "MatMul" && n->inputs().size() == 2;
}

// The MatMuls by 2-D matrices first met on each path back from `start`.
void projections_behind(Value* start, std::set<Node*>& found) {
  std::deque<Value*> queue{start};
  std::set<const Value*> seen;
  size_t budget = 400;
  while (!queue.empty() && budget-- > 0) {
    Value* v = queue.front();
    queue.pop_front();
    if (!v || v->is_constant() || !seen.insert(v).second) continue;
    Node* n = v->producer();
    if (!n) continue;
    // Shape/Size read only dims, never data.
    if (n->domain().empty() && (n->op_type() == "Shape" || n->op_type() == "Size")) continue;
    if (is_matmul(n)) {
      const Value* w = n->input(1);
      if (w && w->shape().rank_known() && w->shape().rank() == 2) found.insert(n);
      continue;  // the projection ends every path through it
    }
    for (Value* in : n->inputs()) queue.push_back(in);
  }
}

struct Projection {
  Node* matmul = nullptr;
  Node* bias_add = nullptr;  // nullptr: no bias
  Value* bias = nullptr;
  Value* out = nullptr;      // what the rest of the graph reads: the Add's output, else the MatMul's
  int64_t n = 0;
};

// Columns [0, N) of `parts` side by side: [K, N0 + N1 + ...] (2-D, any dtype).
Tensor concat_columns(const std::vector<Tensor>& parts) {
  const int64_t rows = parts[0].dims()[0];
  int64_t cols = 0;
  for (const Tensor& p : parts) cols += p.dims()[1];
  Tensor out(parts[0].dtype(), {rows, cols});
  const size_t es = dtype_size(out.dtype());
  auto* dst = static_cast<uint8_t*>(out.raw());
  int64_t at = 0;
  for (const Tensor& p : parts) {
    const int64_t w = p.dims()[1];
    const auto* src = static_cast<const uint8_t*>(p.raw());
    for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + (r * cols + at) * es, src + r * w * es, w * es);
    at += w;
  }
  return out;
}

class FuseQkv final : public Pass {
 public:
  std::string name() const override { return "fuse-qkv"; }
  std::string description() const override {
    return "Concatenates the projections of one input that feed the same vdrt.Attention (q, k and v of "
           "self-attention; k and v of cross-attention) into one MatMul with their biases, cut by a Split "
           "(run after fuse-attention).";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {{"self_attention", true, "Fuse the q, k and v projections of self-attention."},
            {"cross_attention", true, "Fuse the k and v projections of cross-attention."}};
  }

  bool run(Graph& graph, PassContext& ctx) override {
    std::vector<std::pair<std::vector<Node*>, bool>> groups;  // members, cross-attention
    std::set<Node*> taken;
    for (const auto& node : graph.nodes()) {
      if (node->domain() != kVdrtDomain || node->op_type() != "Attention") continue;
      const bool cross = node->attrs().get_string("kind", "self") == "cross";
      if (!opt_bool(cross ? "cross_attention" : "self_attention")) continue;
      std::set<Node*> found;
      for (size_t i = 0; i < 3; ++i) projections_behind(node->input(i), found);
      // Grouped by the activations they read, in graph order.
      std::map<Value*, std::vector<Node*>> by_input;
      for (const auto& n : graph.nodes())
        if (found.count(n.get()) && !taken.count(n.get())) by_input[n->input(0)].push_back(n.get());
      for (auto& [x, members] : by_input) {
        if (members.size() < 2) continue;
        if (!fusable(members, *node, ctx)) continue;
        taken.insert(members.begin(), members.end());
        groups.emplace_back(members, cross);
      }
    }
    for (const auto& [members, cross] : groups) {
      rewrite(graph, members);
      ctx.count(cross ? "cross-attention projections" : "self-attention projections", members.size());
    }
    if (!groups.empty()) remove_dead_nodes(graph);
    return !groups.empty();
  }

 private:
  static Projection describe(const Graph& graph, Node* mm) {
    Projection p;
    p.matmul = mm;
    p.out = mm->output(0);
    p.n = mm->input(1)->shape()[1].known() ? mm->input(1)->shape()[1].value() : -1;
    Node* add = sole_consumer(graph, p.out);
    if (!add || !add->domain().empty() || add->op_type() != "Add" || add->inputs().size() != 2) return p;
    Value* b = add->input(0) == p.out ? add->input(1) : add->input(0);
    if (!b || b == p.out || !b->is_constant() || p.n < 0 || b->constant().numel() != p.n) return p;
    const auto& dims = b->constant().dims();
    for (size_t i = 0; i + 1 < dims.size(); ++i)
      if (dims[i] != 1) return p;
    const Shape& ys = p.out->shape();
    if (!ys.rank_known() || dims.size() > ys.rank()) return p;
    p.bias_add = add;
    p.bias = b;
    p.out = add->output(0);
    return p;
  }

  // Whether a group can be fused; explains why not when it cannot.
  bool fusable(const std::vector<Node*>& members, const Node& attention, PassContext& ctx) const {
    const Value* x = members[0]->input(0);
    std::string names;
    for (const Node* m : members) names += (names.empty() ? "" : ", ") + node_label(*m);
    auto refuse = [&](const std::string& why) {
      ctx.explain(attention, "projections " + names + " read '" + x->name() + "' but " + why + "; not fused");
      return false;
    };
    if (x->is_constant()) return false;
    const DType dt = x->dtype();
    Dim k;
    for (const Node* m : members) {
      const Value* w = m->input(1);
      if (!w->is_constant()) return refuse("weight '" + w->name() + "' is not a constant");
      if (w->dtype() != dt)
        return refuse("weight '" + w->name() + "' is " + dtype_name(w->dtype()) + " while the input is " +
                      dtype_name(dt));
      if (!w->shape()[1].known()) return refuse("weight '" + w->name() + "' has an unknown width");
      if (k.known() && !(w->shape()[0] == k)) return refuse("the weights' row counts differ");
      k = w->shape()[0];
    }
    return true;
  }

  static void rewrite(Graph& graph, const std::vector<Node*>& members) {
    std::vector<Projection> ps;
    for (Node* m : members) ps.push_back(describe(graph, m));
    Value* x = members[0]->input(0);
    const DType dt = x->dtype();
    std::vector<Tensor> weights, biases;
    std::vector<int64_t> sizes;
    bool any_bias = false;
    for (const Projection& p : ps) {
      weights.push_back(p.matmul->input(1)->constant());
      sizes.push_back(p.n);
      any_bias = any_bias || (p.bias && p.bias->dtype() == dt);
    }
    for (Projection& p : ps) {
      if (p.bias && p.bias->dtype() != dt) {  // a bias of another type stays a separate Add
        p.out = p.matmul->output(0);
        p.bias_add = nullptr;
        p.bias = nullptr;
      }
      biases.push_back(p.bias ? p.bias->constant().reshaped({1, p.n}) : Tensor(dt, {1, p.n}));
    }
    const std::string base = members[0]->name().empty() ? "qkv" : members[0]->name() + "_qkv";
    Value* w = add_constant_fresh(graph, base + "_weight", concat_columns(weights));
    Value* y = add_node_fresh(graph, "MatMul", {x, w}, 1, base + "_matmul")->output(0);
    if (any_bias) {
      Tensor b = concat_columns(biases);
      Value* bv = add_constant_fresh(graph, base + "_bias", b.reshaped({b.numel()}));
      y = add_node_fresh(graph, "Add", {y, bv}, 1, base + "_add")->output(0);
    }
    // The Split produces the projections' own output values, so their names,
    // consumers and graph outputs stay as they were.
    std::vector<Value*> outs;
    for (const Projection& p : ps) {
      outs.push_back(p.out);
      if (p.bias_add) graph.remove_node(p.bias_add);
      graph.remove_node(p.matmul);
    }
    std::vector<Value*> split_inputs{y};
    const bool split_input = graph.opset(kOnnxDomain) >= 13;
    if (split_input) split_inputs.push_back(add_int64s(graph, base + "_split", sizes));
    Node* split = graph.add_node("Split", split_inputs, outs, graph.unique_name(base + "_split_node"));
    split->attrs().set("axis", int64_t{-1});
    if (!split_input) split->attrs().set("split", sizes);
    infer_node_outputs(graph, *split);
  }
};

VDRT_REGISTER_PASS(FuseQkv);

}  // namespace
}  // namespace vdrt
