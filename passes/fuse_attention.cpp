// fuse-attention: recognises scaled-dot-product attention as each exporter
// writes it and rewrites it into one vdrt.Attention node in [B, S, H, D]
// layout whose optional past_key/past_value inputs are the KV cache.
//
//  * decomposed (TorchScript opset 17, dynamo opset 18):
//      MatMul(Q', K') -> [Mul/Div by scalar]* -> Softmax(last axis) -> MatMul(., V')
//    with Q' = [B,H,S,D] and K' = [B,H,D,S] reached through Transposes,
//    scalar multiplies (TorchScript splits the scale as sqrt(scale) on Q and
//    on K^T) and dynamo's Reshape/Transpose/Reshape swap of the last two axes;
//  * ONNX Attention (opset 23), 3-D or 4-D, with or without past inputs;
//  * com.microsoft MultiHeadAttention with separate Q, K, V.
// Packed QKV (one Linear whose output is cut into q, k and v by Split, as
// dynamo writes chunk(3), or by three Slices, as TorchScript does) needs
// nothing more: each operand is traced back to its piece of the Linear.
// When K and V are Concat(past, new) along the sequence with `past` a graph
// input (MODEL_CONTRACT.md's past_key.{i}), the concat is dropped and past
// and new go to the op separately; present outputs of the ONNX ops are
// rebuilt when used. Self- and cross-attention are told apart by whether Q
// and K come from the same activations (attention_trace.h).
//
// A decomposed attention may add one mask to the scaled scores, Add(scores,
// M) with M float, rank <= 4 and broadcasting into [B, H, S_q, S_kv]
// (TorchScript and dynamo write SDPA's attn_mask and is_causal that way;
// boolean masks arrive as Where(mask, 0, -inf), which stays in front of
// the fused op, and the Where(IsNaN(p), 0, p) after Softmax is absorbed):
// M becomes vdrt.Attention's mask input. A mask that is scaled with the
// scores, a second mask, or one that enlarges the scores is refused.
//
// ONNX Attention's attn_mask (bool or float, covering every key) and
// is_causal (a constant mask built here) need static sequence lengths.
//
// Every precondition is checked; attention that cannot be fused exactly
// (MS masks and unidirectional, softcap, extra outputs in use, unknown ranks,
// shared intermediates) is left alone and reported through explain.
#include <cmath>
#include <limits>
#include <set>

#include "passes/attention_trace.h"
#include "passes/pass_registry.h"
#include "passes/pattern.h"
#include "passes/rewrite.h"
#include "passes/symbolic_shapes.h"

namespace vdrt {
namespace {

Node* producer_op(const Value* v, const char* op) {
  Node* n = v ? v->producer() : nullptr;
  return n && n->domain().empty() && n->op_type() == op ? n : nullptr;
}

bool used(const Graph& g, const Value* v) { return v && (!v->consumers().empty() || g.is_graph_output(v)); }

std::optional<size_t> rank_of(const Value* v) {
  if (!v || !v->shape().rank_known()) return std::nullopt;
  return v->shape().rank();
}

// An operand as the fused op will take it.
struct Operand {
  Value* value = nullptr;
  std::vector<int64_t> perm;   // transpose to [B,S,H,D] first
  int64_t split_heads = 0;     // reshape [B,S,H*D] -> [B,S,H,D] first
  Dims dims;                   // [B,S,H,D] as far as known
};

Operand from_trace(const TracedOperand& t, Value* v) {
  Operand o;
  o.value = v;
  o.perm = t.perm_to_bshd();
  if (auto d = symbolic_dims(v); d && d->size() == 4) {
    o.dims.resize(4);
    for (size_t i = 0; i < 4; ++i) o.dims[t.layout[i]] = (*d)[i];
  }
  return o;
}

Operand from_3d(Value* v, int64_t heads) {
  Operand o;
  o.value = v;
  o.split_heads = heads;
  if (auto d = symbolic_dims(v); d && d->size() == 3) {
    Dim hd = (*d)[2];
    Dim head_dim = hd.known() && heads > 0 && hd.value() % heads == 0 ? Dim(hd.value() / heads) : Dim();
    o.dims = {(*d)[0], (*d)[1], Dim(heads), head_dim};
  }
  return o;
}

struct Plan {
  Operand q, k, v, past_k, past_v;  // past_*.value == nullptr: no cache
  Value* mask = nullptr;            // additive [B, H, S_q, S_kv] mask, as the scores see it
  bool mask_is_bool = false;        // `mask` is boolean (true attends): made additive when emitted
  int64_t causal_q = 0, causal_keys = 0, causal_offset = 0;  // causal_q > 0: a causal mask to build
  double scale = 0;
  std::string source;
  Node* anchor = nullptr;           // names the fused node
  // What the fused output must become: the original output value in
  // `out_layout` ("bhsd", or "bsx" for [B,S,H*D]).
  Value* out = nullptr;
  std::string out_layout;
  Value* present_k = nullptr;       // ONNX/MS present outputs, rebuilt when used
  Value* present_v = nullptr;
  std::vector<Node*> remove;        // nodes replaced outright (root first)
};

class FuseAttention final : public Pass {
 public:
  std::string name() const override { return "fuse-attention"; }
  std::string description() const override {
    return "Rewrites scaled-dot-product attention (decomposed MatMul/Softmax/MatMul from the TorchScript and "
           "dynamo exporters, ONNX Attention-23, com.microsoft MultiHeadAttention), including the Concat of past "
           "keys/values, into one vdrt.Attention node that takes the KV cache as separate inputs.";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {{"decomposed", true, "Fuse MatMul/Softmax/MatMul attention."},
            {"onnx_attention", true, "Fuse ONNX Attention (opset 23)."},
            {"ms_multihead", true, "Fuse com.microsoft MultiHeadAttention."},
            {"masks", true,
             "Fuse decomposed attention with an additive mask on the scores (float masks, and boolean masks "
             "through the exporters' Where(mask, 0, -inf)) into vdrt.Attention's mask input."},
            {"split_cache", true,
             "Take Concat(past, new) keys/values apart so the KV cache becomes separate inputs."}};
  }

