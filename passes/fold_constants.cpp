// fold-constants: replaces computations whose result is known before the
// model runs by constants.
//  * Nodes whose inputs are all constants are evaluated through the
//    caller's evaluator (the CPU kernels, in practice), so passes/ stays
//    device-free. Results larger than max_bytes stay nodes: folding an
//    Expand of a scalar could otherwise bloat the model file.
//  * Shape arithmetic (Shape -> Gather/Slice -> Concat ...) is folded
//    symbolically wherever the dims it reads are static, even when other
//    dims of the same tensor are dynamic. Exporters emit such chains for
//    every view(); the TorchScript exporter even derives the attention
//    scale from Shape(query), which fuse-attention needs as a constant.
#include <algorithm>
#include <set>

#include "graph/error.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "passes/rewrite.h"
#include "passes/symbolic_shapes.h"

namespace vdrt {
namespace {

bool is_random(const Node& n) {
  static const std::set<std::string> ops = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                            "RandomUniformLike", "Multinomial", "Bernoulli"};
  return n.domain().empty() && ops.count(n.op_type());
}

std::optional<Tensor> constant_op_value(const Node& n) {
  const AttributeMap& a = n.attrs();
  if (a.has("value")) return a.get_tensor("value");
  if (a.has("value_float")) return Tensor::scalar<float>(a.get_float("value_float"));
  if (a.has("value_int")) return Tensor::scalar<int64_t>(a.get_int("value_int"));
  if (a.has("value_floats")) {
    auto v = a.get_floats("value_floats");
    return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
  }
  if (a.has("value_ints")) {
    auto v = a.get_ints("value_ints");
    return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
  }
  return std::nullopt;
}

class FoldConstants final : public Pass {
 public:
  std::string name() const override { return "fold-constants"; }
  std::string description() const override {
    return "Evaluates nodes whose inputs are all constants (with the CPU kernels) and shape computations over "
           "static dims, replacing them by constants.";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {OptionSpec{"max_bytes", int64_t{16} << 20, "Largest folded result, in bytes; bigger results stay computed."}
                .at_least(0),
            {"fold_shapes", true, "Fold Shape/Gather/Slice/Concat chains whose dims are static."},
            OptionSpec{"max_sweeps", int64_t{8}, "Fold, re-infer shapes and fold again at most this many times."}
                .at_least(1)};
  }

  bool run(Graph& graph, PassContext& ctx) override {
    // A fold can make shapes downstream known (a Reshape target becomes a
    // constant), which lets Shape nodes further on fold: sweep until stable.
    bool changed = false;
    warned_ = false;
    for (int64_t i = 0; i < std::max<int64_t>(1, opt_int("max_sweeps")); ++i) {
      if (!sweep(graph, ctx)) break;
      changed = true;
      graph.sort();
      try_infer_shapes(graph);
    }
    return changed;
  }

 private:
  bool sweep(Graph& graph, PassContext& ctx) {
    const size_t max_bytes = static_cast<size_t>(std::max<int64_t>(0, opt_int("max_bytes")));
    std::vector<Node*> order;
    for (const auto& n : graph.nodes()) order.push_back(n.get());
    bool changed = false;
    bool& warned_no_evaluator = warned_;
    for (Node* n : order) {
      bool output_is_interface = false;
      for (Value* o : n->outputs())
        if (o && graph.is_graph_output(o)) output_is_interface = true;
      if (output_is_interface || is_random(*n) || n->outputs().empty()) continue;

      std::optional<std::vector<Tensor>> folded;
      if (all_inputs_constant(*n)) {
        folded = evaluate(graph, *n, ctx, max_bytes, warned_no_evaluator);
      } else if (opt_bool("fold_shapes")) {
        folded = fold_shape(*n);
      }
      if (!folded) continue;
      std::vector<Value*> outs = n->outputs();
      graph.remove_node(n);
      for (size_t i = 0; i < outs.size(); ++i)
        if (outs[i] && i < folded->size() && (*folded)[i].defined()) outs[i]->set_constant((*folded)[i]);
      ctx.count("folded");
      changed = true;
    }
    if (changed) remove_dead_nodes(graph);
    return changed;
  }

  static bool all_inputs_constant(const Node& n) {
    if (n.domain().empty() && n.op_type() == "Constant") return true;
    bool any = false;
    for (Value* v : n.inputs()) {
      if (!v) continue;
      if (!v->is_constant()) return false;
      any = true;
    }
    return any;
  }

  std::optional<std::vector<Tensor>> evaluate(Graph& graph, const Node& n, PassContext& ctx, size_t max_bytes,
                                              bool& warned) {
    if (n.domain().empty() && n.op_type() == "Constant") {
      auto t = constant_op_value(n);
      if (!t) return std::nullopt;
      return std::vector<Tensor>{*t};
    }
    if (!ctx.evaluator) {
      if (!warned) ctx.explain("no evaluator supplied: only shape computations are folded");
      warned = true;
      return std::nullopt;
    }
    // Skip before computing when inference already says the result is too big.
    for (Value* o : n.outputs())
      if (o && o->shape().fully_known() && o->dtype() != DType::Undefined &&
          static_cast<size_t>(*o->shape().numel()) * dtype_size(o->dtype()) > max_bytes) {
        ctx.explain(n, "result " + o->shape().str() + " exceeds max_bytes; left as a node");
        return std::nullopt;
      }
    std::vector<Tensor> inputs;
    for (Value* v : n.inputs()) inputs.push_back(v ? v->constant() : Tensor());
    std::vector<Tensor> outs;
    try {
      outs = ctx.evaluator(n, inputs, graph.opset(n.domain()));
    } catch (const Error& e) {
      ctx.explain(n, "cannot evaluate on constants: " + e.reason());
      return std::nullopt;
    }
    for (const Tensor& t : outs)
      if (t.defined() && t.nbytes() > max_bytes) {
        ctx.explain(n, "result " + dims_str(t.dims()) + " exceeds max_bytes; left as a node");
        return std::nullopt;
      }
    if (outs.size() < n.outputs().size()) return std::nullopt;
    return outs;
  }

  bool warned_ = false;

  static std::optional<std::vector<Tensor>> fold_shape(const Node& n) {
    static const std::set<std::string> ops = {"Shape", "Size",      "Gather",  "Slice",   "Concat",
                                              "Unsqueeze", "Squeeze", "Cast", "Identity"};
    if (!n.domain().empty() || !ops.count(n.op_type()) || n.outputs().size() != 1) return std::nullopt;
    Value* out = n.output(0);
    if (!out || !is_integer(out->dtype()) || !out->shape().rank_known() || out->shape().rank() > 1)
      return std::nullopt;
    auto dims = shape_tensor_dims(out);
    if (!dims) return std::nullopt;
    auto known = concrete_values(*dims);
    if (!known) return std::nullopt;
    const std::vector<int64_t>& values = *known;
    Tensor t;
    if (out->shape().rank() == 0) {
      if (values.size() != 1) return std::nullopt;
      t = Tensor::scalar<int64_t>(values[0]);
    } else if (values.empty()) {
      t = Tensor(DType::I64, {0});  // Shape of a scalar; from_vector would memcpy from nullptr
    } else {
      t = Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values);
    }
    if (out->dtype() != DType::I64) t = t.to(out->dtype());
    return std::vector<Tensor>{t};
  }
};

VDRT_REGISTER_PASS(FoldConstants);

}  // namespace
}  // namespace vdrt
