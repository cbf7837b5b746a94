// quantize-fp8: stores the weights of linear layers as float8 e4m3 with one
// float32 scale per output channel (scale = absmax / 448) and runs them as
// vdrt.QMatMul, whose kernels decode the bytes in registers.
//
// Rewritten:
//  * MatMul(A, W) with W a constant f32 [K, N]; Gemm(A, W, C) with transA =
//    0, W constant (transB transposes it here, once), alpha folded into the
//    scales and beta * C into the bias when C is a constant of N (or 1)
//    values. A following Add of a constant [N] bias is fused too.
//  * MatMul/Gemm whose W is DequantizeLinear(codes, scale[, zero point]) of
//    a constant f8e4m3 weight, per output channel or per tensor, possibly
//    through a Transpose([1, 0]): the codes and scales are taken as they are
//    (the model was quantised by someone else; nothing is re-rounded).
// Not rewritten: Conv. In a Wan-style DiT the only Conv is the patch
// embedding (a few thousand weights, and excluded by the usual patterns
// anyway), and the VAE decoder's 3-D convolutions hold a small share of the
// weights but dominate its error: image-space outputs are far less tolerant
// of 3-bit mantissas than the residual stream. The bytes saved would not pay
// for a float8 im2col path.
//
// Scope: `scope = "all"` considers every MatMul/Gemm with a constant weight;
// `scope = "dit_linear"` only Light Forcing's W8A8 set, the linear layers of
// the transformer blocks, recognised by structure (DitLinearScope below):
//  * attention q/k/v: the projections feeding an attention core (vdrt.Attention,
//    vdrt.PBSAttention/HSAttention, ONNX Attention, or an unfused Softmax
//    between MatMul(Q, K^T) and MatMul(P, V)) through non-linear-layer ops
//    (Reshape, Transpose, the q/k norms, RoPE, the KV-cache Concat);
//  * attention o: the first projection fed by the attention's output;
//  * FFN: the projections on either side of a GELU (vdrt.Gelu, Gelu, or the
//    Tanh/Erf of an unfused one) that lies downstream of an attention, which
//    leaves out the text embedding's GELU MLP.
// Embeddings (patch, text, time), the time projection (modulation) and the
// head are not in the set. When a graph has no attention core (e.g. a
// subgraph), node names are the fallback: self_attn / cross_attn / attn
// projections named q, k, v, o and ffn layers.
//
// Layers stay in float32 when an `exclude` pattern matches the node's name
// or the name of its weight or bias (the dynamo exporter names nodes
// node_MatMul_15 but keeps 'head.head.bias'), when the weight is small
// (min_elements), or when it holds inf/NaN.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>

#include "graph/error.h"
#include "graph/ops/quantize_params.h"
#include "passes/name_glob.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "passes/rewrite.h"