  bool run(Graph& graph, PassContext& ctx) override {
    std::vector<Node*> order;
    for (const auto& n : graph.nodes()) order.push_back(n.get());
    std::set<Node*> gone;
    bool changed = false;
    for (Node* n : order) {
      if (gone.count(n)) continue;
      std::optional<Plan> plan;
      const std::string& op = n->op_type();
      if (n->domain().empty() && op == "Softmax" && opt_bool("decomposed")) plan = match_decomposed(graph, *n, ctx);
      else if (n->domain().empty() && op == "Attention" && opt_bool("onnx_attention")) plan = match_onnx(graph, *n, ctx);
      else if (n->domain() == kMicrosoftDomain && op == "MultiHeadAttention" && opt_bool("ms_multihead"))
        plan = match_ms(graph, *n, ctx);
      if (!plan) continue;
      for (Node* r : plan->remove) gone.insert(r);
      emit(graph, *plan, ctx, gone);
      changed = true;
    }
    if (changed) remove_dead_nodes(graph);
    return changed;
  }

 private:
  // ---- decomposed MatMul / Softmax / MatMul ------------------------------------------------
  std::optional<Plan> match_decomposed(Graph& graph, Node& softmax, PassContext& ctx) const {
    Value* scores = softmax.input(0);
    Value* probs = softmax.output(0);
    // Walk back from Softmax to the score MatMul: scalar scaling and at
    // most one additive mask (Add) after all scaling; anything else is a
    // transform vdrt.Attention lacks.
    std::vector<Node*> core = {&softmax};
    double score_scale = 1.0;
    Value* s = scores;
    Value* mask = nullptr;
    Node* qk = nullptr;
    for (int guard = 0; guard < 8 && s && s->producer(); ++guard) {
      Node* p = s->producer();
      if (!p->domain().empty()) return std::nullopt;
      if (p->op_type() == "MatMul") { qk = p; break; }
      if (p->op_type() == "Mul" || p->op_type() == "Div") {
        auto c1 = scalar_constant(p->input(1));
        auto c0 = p->op_type() == "Mul" ? scalar_constant(p->input(0)) : std::nullopt;
        if (c1 && *c1 != 0) { score_scale *= p->op_type() == "Div" ? 1.0 / *c1 : *c1; s = p->input(0); }
        else if (c0) { score_scale *= *c0; s = p->input(1); }
        else return attention_miss(ctx, softmax, p, "scores are scaled by a non-constant; not fused");
        core.push_back(p);
        continue;
      }
      if (p->op_type() == "Add" && reaches_matmul(s)) {  // scores + mask
        const bool left = reaches_matmul(p->input(0));
        if (left == reaches_matmul(p->input(1)))
          return attention_miss(ctx, softmax, p, "both operands of the mask Add come from a MatMul; not fused");
        if (!opt_bool("masks"))
          return attention_miss(ctx, softmax, p, "scores have a mask (Add) and the option masks is off; not fused");
        if (mask) return attention_miss(ctx, softmax, p, "scores have two masks added; not fused");
        if (score_scale != 1.0)
          return attention_miss(ctx, softmax, p, "the mask is scaled together with the scores; not fused");
        mask = p->input(left ? 1 : 0);
        std::string why;
        if (!mask_fits(*p, mask, &why)) return attention_miss(ctx, softmax, p, why + "; not fused");
        s = p->input(left ? 0 : 1);
        core.push_back(p);
        continue;
      }
      if (p->op_type() == "Add" || p->op_type() == "Where" || p->op_type() == "Sub") {
        if (reaches_matmul(s)) return attention_miss(ctx, softmax, p, "scores have a mask (" + p->op_type() +
                                                     ") that is not an additive Add; not fused");
        return std::nullopt;
      }
      return std::nullopt;
    }
    if (!qk) return std::nullopt;
    core.push_back(qk);

    auto miss = [&](const std::string& why) { return attention_miss(ctx, softmax, nullptr, why + "; not fused"); };
    auto r = rank_of(scores);
    if (!r) return miss("the rank of the attention scores is unknown");
    if (*r != 4) return miss("attention scores are rank " + std::to_string(*r) + ", not [B, H, S, S_kv]");
    int64_t opset = graph.opset("");
    int64_t axis = softmax.attrs().get_int("axis", opset >= 13 ? -1 : 1);
    if (axis != -1 && axis != 3) return miss("Softmax axis is " + std::to_string(axis) + ", not the last axis");
    // Masked exports zero the rows whose keys are all masked:
    // Where(IsNaN(p), 0, p). The fused kernel gives those rows zeros itself.
    if (Node* nan_guard = nan_to_zero(graph, probs)) {
      core.push_back(nan_guard->input(0)->producer());  // the IsNaN
      core.push_back(nan_guard);
      probs = nan_guard->output(0);
    }
    if (graph.is_graph_output(probs) || consumer_count(probs) != 1)
      return miss("the softmax output '" + probs->name() + "' is also used outside the attention");
    Node* pv = probs->consumers().front();
    if (!producer_op(pv->output(0), "MatMul") || pv->input(0) != probs || pv->input(1) == probs)
      return miss("the softmax output does not feed a MatMul as its left operand");
    core.insert(core.begin(), pv);
    for (Value* operand : {qk->input(0), qk->input(1), pv->input(1)}) {
      auto rk = rank_of(operand);
      if (!rk || *rk != 4) return miss("operand '" + operand->name() + "' is not known to be 4-D");
    }
    std::string why;
    if (!interior_is_private(graph, core, pv, &why)) return miss(why);

    TraceOptions scaled, plain;
    plain.through_scale = false;
    auto tq = trace_operand(graph, qk->input(0), kBHSD, scaled, &why);
    if (!tq) return miss("query " + why);
    auto tk = trace_operand(graph, qk->input(1), kBHDS, scaled, &why);
    if (!tk) return miss("key " + why);
    auto tv = trace_operand(graph, pv->input(1), kBHSD, plain, &why);
    if (!tv) return miss("value " + why);

    Plan plan;
    plan.source = "decomposed";
    plan.anchor = &softmax;
    plan.mask = mask;
    plan.scale = tq->scale * tk->scale * score_scale;
    plan.q = from_trace(*tq, tq->base);
    if (!take_kv(graph, *tk, *tv, plan, ctx, softmax)) return std::nullopt;
    plan.out = pv->output(0);
    plan.out_layout = "bhsd";
    plan.remove = core;
    if (!check_dims(plan, ctx, softmax)) return std::nullopt;
    return plan;
  }

