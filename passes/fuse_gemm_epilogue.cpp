// fuse-gemm-epilogue: folds what follows a MatMul by a 2-D matrix (a
// Linear layer as the exporters write it) into one vdrt.FusedMatMul, whose
// CPU kernel applies it to each output tile while the tile is in cache:
//
//   MatMul(X, W) -> [Add(bias)] -> [Gelu] -> [Add(residual)] -> [Split on the last axis]
//
// in that order, each step optional but at least one present. The bias is
// a vector of N values (any rank whose other dims are 1, either Add
// operand); Gelu is ONNX Gelu or vdrt.Gelu (erf or tanh form, as fuse-gelu
// writes it); the residual is the other operand of an Add of the product's
// own shape (proven equal, not broadcast) that does not depend on the
// product; a Split on the last axis with known sizes becomes the fused
// node's outputs (fuse-qkv's Q/K/V product, then written without a copy).
// Every intermediate must have that one consumer and not be a graph output
// (which also means the bias and residual cannot be computed from the
// product: that would be a second consumer); X, W and the rest must be
// float32 (the fused kernel's type).
//
// quantize-fp8's vdrt.QMatMul (its bias already inside) takes a following
// Gelu and residual Add the same way, into its own epilogue (attribute
// activation, input 4).
//
// The pass rewrites only when the device the graph is optimised for runs
// the fused op (PassContext::device_runs): the CPU runs every form, the GPU
// backends the one-output form (a Split after the epilogue stays a node).
// With no device known (`vdrt opt` without --device) it leaves the graph
// alone unless `fuse_for_any_device` is set; its log line counts the
// epilogues so left, as it does for a device without the kernel. Near
// misses (a float64 Linear, a residual computed from the product) are
// reported through explain.
#include <optional>

#include "passes/pass_registry.h"
#include "passes/rewrite.h"
#include "passes/symbolic_shapes.h"

namespace vdrt {
namespace {

Node* sole_onnx_or_vdrt_consumer(const Graph& g, const Value* v, const char* op, bool vdrt_too = false) {
  Node* c = sole_consumer(g, v);
  if (!c || c->op_type() != op) return nullptr;
  if (c->domain().empty() || (vdrt_too && c->domain() == kVdrtDomain)) return c;
  return nullptr;
}

// The other operand of a two-input node that reads `v` once.
Value* other_operand(const Node& n, const Value* v) {
  if (n.inputs().size() != 2 || !n.input(0) || !n.input(1)) return nullptr;
  if (n.input(0) == v && n.input(1) != v) return n.input(1);
  if (n.input(1) == v && n.input(0) != v) return n.input(0);
  return nullptr;
}

// Takes a GELU that is the sole reader of *cur into a chain (*cur becomes
// its output): the fused op's activation.
bool take_gelu(const Graph& g, Value*& cur, std::string& activation, std::vector<Node*>& nodes) {
  Node* gelu = sole_onnx_or_vdrt_consumer(g, cur, "Gelu", true);
  if (!gelu || gelu->inputs().size() != 1) return false;
  const std::string approx = gelu->attrs().get_string("approximate", "none");
  if (approx != "none" && approx != "tanh") return false;
  activation = approx == "tanh" ? "gelu_tanh" : "gelu";
  nodes.push_back(gelu);
  cur = gelu->output(0);
  return true;
}

struct Chain {
  Node* matmul = nullptr;
  Value *x = nullptr, *w = nullptr, *bias = nullptr, *residual = nullptr;
  std::string activation = "none";
  std::vector<int64_t> split;   // empty: one output
  std::vector<Node*> nodes;     // matmul first, in order
  std::vector<Value*> outputs;  // what the fused node produces
};

class FuseGemmEpilogue final : public Pass {
 public:
  std::string name() const override { return "fuse-gemm-epilogue"; }
  std::string description() const override {
    return "Folds a MatMul by a 2-D matrix and its bias Add, GELU, residual Add and last-axis Split into one "
           "vdrt.FusedMatMul, applied per output tile while it is in cache; only for a device that runs it (the "
           "CPU; the GPUs without the Split).";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {{"bias", true, "Fold the bias Add."},
            {"activation", true, "Fold a Gelu (erf or tanh form) after the bias."},
            {"residual", true, "Fold an Add of a tensor of the product's shape (the residual stream)."},
            {"split", true, "Fold a Split on the last axis into the fused node's outputs."},
            {"fuse_for_any_device", false,
             "Fuse also when no device is known (vdrt opt without --device); GPU backends then run nodes with a "
             "folded Split through the CPU fallback."}};
  }

