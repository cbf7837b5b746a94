// fuse-norms: puts back LayerNorm and RMSNorm that exporters spelled out
// elementwise (TorchScript and dynamo write Wan's RMSNorm as
// x * 1/sqrt(mean(x^2) + eps) * w) into single normalization nodes:
//
//   RMSNorm:   x * rsqrt(ReduceMean(x^2, last axis) + eps) [* w]
//   LayerNorm: d * rsqrt(ReduceMean(d^2, last axis) + eps) [* g] [+ b],  d = x - ReduceMean(x, last axis)
//
// Products and sums are flattened (passes/algebra.h), so the order and
// grouping of the factors, Div vs Mul by a reciprocal, x*x vs Pow(x, 2)
// do not matter. The result is ONNX RMSNormalization (opset >= 23) or
// LayerNormalization (>= 17), or vdrt.RMSNormalization /
// vdrt.LayerNormalization with the same semantics in older models, whose
// declared opset must not change.
#include <algorithm>
#include <cmath>
#include <set>

#include "passes/algebra.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"
#include "passes/rewrite.h"

namespace vdrt {
namespace {

Node* producer_op(const Value* v, const char* op) {
  Node* n = v ? v->producer() : nullptr;
  return n && n->domain().empty() && n->op_type() == op ? n : nullptr;
}

// x when v is x*x or Pow(x, 2).
Value* squared_base(const Value* v, Node** node) {
  if (Node* p = producer_op(v, "Pow")) {
    auto e = scalar_constant(p->input(1));
    if (e && *e == 2.0) { *node = p; return p->input(0); }
  }
  if (Node* m = producer_op(v, "Mul")) {
    if (m->input(0) && m->input(0) == m->input(1)) { *node = m; return m->input(0); }
  }
  return nullptr;
}

// The axes a ReduceMean reduces, from its attribute (opset < 18) or input.
std::optional<std::vector<int64_t>> reduce_axes(const Node& n) {
  if (n.attrs().has("axes")) return n.attrs().get_ints("axes");
  if (n.input(1)) return int_constant(n.input(1));
  return std::nullopt;  // reduce over all axes
}

struct NormMatch {
  bool layer_norm = false;
  Value* x = nullptr;
  double epsilon = 0;
  Value* scale = nullptr;  // constant or nullptr
  Value* bias = nullptr;   // constant or nullptr (LayerNorm only)
  double coefficient = 1;
  std::vector<Node*> nodes;  // everything the rewrite replaces, root first
};

class FuseNorms final : public Pass {
 public:
  std::string name() const override { return "fuse-norms"; }
  std::string description() const override {
    return "Rewrites LayerNorm and RMSNorm that exporters decomposed (ReduceMean, Pow, Sqrt, Div...) into one "
           "LayerNormalization / RMSNormalization node (vdrt-domain twins below opset 17 / 23).";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {{"layer_norm", true, "Fuse decomposed LayerNorm."},
            {"rms_norm", true, "Fuse decomposed RMSNorm."},
            {"onnx_ops", true,
             "Emit ONNX ops when the model's opset has them; false always emits the vdrt-domain twins."}};
  }

  bool run(Graph& graph, PassContext& ctx) override {
    reported_.clear();
    // Outermost first: the root that also takes the weight and bias in
    // wins over the bare normalization inside it.
    return rewrite_sweep(graph, true, [&](Node& n, const std::set<Node*>&) -> std::optional<std::vector<Node*>> {
      if (!n.domain().empty() || n.outputs().size() != 1) return std::nullopt;
      const std::string& op = n.op_type();
      if (op != "Mul" && op != "Div" && op != "Add") return std::nullopt;
      auto m = match_norm(graph, n.output(0), ctx);
      if (!m) return std::nullopt;
      rewrite(graph, *m, ctx);
      return m->nodes;
    });
  }