  // Whether a MatMul lies within a few producers above v (any non-constant
  // input path): tells the scores from a mask at an Add.
  static bool reaches_matmul(Value* v, int depth = 8) {
    Node* p = v ? v->producer() : nullptr;
    if (!p || depth == 0) return false;
    if (p->op_type() == "MatMul") return true;
    for (Value* in : p->inputs())
      if (in && !in->is_constant() && reaches_matmul(in, depth - 1)) return true;
    return false;
  }

  // The Where(IsNaN(p), 0, p) that follows Softmax output p in masked
  // exports, when p feeds exactly that IsNaN and Where.
  static Node* nan_to_zero(const Graph& graph, Value* p) {
    if (graph.is_graph_output(p) || p->consumers().size() != 2) return nullptr;
    Node* isnan = nullptr;
    Node* where = nullptr;
    for (Node* c : p->consumers()) {
      if (!c->domain().empty()) return nullptr;
      if (c->op_type() == "IsNaN") isnan = c;
      else if (c->op_type() == "Where") where = c;
    }
    if (!isnan || !where || graph.is_graph_output(isnan->output(0)) || consumer_count(isnan->output(0)) != 1)
      return nullptr;
    auto zero = scalar_constant(where->input(1));
    if (where->input(0) != isnan->output(0) || !zero || *zero != 0.0 || where->input(2) != p) return nullptr;
    return where;
  }