  bool run(Graph& graph, PassContext& ctx) override {
    const bool q_changed = fuse_qmatmul_epilogues(graph, ctx);
    std::vector<Chain> chains;
    for (const auto& n : graph.nodes())
      if (auto c = match_chain(graph, *n, ctx)) chains.push_back(std::move(*c));
    if (chains.empty()) return q_changed;
    if (const char* why = device_refusal(ctx)) {
      ctx.count(why, static_cast<int64_t>(chains.size()));
      return q_changed;
    }
    if (!device_runs_split(ctx)) {
      // The GPU kernels write one output: the Split stays a node of its own.
      std::vector<Chain> kept;
      for (Chain& c : chains) {
        if (!c.split.empty()) {
          c.nodes.pop_back();
          c.split.clear();
          c.outputs = {c.nodes.back()->output(0)};
          ctx.count("splits left to the device's Split");
        }
        if (c.nodes.size() > 1) kept.push_back(std::move(c));
      }
      chains = std::move(kept);
      if (chains.empty()) return q_changed;
    }
    ensure_opset(graph, kVdrtDomain, 1);
    for (Chain& c : chains) rewrite(graph, c, ctx);
    remove_dead_nodes(graph);
    return true;
  }

 private:
  // vdrt.QMatMul (quantize-fp8's product, its bias already inside) followed
  // by a GELU and / or a residual Add: both fold into its own epilogue
  // (attribute activation, input 4), where the device runs that.
  bool fuse_qmatmul_epilogues(Graph& graph, PassContext& ctx) const {
    struct QChain {
      Node* q = nullptr;
      std::string activation = "none";
      Value* residual = nullptr;
      std::vector<Node*> nodes;
      Value* out = nullptr;
    };
    std::vector<QChain> chains;
    for (const auto& node : graph.nodes()) {
      Node& q = *node;
      if (q.domain() != kVdrtDomain || q.op_type() != "QMatMul" || q.attrs().has("activation") ||
          q.inputs().size() > 4 || !q.output(0))
        continue;
      QChain c;
      c.q = &q;
      c.nodes = {&q};
      Value* cur = q.output(0);
      if (opt_bool("activation")) take_gelu(graph, cur, c.activation, c.nodes);
      if (opt_bool("residual")) take_residual(graph, cur, c.residual, c.nodes);
      if (c.residual && c.residual->dtype() != DType::F32) continue;
      if (c.nodes.size() == 1) continue;
      c.out = cur;
      chains.push_back(std::move(c));
    }
    if (chains.empty()) return false;
    if (ctx.device_runs) {
      AttributeMap gelu;
      gelu.set("activation", std::string("gelu"));
      if (!device_runs_probe(ctx, "QMatMul", {DType::F32, DType::F8E4M3, DType::F32, DType::F32, DType::F32}, 1,
                             gelu)) {
        ctx.count("QMatMul epilogues unfused, device lacks them", static_cast<int64_t>(chains.size()));
        return false;
      }
    } else if (!opt_bool("fuse_for_any_device")) {
      ctx.count("QMatMul epilogues unfused, no device given", static_cast<int64_t>(chains.size()));
      return false;
    }
    for (QChain& c : chains) {
      std::vector<Value*> inputs = c.q->inputs();
      inputs.resize(4, nullptr);
      inputs.push_back(c.residual);
      while (!inputs.empty() && !inputs.back()) inputs.pop_back();
      AttributeMap attrs = c.q->attrs();
      const std::string name = c.q->name();
      for (auto it = c.nodes.rbegin(); it != c.nodes.rend(); ++it) graph.remove_node(*it);
      const std::string fused_name = graph.unique_name(name.empty() ? "qmatmul" : name + "_fused");
      Node* n = graph.add_node("QMatMul", inputs, {c.out}, fused_name, kVdrtDomain);
      n->attrs() = attrs;
      if (c.activation != "none") {
        n->attrs().set("activation", c.activation);
        ctx.count("QMatMul gelus");
      }
      if (c.residual) ctx.count("QMatMul residuals");
      infer_node_outputs(graph, *n);
    }
    remove_dead_nodes(graph);
    return true;
  }