 private:
  std::optional<NormMatch> match_norm(const Graph& graph, Value* root, PassContext& ctx) const {
    NormMatch m;
    Value* core = root;
    Node* root_node = root->producer();
    // A trailing "+ bias" with a constant bias (LayerNorm's beta).
    if (root_node->op_type() == "Add") {
      Value* a = root_node->input(0);
      Value* b = root_node->input(1);
      if (a && a->is_constant()) std::swap(a, b);
      if (!a || !b || !b->is_constant() || a->is_constant()) return std::nullopt;
      if (!sole_consumer(graph, a)) return std::nullopt;
      m.bias = b;
      core = a;
      m.nodes.push_back(root_node);
    }
    Product p = flatten_product(graph, core);
    m.nodes.insert(m.nodes.end(), p.nodes.begin(), p.nodes.end());
    // The reciprocal square root: Sqrt(s)^-1, Pow(s, -0.5), or (when shared
    // with other uses, so not expanded) Div(1, Sqrt(s)) / Reciprocal(Sqrt(s)),
    // which the privacy check below then reports.
    Value* radicand = nullptr;
    size_t rsqrt_at = p.factors.size();
    for (size_t i = 0; i < p.factors.size() && !radicand; ++i) {
      const Factor& f = p.factors[i];
      Node* s = producer_op(f.value, "Sqrt");
      Node* pw = producer_op(f.value, "Pow");
      Node* div = producer_op(f.value, "Div");
      Node* rec = producer_op(f.value, "Reciprocal");
      auto e = pw ? scalar_constant(pw->input(1)) : std::nullopt;
      auto one = div ? scalar_constant(div->input(0)) : std::nullopt;
      if (s && f.power == -1) {
        radicand = s->input(0);
        m.nodes.push_back(s);
      } else if (pw && f.power == 1 && e && *e == -0.5) {
        radicand = pw->input(0);
        m.nodes.push_back(pw);
      } else if (f.power == 1 && ((div && one && *one == 1.0) || rec)) {
        Node* outer = div ? div : rec;
        Node* sq = producer_op(outer->input(div ? 1 : 0), "Sqrt");
        if (!sq) continue;
        radicand = sq->input(0);
        m.nodes.push_back(outer);
        m.nodes.push_back(sq);
      }
      if (radicand) rsqrt_at = i;
    }
    if (!radicand) return std::nullopt;
    Sum s = flatten_sum(graph, radicand);
    m.nodes.insert(m.nodes.end(), s.nodes.begin(), s.nodes.end());
    if (s.terms.size() != 1 || s.terms[0].sign != 1) return std::nullopt;
    Node* mean = producer_op(s.terms[0].value, "ReduceMean");
    if (!mean) return std::nullopt;
    Node* square = nullptr;
    Value* centered = squared_base(mean->input(0), &square);
    if (!centered) return std::nullopt;
    m.nodes.push_back(mean);
    m.nodes.push_back(square);

    // The numerator: x (RMSNorm) or d = x - mean(x) (LayerNorm), which the
    // variance squares too. Without it this root is only the rsqrt part of
    // a norm whose product is rooted further down.
    size_t numerator_at = p.factors.size();
    for (size_t i = 0; i < p.factors.size(); ++i)
      if (i != rsqrt_at && p.factors[i].value == centered && p.factors[i].power == 1) numerator_at = i;
    if (numerator_at == p.factors.size()) return std::nullopt;

    // From here on the shape is unmistakably a norm: failures are near-misses
    // worth reporting, once per norm (inner roots of the same norm fail alike).
    Node* report = root_node;
    auto miss = [&](const std::string& why) -> std::optional<NormMatch> {
      if (reported_.insert(mean).second) ctx.explain(*report, "looks like a decomposed norm but " + why + "; not fused");
      return std::nullopt;
    };
    if (s.constant < 0 || !std::isfinite(s.constant)) return miss("epsilon is not a non-negative constant");
    m.epsilon = s.constant;
    Node* sub = producer_op(centered, "Sub");
    Node* mean_x = sub ? producer_op(sub->input(1), "ReduceMean") : nullptr;
    if (sub && mean_x && mean_x->input(0) == sub->input(0)) {
      m.layer_norm = true;
      m.x = sub->input(0);
      m.nodes.push_back(sub);
      m.nodes.push_back(mean_x);
      if (!last_axis_only(*mean_x, m.x)) return miss("the mean is not over the last axis only");
      if (!opt_bool("layer_norm")) return std::nullopt;
    } else {
      m.x = centered;
      if (m.bias) return std::nullopt;  // RMSNorm has no bias; an Add after it is the model's business
      if (!opt_bool("rms_norm")) return std::nullopt;
    }
    if (!last_axis_only(*mean, m.x)) return miss("ReduceMean is not over the last axis only");
    if (mean->attrs().get_int("keepdims", 1) != 1) return miss("ReduceMean drops the reduced axis (keepdims=0)");

    // Remaining factors: at most one constant weight shaped like the last axis.
    for (size_t i = 0; i < p.factors.size(); ++i) {
      if (i == rsqrt_at || i == numerator_at) continue;
      const Factor& f = p.factors[i];
      // A non-constant factor (adaLN's 1 + scale) is the model's own math
      // around the norm: the inner product is tried as a root on its own.
      if (f.power != 1 || !f.value->is_constant()) return std::nullopt;
      if (m.scale) return miss("it is multiplied by two constants, '" + m.scale->name() + "' and '" +
                               f.value->name() + "'");
      m.scale = f.value;
    }
    m.coefficient = p.coefficient;
    auto d = last_dim(m.x);
    if (!d) return miss("the size of the normalized (last) axis is unknown");
    for (Value* w : {m.scale, m.bias})
      if (w && !is_last_axis_vector(w->constant(), *d))
        return miss("'" + w->name() + "' " + dims_str(w->constant().dims()) + " is not a vector over the last axis");
    if (!is_float(m.x->dtype())) return miss("the input is not a float tensor");

    std::string why;
    if (!interior_is_private(graph, m.nodes, root_node, &why)) return miss(why);
    return m;
  }