  // The additive mask of a score Add: float like the scores, rank <= 4,
  // broadcast into the scores without enlarging them.
  static bool mask_fits(const Node& add, const Value* mask, std::string* why) {
    if (mask->dtype() != DType::Undefined && !is_float(mask->dtype())) {
      *why = "the mask '" + mask->name() + "' is not float";
      return false;
    }
    auto r = rank_of(mask);
    if (!r || *r < 1 || *r > 4) {
      *why = "the mask '" + mask->name() + "' has " + (r ? "rank " + std::to_string(*r) : "an unknown rank") +
             ", not 1 to 4";
      return false;
    }
    auto md = symbolic_dims(mask);
    auto sd = symbolic_dims(add.output(0));
    auto other = symbolic_dims(add.input(0) == mask ? add.input(1) : add.input(0));
    if (!md || !sd || !other || sd->size() != 4 || other->size() != 4) {
      *why = "the shapes of the mask '" + mask->name() + "' or of the scores are unknown";
      return false;
    }
    for (size_t i = 0; i < 4; ++i)
      if (!((*other)[i] == (*sd)[i])) {
        *why = "the mask '" + mask->name() + "' broadcasts the scores to a larger shape";
        return false;
      }
    for (size_t j = 0; j < md->size(); ++j) {
      const Dim& d = (*md)[md->size() - 1 - j];
      if (!(d.known() && d.value() == 1) && !(d == (*sd)[3 - j])) {
        *why = "the mask '" + mask->name() + "' does not broadcast to the scores";
        return false;
      }
    }
    return true;
  }

  // ---- ONNX Attention (opset 23) ---------------------------------------------------------
  std::optional<Plan> match_onnx(Graph& graph, Node& a, PassContext& ctx) const {
    auto miss = [&](const std::string& why) { return attention_miss(ctx, a, nullptr, why + "; not fused"); };
    const bool causal = a.attrs().get_int("is_causal", 0) != 0;
    if (a.attrs().get_float("softcap", 0.0f) != 0.0f) return miss("softcap is set");
    if ((a.input(3) || causal) && !opt_bool("masks"))
      return miss(std::string(causal ? "is_causal=1" : "it has an attn_mask") + " and the option masks is off");
    if (a.input(3) && causal) return miss("it has both an attn_mask and is_causal=1");
    if (a.inputs().size() > 6 && a.input(6)) return miss("it has nonpad_kv_seqlen");
    if (used(graph, a.output(3))) return miss("its qk_matmul_output is used");
    Plan plan;
    plan.source = "onnx-attention";
    plan.anchor = &a;
    int64_t qh = a.attrs().get_int("q_num_heads", 0), kvh = a.attrs().get_int("kv_num_heads", 0);
    TracedOperand tk, tv;
    double traced_scale = 1.0;
    std::string why;
    auto rq = rank_of(a.input(0)), rk = rank_of(a.input(1)), rv = rank_of(a.input(2));
    if (!rq || !rk || !rv) return miss("the rank of Q, K or V is unknown");
    if (*rq == 4 && *rk == 4 && *rv == 4) {
      auto q = trace_operand(graph, a.input(0), kBHSD, {}, &why);
      if (!q) return miss("query " + why);
      auto k = trace_operand(graph, a.input(1), kBHSD, {}, &why);
      if (!k) return miss("key " + why);
      TraceOptions plain;
      plain.through_scale = false;
      auto v = trace_operand(graph, a.input(2), kBHSD, plain, &why);
      if (!v) return miss("value " + why);
      plan.q = from_trace(*q, q->base);
      traced_scale = q->scale * k->scale;
      tk = *k;
      tv = *v;
    } else if (*rq == 3 && *rk == 3 && *rv == 3) {
      if (qh <= 0 || kvh <= 0) return miss("3-D inputs without q_num_heads / kv_num_heads");
      plan.q = from_3d(a.input(0), qh);
    } else {
      return miss("Q, K and V mix 3-D and 4-D inputs");
    }
    bool has_past = a.input(4) || a.input(5);
    if (has_past && !(a.input(4) && a.input(5))) return miss("only one of past_key / past_value is given");
    if (plan.q.split_heads) {
      plan.k = from_3d(a.input(1), kvh);
      plan.v = from_3d(a.input(2), kvh);
    } else if (!has_past) {
      if (!take_kv(graph, tk, tv, plan, ctx, a)) return std::nullopt;
    } else {
      plan.k = from_trace(tk, tk.base);
      plan.v = from_trace(tv, tv.base);
    }
    if (has_past) {
      TraceOptions plain;
      plain.through_scale = false;
      auto pk = trace_operand(graph, a.input(4), kBHSD, plain, &why);
      auto pv = trace_operand(graph, a.input(5), kBHSD, plain, &why);
      if (!pk || !pv) return miss("past " + why);
      plan.past_k = from_trace(*pk, pk->base);
      plan.past_v = from_trace(*pv, pv->base);
    }
    Dim d = plan.q.dims.size() == 4 ? plan.q.dims[3] : Dim();
    double scale = a.attrs().get_float("scale", 0.0f);
    if (scale == 0.0) {
      if (!d.known() || d.value() <= 0) return miss("no scale attribute and the head size is unknown");
      scale = 1.0 / std::sqrt(static_cast<double>(d.value()));
    }
    plan.scale = scale * traced_scale;
    plan.out = a.output(0);
    plan.out_layout = plan.q.split_heads ? "bsx" : "bhsd";
    plan.present_k = a.output(1);
    plan.present_v = a.output(2);
    plan.remove = {&a};
    if ((a.input(3) || causal) && !onnx_mask(a, causal, plan, &why)) return miss(why);
    if (!check_dims(plan, ctx, a)) return std::nullopt;
    return plan;
  }