namespace vdrt {
namespace {

// A weight ready for vdrt.QMatMul: e4m3 codes [K, N] and f32 scales [N].
struct QuantWeight {
  Tensor codes, scale;
  std::string source;  // name of the constant it came from, for exclude patterns
};

Tensor transpose2d(const Tensor& t) {
  const int64_t r = t.dims()[0], c = t.dims()[1];
  Tensor out(t.dtype(), {c, r});
  const size_t es = dtype_size(t.dtype());
  const auto* src = static_cast<const uint8_t*>(t.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) std::memcpy(dst + (j * r + i) * es, src + (i * c + j) * es, es);
  return out;
}

bool is_transpose_2d(const Node* n) {
  if (!n || !n->domain().empty() || n->op_type() != "Transpose") return false;
  const auto perm = n->attrs().get_ints("perm", {1, 0});
  return perm == std::vector<int64_t>{1, 0};
}

bool is_gelu_marker(const Node* n) {
  if (!n) return false;
  if (n->domain() == kVdrtDomain) return n->op_type() == "Gelu";
  return n->domain().empty() && (n->op_type() == "Gelu" || n->op_type() == "Tanh" || n->op_type() == "Erf");
}

bool is_attention_core(const Node* n) {
  if (!n) return false;
  if (n->domain() == kVdrtDomain)
    return n->op_type() == "Attention" || n->op_type() == "PBSAttention" || n->op_type() == "HSAttention";
  return n->domain().empty() && (n->op_type() == "Attention" || n->op_type() == "Softmax");
}

// A MatMul/Gemm (or an already rewritten vdrt.QMatMul) whose B is a weight:
// a constant, or a DequantizeLinear of one (possibly transposed).
bool is_linear_layer(const Node* n) {
  if (!n) return false;
  if (n->domain() == kVdrtDomain) return n->op_type() == "QMatMul";
  if (!n->domain().empty() || (n->op_type() != "MatMul" && n->op_type() != "Gemm")) return false;
  const Value* b = n->input(1);
  if (!b) return false;
  if (b->is_constant()) return true;
  const Node* p = b->producer();
  if (is_transpose_2d(p) && p->input(0)) p = p->input(0)->producer();
  return p && p->domain().empty() && p->op_type() == "DequantizeLinear" && p->input(0) && p->input(0)->is_constant();
}

// The linear layers of the DiT blocks (see the header comment).
class DitLinearScope {
 public:
  explicit DitLinearScope(const Graph& graph) {
    std::vector<const Node*> cores, gelus;
    for (const auto& n : graph.nodes()) {
      if (is_attention_core(n.get())) cores.push_back(n.get());
      if (is_gelu_marker(n.get())) gelus.push_back(n.get());
    }
    structural_ = !cores.empty();
    std::set<const Node*> downstream;  // everything an attention core feeds
    std::vector<const Node*> stack(cores.begin(), cores.end());
    while (!stack.empty()) {
      const Node* n = stack.back();
      stack.pop_back();
      for (const Value* out : n->outputs())
        if (out)
          for (const Node* c : out->consumers())
            if (downstream.insert(c).second) stack.push_back(c);
    }
    for (const Node* core : cores) {
      for (const Value* in : core->inputs()) backward(in);
      for (const Value* out : core->outputs()) forward(out, /*through_matmul=*/true);
    }
    for (const Node* g : gelus) {
      if (!downstream.count(g)) continue;  // e.g. the text embedding's MLP
      for (const Value* in : g->inputs()) backward(in);
      for (const Value* out : g->outputs()) forward(out, /*through_matmul=*/false);
    }
  }

  bool structural() const { return structural_; }
  bool contains(const Node* n) const { return layers_.count(n) > 0; }

 private:
  static constexpr int kMaxVisit = 256;  // per search: the paths are a few ops long

  // Up from `v` to the first linear layers; an activation x activation MatMul
  // (Q K^T of an unfused attention) is walked through, another core is not.
  void backward(const Value* v) {
    std::vector<const Value*> stack{v};
    std::set<const Node*> seen;
    while (!stack.empty() && static_cast<int>(seen.size()) < kMaxVisit) {
      const Value* x = stack.back();
      stack.pop_back();
      const Node* p = x ? x->producer() : nullptr;
      if (!p || !seen.insert(p).second) continue;
      if (is_linear_layer(p)) {
        layers_.insert(p);
        continue;
      }
      if (is_attention_core(p) || is_gelu_marker(p)) continue;
      for (const Value* in : p->inputs()) stack.push_back(in);
    }
  }

  // Down from `v` to the first linear layers. Through an activation x
  // activation MatMul (P V of an unfused attention) when `through_matmul`,
  // whose other operand (V) is then searched upwards.
  void forward(const Value* v, bool through_matmul) {
    std::vector<const Value*> stack{v};
    std::set<const Node*> seen;
    while (!stack.empty() && static_cast<int>(seen.size()) < kMaxVisit) {
      const Value* x = stack.back();
      stack.pop_back();
      if (!x) continue;
      for (const Node* c : x->consumers()) {
        if (!seen.insert(c).second) continue;
        if (is_linear_layer(c)) {
          if (c->input(0) == x) layers_.insert(c);
          continue;
        }
        if (is_attention_core(c) || is_gelu_marker(c)) continue;
        const bool matmul = c->domain().empty() && c->op_type() == "MatMul";
        if (matmul && !through_matmul) continue;
        if (matmul)
          for (const Value* in : c->inputs())
            if (in != x) backward(in);
        for (const Value* out : c->outputs()) stack.push_back(out);
      }
    }
  }