  static std::optional<int64_t> last_dim(const Value* x) {
    const Shape& s = x->shape();
    if (!s.rank_known() || s.rank() == 0 || !s[s.rank() - 1].known()) return std::nullopt;
    return s[s.rank() - 1].value();
  }

  static bool last_axis_only(const Node& mean, const Value* x) {
    auto axes = reduce_axes(mean);
    if (!axes || axes->size() != 1) return false;
    int64_t a = (*axes)[0];
    if (a == -1) return true;
    return x->shape().rank_known() && a == static_cast<int64_t>(x->shape().rank()) - 1;
  }

  static bool is_last_axis_vector(const Tensor& t, int64_t d) {
    if (t.dims().empty() || t.dims().back() != d) return false;
    return std::all_of(t.dims().begin(), t.dims().end() - 1, [](int64_t x) { return x == 1; });
  }

  mutable std::set<const Node*> reported_;

  void rewrite(Graph& graph, const NormMatch& m, PassContext& ctx) const {
    int64_t d = *last_dim(m.x);
    DType dt = m.x->dtype();
    // The weight as a [D] vector with any stray scalar coefficient folded in.
    Tensor scale;
    if (m.scale) scale = m.scale->constant().to(DType::F32).reshaped({d}).clone();
    else scale = Tensor::from_vector<float>({d}, std::vector<float>(static_cast<size_t>(d), 1.0f));
    if (m.coefficient != 1.0)
      for (int64_t i = 0; i < d; ++i) scale.data<float>()[i] *= static_cast<float>(m.coefficient);
    if (dt != DType::F32) scale = scale.to(dt);
    Value* scale_v = (m.scale && m.coefficient == 1.0 && m.scale->constant().dims().size() == 1 &&
                      m.scale->dtype() == dt)
                         ? m.scale
                         : add_constant_fresh(graph, m.x->name() + "_norm_scale", scale);

    const bool onnx_ok = opt_bool("onnx_ops");
    std::string op = m.layer_norm ? "LayerNormalization" : "RMSNormalization";
    int64_t needs = m.layer_norm ? 17 : 23;
    std::string domain = onnx_ok && graph.opset("") >= needs ? "" : kVdrtDomain;
    if (domain == kVdrtDomain) ensure_opset(graph, kVdrtDomain, 1);
    std::vector<Value*> inputs = {m.x, scale_v};
    if (m.layer_norm && m.bias) {
      Value* b = m.bias;
      if (b->constant().dims().size() != 1 || b->dtype() != dt)
        b = add_constant_fresh(graph, m.x->name() + "_norm_bias", b->constant().to(dt).reshaped({d}));
      inputs.push_back(b);
    }
    Node* root = m.nodes.front();
    std::string name = root->name();
    Node* n = replace_producer(graph, root, op, inputs, domain);
    n->set_name(name.empty() ? graph.unique_name(op) : name + "_fused");
    n->attrs().set("axis", int64_t{-1});
    n->attrs().set("epsilon", static_cast<float>(m.epsilon));
    infer_node_outputs(graph, *n);
    ctx.count(m.layer_norm ? "layer norms" : "rms norms");
  }
};

VDRT_REGISTER_PASS(FuseNorms);

}  // namespace
}  // namespace vdrt