  // ONNX Attention's attn_mask (bool: true attends; float: added) or
  // is_causal (query i sees keys j <= i + past length, as vdrt's ONNX
  // Attention kernel) as vdrt.Attention's additive mask. Needs static
  // sequence lengths, and a mask that covers every key (ONNX pads a shorter
  // one with -inf).
  static bool onnx_mask(const Node& a, bool causal, Plan& plan, std::string* why) {
    auto seq = [](const Dims& d) { return d.size() == 4 ? d[1] : Dim(); };
    const Dim sq = seq(plan.q.dims), skv = seq(plan.k.dims);
    const Dim t = plan.past_k.value ? seq(plan.past_k.dims) : Dim(0);
    const char* what = causal ? "is_causal=1" : "an attn_mask";
    if (!sq.known() || !skv.known() || !t.known()) {
      *why = std::string(what) + " with sequence lengths that are not static";
      return false;
    }
    const int64_t total = t.value() + skv.value();
    if (causal) {
      plan.causal_q = sq.value();
      plan.causal_keys = total;
      plan.causal_offset = t.value();
      return true;
    }
    Value* m = a.input(3);
    auto md = symbolic_dims(m);
    if (!md || md->empty() || md->size() > 4) {
      *why = "the attn_mask's rank is unknown or not 1 to 4";
      return false;
    }
    if (m->dtype() != DType::Bool && !is_float(m->dtype())) {
      *why = "the attn_mask is neither bool nor float";
      return false;
    }
    const Dim want[4] = {plan.q.dims[0], plan.q.dims[2], sq, Dim(total)};
    for (size_t j = 0; j < md->size(); ++j) {
      const Dim& d = (*md)[md->size() - 1 - j];
      const Dim& w = want[3 - j];
      const bool ok = j == 0 ? d.known() && d.value() == total
                             : (d.known() && d.value() == 1) || (d.known() && w.known() && d.value() == w.value());
      if (!ok) {
        *why = "the attn_mask " + Shape(*md).str() + " does not cover [B, H, " + std::to_string(sq.value()) + ", " +
               std::to_string(total) + "] exactly";
        return false;
      }
    }
    plan.mask = m;
    plan.mask_is_bool = m->dtype() == DType::Bool;
    return true;
  }