  std::optional<Chain> match_chain(const Graph& graph, Node& mm, PassContext& ctx) const {
    if (!mm.domain().empty() || mm.op_type() != "MatMul" || mm.inputs().size() != 2) return std::nullopt;
    Chain c;
    c.matmul = &mm;
    c.x = mm.input(0);
    c.w = mm.input(1);
    if (!c.x || !c.w || !c.w->shape().rank_known() || c.w->shape().rank() != 2 || !c.w->shape()[1].known())
      return std::nullopt;
    if (!c.x->shape().rank_known() || c.x->shape().rank() == 0) return std::nullopt;
    const int64_t n = c.w->shape()[1].value();
    c.nodes = {&mm};
    Value* cur = mm.output(0);
    if (!cur) return std::nullopt;

    if (opt_bool("bias"))
      if (Node* add = sole_onnx_or_vdrt_consumer(graph, cur, "Add"))
        if (Value* b = other_operand(*add, cur); b && is_bias_of(b, n, cur)) {
          c.bias = b;
          c.nodes.push_back(add);
          cur = add->output(0);
        }
    if (opt_bool("activation")) take_gelu(graph, cur, c.activation, c.nodes);
    if (opt_bool("residual")) take_residual(graph, cur, c.residual, c.nodes);
    if (opt_bool("split"))
      if (Node* split = sole_onnx_or_vdrt_consumer(graph, cur, "Split"); split && cuts_last_axis(*split, cur)) {
        if (auto sizes = split_sizes(*split)) {
          c.split = *sizes;
          c.nodes.push_back(split);
          c.outputs = split->outputs();
        } else {
          ctx.explain(*split, "cuts the product of " + node_label(mm) +
                                  " on its last axis, but the sizes of its outputs are not known; Split not folded");
        }
      }
    if (c.nodes.size() == 1) return std::nullopt;  // a plain MatMul: nothing to fold
    if (c.outputs.empty()) c.outputs = {cur};
    for (const Value* v : {c.x, c.w, c.bias, c.residual})
      if (v && v->dtype() != DType::F32) {
        ctx.explain(mm, "has an epilogue to fold but '" + v->name() + "' is " + dtype_name(v->dtype()) +
                            ", not float32 (vdrt.FusedMatMul's kernel type); not fused");
        return std::nullopt;
      }
    return c;
  }

  // A vector of n values broadcast along the product's rows: rank <= the
  // product's, every dim 1 but the last, which is n.
  static bool is_bias_of(const Value* b, int64_t n, const Value* product) {
    const Shape& s = b->shape();
    if (!s.rank_known() || s.rank() == 0 || !product->shape().rank_known() || s.rank() > product->shape().rank())
      return false;
    for (size_t i = 0; i + 1 < s.rank(); ++i)
      if (!s[i].known() || s[i].value() != 1) return false;
    return s[s.rank() - 1].known() && s[s.rank() - 1].value() == n && (s.rank() == 1 || b->is_constant());
  }

  // Takes an Add of a tensor of *cur's own shape that is the sole reader of
  // *cur into a chain: the fused op's residual.
  static bool take_residual(const Graph& g, Value*& cur, Value*& residual, std::vector<Node*>& nodes) {
    Node* add = sole_onnx_or_vdrt_consumer(g, cur, "Add");
    Value* r = add ? other_operand(*add, cur) : nullptr;
    if (!r || !same_shape(r, cur)) return false;
    residual = r;
    nodes.push_back(add);
    cur = add->output(0);
    return true;
  }

  static bool same_shape(const Value* a, const Value* b) {
    auto da = symbolic_dims(a), db = symbolic_dims(b);
    return da && db && same_dims(*da, *db);
  }

  static bool cuts_last_axis(const Node& split, const Value* v) {
    const int64_t rank = static_cast<int64_t>(v->shape().rank());
    int64_t axis = split.attrs().get_int("axis", 0);
    if (axis < 0) axis += rank;
    return axis == rank - 1 && split.input(0) == v;
  }