  bool structural_ = false;
  std::set<const Node*> layers_;
};

// The name fallback of scope dit_linear: the projections of an attention
// (q, k, v, o) and the FFN layers, as PyTorch module paths spell them.
bool dit_linear_by_name(const std::string& name) {
  static const std::vector<std::string> patterns = {"*self_attn*/q/*", "*self_attn*/k/*", "*self_attn*/v/*", "*self_attn*/o/*",
                                      "*cross_attn*/q/*", "*cross_attn*/k/*", "*cross_attn*/v/*", "*cross_attn*/o/*",
                                      "*self_attn.q.*", "*self_attn.k.*", "*self_attn.v.*", "*self_attn.o.*",
                                      "*cross_attn.q.*", "*cross_attn.k.*", "*cross_attn.v.*", "*cross_attn.o.*",
                                      "*ffn*"};
  return first_match(patterns, {name}) != nullptr;
}

class QuantizeFp8 final : public Pass {
 public:
  std::string name() const override { return "quantize-fp8"; }
  std::string description() const override {
    return "Stores MatMul/Gemm weights as float8 e4m3 with per-output-channel scales (absmax/448) and folds "
           "DequantizeLinear(float8 weight) -> MatMul, both into vdrt.QMatMul; optional per-token e4m3 "
           "activation quantisation.";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {{"exclude", StringList{},
             "Glob patterns (* and ?) of layers to keep in float32, matched against the node name and the names of "
             "its weight and bias, e.g. [\"*head*\", \"*patch_embedding*\"]."},
            OptionSpec{"scope", std::string("all"),
                       "\"all\": every MatMul/Gemm with a constant weight; \"dit_linear\" (Light Forcing's W8A8 set): "
                       "only the transformer blocks' self-/cross-attention q/k/v/o and FFN layers, found by structure "
                       "(embeddings, modulation and head stay float32)."}
                .one_of({"all", "dit_linear"}),
            OptionSpec{"act_quant", std::string("none"),
                       "\"none\", or \"per_token_e4m3\": quantise each activation row to e4m3 at run time (scale "
                       "absmax/448)."}
                .one_of({"none", "per_token_e4m3"}),
            {"float_weights", true, "Quantise float32 weights; false only folds weights that are float8 already (QDQ)."},
            {"fold_qdq", true, "Fold DequantizeLinear(float8e4m3 weight) -> MatMul/Gemm."},
            {"fuse_bias", true, "Fuse a following Add of a constant [N] bias into the op."},
            OptionSpec{"min_elements", int64_t{0}, "Leave weights with fewer elements than this in float32."}
                .at_least(0)};
  }

  bool run(Graph& graph, PassContext& ctx) override {
    const std::string act = opt_string("act_quant");
    VDRT_CHECK(act == "none" || act == "per_token_e4m3",
               "quantize-fp8: act_quant must be \"none\" or \"per_token_e4m3\", got \"" + act + "\"");
    const std::string scope = opt_string("scope");
    VDRT_CHECK(scope == "all" || scope == "dit_linear",
               "quantize-fp8: scope must be \"all\" or \"dit_linear\", got \"" + scope + "\"");
    try_infer_shapes(graph);
    std::optional<DitLinearScope> dit;
    if (scope == "dit_linear") dit.emplace(graph);
    std::vector<Node*> candidates;
    for (const auto& n : graph.nodes())
      if (n->domain().empty() && (n->op_type() == "MatMul" || n->op_type() == "Gemm")) candidates.push_back(n.get());
    bool changed = false;
    for (Node* n : candidates) {
      if (dit) {
        const bool in = dit->structural() ? dit->contains(n)
                                          : dit_linear_by_name(n->name()) ||
                                                (n->input(1) && dit_linear_by_name(n->input(1)->name()));
        if (!in) {
          if (is_linear_layer(n)) ctx.explain(*n, "outside scope dit_linear (not a block's attention or FFN layer)");
          continue;
        }
      }
      if (rewrite(graph, *n, ctx, act)) changed = true;
    }
    if (changed) {
      ensure_opset(graph, kVdrtDomain, 1);
      remove_dead_nodes(graph);
    }
    return changed;
  }