  // ---- com.microsoft MultiHeadAttention --------------------------------------------------
  std::optional<Plan> match_ms(Graph& graph, Node& m, PassContext& ctx) const {
    auto miss = [&](const std::string& why) { return attention_miss(ctx, m, nullptr, why + "; not fused"); };
    int64_t heads = m.attrs().get_int("num_heads", 0);
    if (heads <= 0) return miss("num_heads is missing");
    if (m.attrs().get_int("unidirectional", 0) != 0) return miss("unidirectional=1 (causal)");
    if (!m.input(1) || !m.input(2)) return miss("packed QKV / KV inputs are not supported");
    const char* extra[] = {nullptr, nullptr, nullptr, "bias", "key_padding_mask", "attention_bias", nullptr, nullptr,
                           "past_sequence_length", "cache_indirection"};
    for (size_t i = 3; i < m.inputs().size() && i < 10; ++i)
      if (extra[i] && m.input(i)) return miss(std::string("it has ") + extra[i]);
    if (used(graph, m.output(3))) return miss("its qk output is used");
    auto rq = rank_of(m.input(0)), rk = rank_of(m.input(1)), rv = rank_of(m.input(2));
    if (!rq || !rk || !rv) return miss("the rank of query, key or value is unknown");
    if (*rq != 3) return miss("query is not 3-D [B, S, hidden]");
    Plan plan;
    plan.source = "com.microsoft.MultiHeadAttention";
    plan.anchor = &m;
    plan.q = from_3d(m.input(0), heads);
    bool has_past = m.input(6) || m.input(7);
    if (has_past && !(m.input(6) && m.input(7))) return miss("only one of past_key / past_value is given");
    std::string why;
    TraceOptions plain;
    plain.through_scale = false;
    if (*rk == 3 && *rv == 3) {
      plan.k = from_3d(m.input(1), heads);
      plan.v = from_3d(m.input(2), heads);
    } else if (*rk == 4 && *rv == 4) {
      if (has_past) return miss("4-D key/value together with past inputs");
      auto k = trace_operand(graph, m.input(1), kBHSD, plain, &why);
      auto v = trace_operand(graph, m.input(2), kBHSD, plain, &why);
      if (!k || !v) return miss(why);
      if (!take_kv(graph, *k, *v, plan, ctx, m)) return std::nullopt;
    } else {
      return miss("key and value ranks are not both 3 or both 4");
    }
    if (has_past) {
      auto pk = trace_operand(graph, m.input(6), kBHSD, plain, &why);
      auto pv = trace_operand(graph, m.input(7), kBHSD, plain, &why);
      if (!pk || !pv) return miss("past " + why);
      plan.past_k = from_trace(*pk, pk->base);
      plan.past_v = from_trace(*pv, pv->base);
    }
    double scale = m.attrs().get_float("scale", 0.0f);
    if (scale == 0.0) {
      Dim d = plan.q.dims.size() == 4 ? plan.q.dims[3] : Dim();
      if (!d.known() || d.value() <= 0) return miss("no scale attribute and the head size is unknown");
      scale = 1.0 / std::sqrt(static_cast<double>(d.value()));
    }
    plan.scale = scale;
    plan.out = m.output(0);
    plan.out_layout = "bsx";
    plan.present_k = m.output(1);
    plan.present_v = m.output(2);
    plan.remove = {&m};
    if (!check_dims(plan, ctx, m)) return std::nullopt;
    return plan;
  }

  // ---- shared ----------------------------------------------------------------------------

  // K and V from their traces, split into past and new when both are
  // Concat(past_*, new) along S.
  bool take_kv(const Graph& graph, TracedOperand tk, TracedOperand tv, Plan& plan, PassContext& ctx,
               const Node& anchor) const {
    TracedOperand sk = tk, sv = tv;
    bool split_k = opt_bool("split_cache") && split_cache_concat(graph, sk);
    bool split_v = opt_bool("split_cache") && split_cache_concat(graph, sv);
    if (split_k && split_v) {
      plan.k = from_trace(sk, sk.fresh);
      plan.v = from_trace(sv, sv.fresh);
      plan.past_k = from_trace(sk, sk.past);
      plan.past_v = from_trace(sv, sv.past);
      return true;
    }
    if (split_k != split_v)
      ctx.explain(anchor, std::string("only the ") + (split_k ? "keys" : "values") +
                              " are a Concat with a past input; the cache is kept concatenated");
    plan.k = from_trace(tk, tk.base);
    plan.v = from_trace(tv, tv.base);
    return true;
  }