  // The sizes of a Split's outputs on the (last) axis, when all are known.
  static std::optional<std::vector<int64_t>> split_sizes(const Node& split) {
    std::vector<int64_t> sizes;
    for (const Value* o : split.outputs()) {
      if (!o || !o->shape().rank_known() || o->shape().rank() == 0) return std::nullopt;
      const Dim& d = o->shape()[o->shape().rank() - 1];
      if (!d.known() || d.value() <= 0) return std::nullopt;
      sizes.push_back(d.value());
    }
    return sizes;
  }

  // Why the device the graph is optimised for does not get fused nodes, or
  // nullptr when it does; asked once per run through a probe node (float32
  // inputs, the only kind matched). Said in the pass's log line, as a count
  // of the epilogues left alone: a decision, not a near miss.
  const char* device_refusal(PassContext& ctx) const {
    if (!ctx.device_runs)
      return opt_bool("fuse_for_any_device") ? nullptr : "unfused, no device given";
    return device_runs_probe(ctx, "FusedMatMul", {DType::F32, DType::F32, DType::F32}, 1, {})
               ? nullptr
               : "unfused, device lacks vdrt.FusedMatMul";
  }

  // Whether that device also runs the form with `split` (several outputs).
  static bool device_runs_split(PassContext& ctx) {
    AttributeMap split;
    split.set("split", std::vector<int64_t>{1, 1});
    return !ctx.device_runs || device_runs_probe(ctx, "FusedMatMul", {DType::F32, DType::F32}, 2, split);
  }

  // Whether the device runs the vdrt op `op` with inputs of these element
  // types (the second a [4, 2] weight), `outputs` float32 outputs and these
  // attributes: asked once per run through a node of a throwaway graph.
  static bool device_runs_probe(PassContext& ctx, const char* op, const std::vector<DType>& inputs, size_t outputs,
                                const AttributeMap& attrs) {
    Graph probe;
    std::vector<Value*> ins, outs;
    for (size_t i = 0; i < inputs.size(); ++i) {
      ins.push_back(probe.value("in" + std::to_string(i)));
      ins.back()->set_dtype(inputs[i]);
    }
    ins[1]->set_shape(Shape({Dim(4), Dim(2)}));
    for (size_t i = 0; i < outputs; ++i) {
      outs.push_back(probe.value("out" + std::to_string(i)));
      outs.back()->set_dtype(DType::F32);
    }
    Node* n = probe.add_node(op, ins, outs, "probe", kVdrtDomain);
    n->attrs() = attrs;
    return ctx.device_runs(*n);
  }

  static void rewrite(Graph& graph, Chain& c, PassContext& ctx) {
    Value* bias = c.bias;
    if (bias && bias->shape().rank() != 1) {  // a constant [1, .., N]: stored as [N]
      Tensor t = bias->constant();
      const int64_t n = t.numel();
      bias = add_constant_fresh(graph, bias->name() + "_vector", t.reshaped({n}));
    }
    std::vector<Value*> inputs{c.x, c.w, bias, c.residual};
    while (!inputs.empty() && !inputs.back()) inputs.pop_back();
    const std::string name = c.matmul->name();
    std::vector<Value*> outs = c.outputs;
    for (auto it = c.nodes.rbegin(); it != c.nodes.rend(); ++it) graph.remove_node(*it);
    const std::string fused_name = graph.unique_name(name.empty() ? "fused_matmul" : name + "_fused");
    Node* n = graph.add_node("FusedMatMul", inputs, outs, fused_name, kVdrtDomain);
    if (c.activation != "none") n->attrs().set("activation", c.activation);
    if (!c.split.empty()) n->attrs().set("split", c.split);
    infer_node_outputs(graph, *n);
    ctx.count("fused");
    if (c.bias) ctx.count("biases");
    if (c.activation != "none") ctx.count("gelus");
    if (c.residual) ctx.count("residuals");
    if (!c.split.empty()) ctx.count("splits");
  }
};

VDRT_REGISTER_PASS(FuseGemmEpilogue);

}  // namespace
}  // namespace vdrt