 private:
  bool rewrite(Graph& graph, Node& mm, PassContext& ctx, const std::string& act) {
    const bool gemm = mm.op_type() == "Gemm";
    Value* a = mm.input(0);
    Value* b = mm.input(1);
    if (!a || !b || !mm.output(0)) return false;
    if (a->dtype() != DType::F32) {
      if (a->dtype() != DType::Undefined) ctx.explain(mm, std::string("A is ") + dtype_name(a->dtype()) + ", not f32");
      return false;
    }
    float alpha = 1.0f;
    bool trans_b = false;
    if (gemm) {
      if (mm.attrs().get_int("transA", 0) != 0) return explain(ctx, mm, "transA = 1 is not supported");
      alpha = mm.attrs().get_float("alpha", 1.0f);
      trans_b = mm.attrs().get_int("transB", 0) != 0;
    }
    std::string why;
    std::optional<QuantWeight> w = weight(b, trans_b, why);
    if (!w) {
      if (!why.empty()) ctx.explain(mm, why);
      return false;
    }
    const int64_t K = w->codes.dims()[0], N = w->codes.dims()[1];
    if (K * N < opt_int("min_elements"))
      return explain(ctx, mm, "weight has " + std::to_string(K * N) + " elements, fewer than min_elements");

    // Bias: Gemm's C, or a following Add of a constant [N].
    std::optional<Tensor> bias;
    Value* bias_value = nullptr;  // an existing f32 [N] constant to read as is
    std::string bias_name;
    Node* last = &mm;
    if (gemm && mm.input(2) && mm.attrs().get_float("beta", 1.0f) != 0.0f) {
      Value* c = mm.input(2);
      auto t = bias_vector(c, N);
      if (!t) return explain(ctx, mm, "C is not a constant of N or 1 values (per-row C is not supported)");
      const float beta = mm.attrs().get_float("beta", 1.0f);
      for (int64_t j = 0; j < N; ++j) t->data<float>()[j] *= beta;
      bias = t;
      bias_name = c->name();
    } else if (opt_bool("fuse_bias")) {
      Node* add = sole_consumer(graph, mm.output(0));
      if (add && add->domain().empty() && add->op_type() == "Add" && add->inputs().size() == 2) {
        Value* other = add->input(0) == mm.output(0) ? add->input(1) : add->input(0);
        const bool vector_shaped = other && other->is_constant() && other->constant().dims().size() == 1;
        if (auto t = vector_shaped ? bias_vector(other, N) : std::nullopt; t && other->constant().numel() == N) {
          bias = t;
          bias_name = other->name();
          if (other->constant().dtype() == DType::F32) bias_value = other;
          last = add;
        }
      }
    }
    if (const std::string* pat = first_match(opt_strings("exclude"), {mm.name(), w->source, bias_name}))
      return explain(ctx, mm, "excluded by pattern \"" + *pat + "\"");

    for (int64_t j = 0; j < N; ++j) w->scale.data<float>()[j] *= alpha;
    std::vector<Value*> inputs = {a, add_constant_fresh(graph, w->source + "_e4m3", w->codes),
                                  add_constant_fresh(graph, w->source + "_scale", w->scale)};
    if (bias_value) inputs.push_back(bias_value);
    else if (bias) inputs.push_back(add_constant_fresh(graph, bias_name.empty() ? w->source + "_bias" : bias_name, *bias));
    const std::string layer = mm.name();
    Node* q = replace_producer(graph, last, "QMatMul", inputs, kVdrtDomain);
    if (last != &mm) graph.remove_node(&mm);  // its output fed only the fused Add
    q->set_name(layer);
    q->attrs().set("act_quant", act);
    ctx.count("quantized");
    return true;
  }

  static bool explain(PassContext& ctx, const Node& n, const std::string& why) {
    ctx.explain(n, why);
    return false;
  }

  // `v` as an f32 [N] bias: a constant holding N values (any shape with
  // N elements in its last dim only) or one value repeated.
  static std::optional<Tensor> bias_vector(const Value* v, int64_t n) {
    if (!v->is_constant()) return std::nullopt;
    const Tensor& t = v->constant();
    if (!is_float(t.dtype())) return std::nullopt;
    const auto& d = t.dims();
    const bool row = t.numel() == n && (d.empty() || d.back() == n);
    if (!row && t.numel() != 1) return std::nullopt;
    std::vector<double> vals = t.as_double();
    std::vector<float> out(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) out[j] = static_cast<float>(vals[row ? j : 0]);
    return Tensor::from_vector<float>({n}, out);
  }

  // The weight as [K, N] codes and scales, from a float constant (quantised
  // here) or a DequantizeLinear of float8 codes; empty with `why` set (or
  // not, when the input is simply not a weight) otherwise.
  std::optional<QuantWeight> weight(Value* b, bool trans_b, std::string& why) const {
    bool transpose = trans_b;
    Node* p = b->producer();
    if (is_transpose_2d(p) && p->input(0) && p->input(0)->producer() &&
        p->input(0)->producer()->op_type() == "DequantizeLinear") {
      transpose = !transpose;
      p = p->input(0)->producer();
    }
    if (p && p->domain().empty() && p->op_type() == "DequantizeLinear") {
      if (!opt_bool("fold_qdq")) return std::nullopt;
      return dequantized_weight(*p, transpose, why);
    }
    if (!b->is_constant()) return std::nullopt;  // activation x activation (attention): not a weight
    const Tensor& t = b->constant();
    if (t.dtype() != DType::F32 || t.dims().size() != 2) {
      why = "weight is " + std::string(dtype_name(t.dtype())) + " " + dims_str(t.dims()) + ", not a 2-D f32 matrix";
      return std::nullopt;
    }
    if (!opt_bool("float_weights")) return std::nullopt;
    return quantize(transpose ? transpose2d(t) : t, b->name(), why);
  }