  bool check_dims(const Plan& p, PassContext& ctx, const Node& anchor) const {
    auto fail = [&](const std::string& why) {
      attention_miss(ctx, anchor, nullptr, why + "; not fused");
      return false;
    };
    if (!(p.scale > 0) || !std::isfinite(p.scale)) return fail("the scale " + std::to_string(p.scale) + " is not positive");
    auto known = [](const Dims& d, size_t i) { return d.size() == 4 && d[i].known(); };
    // vdrt.Attention needs num_heads; never emit one without it.
    if (!known(p.q.dims, 2)) return fail("the number of query heads is unknown");
    if (known(p.q.dims, 3) && known(p.k.dims, 3) && p.q.dims[3].value() != p.k.dims[3].value())
      return fail("query and key head sizes differ");
    if (known(p.q.dims, 2) && known(p.k.dims, 2) && p.k.dims[2].value() > 0 &&
        p.q.dims[2].value() % p.k.dims[2].value() != 0)
      return fail("query heads are not a multiple of key heads");
    if (known(p.k.dims, 2) && known(p.v.dims, 2) && p.k.dims[2].value() != p.v.dims[2].value())
      return fail("key and value head counts differ");
    // MatMul broadcasts a batch of 1; vdrt.Attention does not.
    for (const Operand* o : {&p.k, &p.v, &p.past_k, &p.past_v})
      if (o->value && known(p.q.dims, 0) && known(o->dims, 0) && p.q.dims[0].value() != o->dims[0].value())
        return fail("query and key/value batch sizes differ (broadcast batch)");
    if (p.q.value->dtype() != DType::Undefined && !is_float(p.q.value->dtype())) return fail("query is not float");
    return true;
  }

  static std::optional<Plan> attention_miss(PassContext& ctx, const Node& anchor, const Node* at,
                                            const std::string& why) {
    ctx.explain(anchor, "attention" + (at ? " (at " + node_label(*at) + ")" : std::string()) + ": " + why);
    return std::nullopt;
  }

  static std::string fused_name(const Node& anchor) {
    const std::string& n = anchor.name();
    auto slash = n.rfind('/');
    if (slash != std::string::npos && slash > 0) return n.substr(0, slash) + "/Attention";
    return n.empty() ? "Attention" : n + "_attention";
  }

  // Brings an operand to [B,S,H,D].
  static Value* materialize(Graph& graph, const Operand& o, const std::string& base) {
    Value* v = o.value;
    if (o.split_heads > 0) {
      Value* shape = add_int64s(graph, base + "_heads_shape", {0, 0, o.split_heads, -1});
      v = add_node_fresh(graph, "Reshape", {v, shape}, 1, base + "_bshd")->output(0);
    }
    if (!o.perm.empty()) {
      Node* t = add_node_fresh(graph, "Transpose", {v}, 1, base + "_bshd");
      t->attrs().set("perm", o.perm);
      infer_node_outputs(graph, *t);
      v = t->output(0);
    }
    return v;
  }

  // The plan's mask as vdrt.Attention takes it: float additive. A boolean
  // mask becomes Where(mask, 0, -inf) (a constant when it is one), a causal
  // plan a constant [S_q, keys] of 0 and -inf.
  static Value* additive_mask(Graph& graph, const Plan& p, const std::string& name) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    if (p.causal_q > 0) {
      Tensor t(DType::F32, {p.causal_q, p.causal_keys});
      for (int64_t i = 0; i < p.causal_q; ++i)
        for (int64_t j = 0; j < p.causal_keys; ++j)
          t.data<float>()[i * p.causal_keys + j] = j <= i + p.causal_offset ? 0.0f : -kInf;
      return add_constant_fresh(graph, name + "/causal_mask", std::move(t));
    }
    if (!p.mask || !p.mask_is_bool) return p.mask;
    if (p.mask->is_constant()) {
      const Tensor& b = p.mask->constant();
      Tensor t(DType::F32, b.dims());
      for (int64_t i = 0; i < b.numel(); ++i) t.data<float>()[i] = b.data<bool>()[i] ? 0.0f : -kInf;
      return add_constant_fresh(graph, name + "/mask", std::move(t));
    }
    Value* zero = add_constant_fresh(graph, name + "/mask_zero", Tensor::scalar<float>(0.0f));
    Value* ninf = add_constant_fresh(graph, name + "/mask_ninf", Tensor::scalar<float>(-kInf));
    Node* w = add_node_fresh(graph, "Where", {p.mask, zero, ninf}, 1, name + "/mask");
    infer_node_outputs(graph, *w);
    return w->output(0);
  }

  void emit(Graph& graph, Plan& p, PassContext& ctx, std::set<Node*>& gone) const {
    const std::string name = fused_name(*p.anchor);
    Value* key_source = p.k.value;
    bool self = same_source(graph, p.q.value, key_source, p.past_k.value);
    int64_t layer = -1;
    if (p.past_k.value) {
      int64_t lk = cache_layer_index(p.past_k.value->name()), lv = cache_layer_index(p.past_v.value->name());
      if (lk == lv) layer = lk;
      else ctx.explain(*p.anchor, "cache inputs '" + p.past_k.value->name() + "' and '" + p.past_v.value->name() +
                                      "' name different layers; kv_cache_layer left at -1");
    }
    ensure_opset(graph, kVdrtDomain, 1);

    // Remove what is replaced first: its outputs are re-produced below.
    for (Node* r : p.remove) graph.remove_node(r);
    std::vector<Value*> inputs = {materialize(graph, p.q, name + "/q"), materialize(graph, p.k, name + "/k"),
                                  materialize(graph, p.v, name + "/v")};
    if (p.past_k.value) {
      inputs.push_back(materialize(graph, p.past_k, name + "/past_key"));
      inputs.push_back(materialize(graph, p.past_v, name + "/past_value"));
    }
    if (Value* mask = additive_mask(graph, p, name)) {
      inputs.resize(5, nullptr);
      inputs.push_back(mask);
    }

    // Where the output goes: straight into the value a following
    // Transpose(0,2,1,3) produced, or through a Transpose/Reshape back to the
    // original output's layout.
    Node* fused = nullptr;
    Node* t = sole_consumer(graph, p.out);
    bool absorb = p.out_layout == "bhsd" && t && t->domain().empty() && t->op_type() == "Transpose" &&
                  t->attrs().get_ints("perm", {}) == std::vector<int64_t>{0, 2, 1, 3};
    if (absorb) {
      Value* y = t->output(0);
      gone.insert(t);
      graph.remove_node(t);
      fused = graph.add_node("Attention", inputs, {y}, name, kVdrtDomain);
    } else {
      Value* y = graph.value(graph.unique_name(name + "/Y"));
      fused = graph.add_node("Attention", inputs, {y}, name, kVdrtDomain);
      if (p.out_layout == "bhsd") {
        Node* back = graph.add_node("Transpose", {y}, {p.out}, name + "/to_bhsd");
        back->attrs().set("perm", std::vector<int64_t>{0, 2, 1, 3});
      } else {
        Value* shape = add_int64s(graph, name + "/merge_heads", {0, 0, -1});
        graph.add_node("Reshape", {y, shape}, {p.out}, name + "/merge_heads");
      }
    }
    AttributeMap& a = fused->attrs();
    a.set("scale", static_cast<float>(p.scale));
    Dim hq = p.q.dims.size() == 4 ? p.q.dims[2] : Dim(), hk = p.k.dims.size() == 4 ? p.k.dims[2] : Dim();
    if (hq.known()) a.set("num_heads", hq.value());
    if (hk.known()) a.set("kv_num_heads", hk.value());
    a.set("kv_cache_layer", layer);
    a.set("kind", std::string(self ? "self" : "cross"));
    a.set("source", p.source);
    infer_node_outputs(graph, *fused);
    for (Node* c : fused->output(0)->consumers()) infer_node_outputs(graph, *c);

    // ONNX Attention / MultiHeadAttention present outputs: [B,H,T+S,D].
    auto present = [&](Value* out, Value* past, Value* fresh) {
      if (!out || !used(graph, out)) return;
      Value* all = fresh;
      if (past) all = add_node_fresh(graph, "Concat", {past, fresh}, 1, name + "/present")->output(0);
      if (past) all->producer()->attrs().set("axis", int64_t{1});
      if (past) infer_node_outputs(graph, *all->producer());
      Node* tr = graph.add_node("Transpose", {all}, {out}, name + "/present_bhsd");
      tr->attrs().set("perm", std::vector<int64_t>{0, 2, 1, 3});
      infer_node_outputs(graph, *tr);
    };
    present(p.present_k, p.past_k.value ? inputs[3] : nullptr, inputs[1]);
    present(p.present_v, p.past_v.value ? inputs[4] : nullptr, inputs[2]);
    ctx.count(self ? "self-attention" : "cross-attention");
  }
};

VDRT_REGISTER_PASS(FuseAttention);

}  // namespace
}  // namespace vdrt