  // Per-output-channel absmax scaling and round-to-nearest-even e4m3 codes.
  static std::optional<QuantWeight> quantize(const Tensor& w, const std::string& source, std::string& why) {
    const int64_t K = w.dims()[0], N = w.dims()[1];
    const float* pw = w.data<float>();
    QuantWeight q{Tensor(DType::F8E4M3, {K, N}), Tensor(DType::F32, {N}), source};
    std::vector<float> absmax(static_cast<size_t>(N), 0.0f);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) {
        const float v = pw[k * N + j];
        if (!std::isfinite(v)) {
          why = "weight holds inf or NaN";
          return std::nullopt;
        }
        absmax[j] = std::max(absmax[j], std::fabs(v));
      }
    float* scale = q.scale.data<float>();
    for (int64_t j = 0; j < N; ++j) scale[j] = absmax[j] > 0.0f ? absmax[j] / kF8E4M3Max : 1.0f;
    auto* codes = static_cast<uint8_t*>(q.codes.raw());
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) codes[k * N + j] = float_to_f8e4m3(pw[k * N + j] / scale[j], true);
    return q;
  }

  static std::optional<QuantWeight> dequantized_weight(const Node& dq, bool transpose, std::string& why) {
    const Value* x = dq.input(0);
    const Value* s = dq.input(1);
    const Value* zp = dq.input(2);
    if (!x || !s || !x->is_constant() || !s->is_constant()) {
      why = "DequantizeLinear weight or scale is not a constant";
      return std::nullopt;
    }
    const Tensor& codes = x->constant();
    if (codes.dtype() != DType::F8E4M3 || codes.dims().size() != 2) {
      why = "DequantizeLinear weight is " + std::string(dtype_name(codes.dtype())) + " " + dims_str(codes.dims()) +
            "; only 2-D f8e4m3 weights fold into vdrt.QMatMul";
      return std::nullopt;
    }
    if (zp && (!zp->is_constant() || std::any_of(static_cast<const uint8_t*>(zp->constant().raw()),
                                                  static_cast<const uint8_t*>(zp->constant().raw()) + zp->constant().numel(),
                                                  [](uint8_t c) { return (c & 0x7f) != 0; }))) {
      why = "DequantizeLinear has a non-zero float8 zero point";
      return std::nullopt;
    }
    if (dq.attrs().get_int("block_size", 0) != 0) {
      why = "blocked DequantizeLinear scales do not fold (one scale per output channel only)";
      return std::nullopt;
    }
    const auto* c = static_cast<const uint8_t*>(codes.raw());
    if (std::any_of(c, c + codes.numel(), [](uint8_t v) { return (v & 0x7f) == 0x7f; })) {
      why = "DequantizeLinear weight holds NaN codes";
      return std::nullopt;
    }
    // The output channel is dim 1 of the weight as MatMul reads it, i.e.
    // dim 0 of the stored codes when they are transposed on the way.
    const Tensor& st = s->constant();
    const int64_t out_axis = transpose ? 0 : 1;
    const int64_t n = codes.dims()[out_axis];
    std::vector<double> sv = st.as_double();
    QuantLayout layout;
    try {
      layout = quant_layout(codes.dims(), st.dims(), dq.attrs(), "DequantizeLinear");
    } catch (const Error& e) {
      why = e.reason();
      return std::nullopt;
    }
    const int64_t axis = layout.kind == QuantLayout::Kind::PerAxis ? normalize_axis(dq.attrs().get_int("axis", 1), 2) : -1;
    if (layout.kind == QuantLayout::Kind::PerAxis && axis != out_axis) {
      why = "DequantizeLinear scales run along the input channels (axis " + std::to_string(axis) +
            "); vdrt.QMatMul has one scale per output channel";
      return std::nullopt;
    }
    QuantWeight q{transpose ? transpose2d(codes) : codes, Tensor(DType::F32, {n}), x->name()};
    for (int64_t j = 0; j < n; ++j) q.scale.data<float>()[j] = static_cast<float>(sv[layout.kind == QuantLayout::Kind::PerAxis ? j : 0]);
    return q;
  }
};

VDRT_REGISTER_PASS(QuantizeFp8);

}  // namespace
}  // namespace vdrt
