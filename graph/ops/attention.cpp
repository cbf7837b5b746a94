// Shape functions of ONNX Attention (opsets 23-25) and com.microsoft
// MultiHeadAttention.
#include <string>

#include "graph/op_registry.h"

namespace vdrt {
namespace {

// [B, H, S, D] of a 3-D [B, S, H*D] (heads from an attribute) or 4-D operand.
std::vector<Dim> bhsd(InferContext& ctx, const Shape& s, int64_t heads, const char* what) {
  if (!s.rank_known()) return {Dim(), Dim(), Dim(), Dim()};
  if (s.rank() == 3) {
    if (heads <= 0) ctx.fail(std::string("3-D ") + what + " needs the q_num_heads/kv_num_heads attributes");
    const Dim& hidden = s[2];
    if (hidden.known() && hidden.value() % heads != 0)
      ctx.fail(std::string(what) + " hidden size " + hidden.str() + " is not divisible by " + std::to_string(heads) + " heads");
    return {s[0], Dim(heads), s[1], hidden.known() ? Dim(hidden.value() / heads) : Dim()};
  }
  if (s.rank() != 4) ctx.fail(std::string(what) + " must be 3-D or 4-D, got shape " + s.str());
  return s.dims();
}

bool conflict(const Dim& a, const Dim& b) { return a.known() && b.known() && a.value() != b.value(); }

void infer_attention(InferContext& ctx) {
  const ValueInfo &q = ctx.input(0), &k = ctx.input(1), &v = ctx.input(2);
  const int64_t qh = ctx.attrs().get_int("q_num_heads", 0), kvh = ctx.attrs().get_int("kv_num_heads", 0);
  if (q.shape.rank_known() && k.shape.rank_known() && v.shape.rank_known() &&
      (q.shape.rank() != k.shape.rank() || q.shape.rank() != v.shape.rank()))
    ctx.fail("Q, K and V must have the same rank");
  const auto qd = bhsd(ctx, q.shape, qh, "Q"), kd = bhsd(ctx, k.shape, kvh, "K"), vd = bhsd(ctx, v.shape, kvh, "V");
  if (conflict(qd[3], kd[3])) ctx.fail("Q and K head sizes differ: " + q.shape.str() + " vs " + k.shape.str());
  if (conflict(kd[2], vd[2])) ctx.fail("K and V sequence lengths differ");
  if (conflict(kd[1], vd[1])) ctx.fail("K and V head counts differ");
  if (qd[1].known() && kd[1].known() && kd[1].value() > 0 && qd[1].value() % kd[1].value() != 0)
    ctx.fail("q heads must be a multiple of kv heads");
  Dim past(0);
  if (ctx.has_input(4)) {
    const Shape& pk = ctx.input(4).shape;
    if (pk.rank_known() && pk.rank() != 4) ctx.fail("past_key must be [B, kv_heads, P, D], got " + pk.str());
    past = pk.rank_known() ? pk[2] : Dim();
  }
  const Dim total = past + kd[2];
  const bool three_d = q.shape.rank_known() && q.shape.rank() == 3;
  if (three_d) ctx.set_output(0, q.dtype, Shape({qd[0], qd[2], qd[1] * vd[3]}));
  else if (q.shape.rank_known()) ctx.set_output(0, q.dtype, Shape({qd[0], qd[1], qd[2], vd[3]}));
  else ctx.set_output(0, q.dtype, Shape());
  if (ctx.num_outputs() > 1) ctx.set_output(1, k.dtype, Shape({kd[0], kd[1], total, kd[3]}));
  if (ctx.num_outputs() > 2) ctx.set_output(2, v.dtype, Shape({vd[0], vd[1], total, vd[3]}));
  if (ctx.num_outputs() > 3) ctx.set_output(3, q.dtype, Shape({qd[0], qd[1], qd[2], total}));
}

// com.microsoft.MultiHeadAttention: query [B, S, N*H] (or packed QKV
// [B, S, N, 3, H]); key [B, L, N*H], [B, N, L, H] or packed KV [B, L, N, 2, H].
void infer_mha(InferContext& ctx) {
  const int64_t n = ctx.attrs().get_int("num_heads");
  if (n <= 0) ctx.fail("num_heads must be positive");
  const ValueInfo& q = ctx.input(0);
  if (!q.shape.rank_known()) {
    ctx.set_output(0, q.dtype, Shape());
    for (size_t i = 1; i < ctx.num_outputs(); ++i) ctx.set_output(i, q.dtype, Shape());
    return;
  }
  Dim b = q.shape[0], s = q.shape[1], head, v_hidden, kv_len;
  if (q.shape.rank() == 5) {  // packed QKV
    head = q.shape[4];
    v_hidden = Dim(n) * head;
    kv_len = s;
  } else if (q.shape.rank() == 3) {
    if (q.shape[2].known() && q.shape[2].value() % n != 0) ctx.fail("query hidden size is not divisible by num_heads");
    head = q.shape[2].known() ? Dim(q.shape[2].value() / n) : Dim();
    v_hidden = q.shape[2];
    if (ctx.has_input(1)) {
      const Shape& k = ctx.input(1).shape;
      if (k.rank_known() && k.rank() == 4) kv_len = k[2];
      else if (k.rank_known() && k.rank() == 5) kv_len = k[1];
      else if (k.rank_known()) kv_len = k[1];
    }
    if (ctx.has_input(2)) {
      const Shape& v = ctx.input(2).shape;
      if (v.rank_known() && v.rank() == 3) v_hidden = v[2];
      else if (v.rank_known() && v.rank() == 4) v_hidden = v[3] * Dim(n);
    }
  } else {
    ctx.fail("query must be [B, S, hidden] or packed [B, S, N, 3, H], got " + q.shape.str());
  }
  ctx.set_output(0, q.dtype, Shape({b, s, v_hidden}));
  Dim past(0);
  if (ctx.has_input(6)) {
    const Shape& pk = ctx.input(6).shape;
    past = pk.rank_known() && pk.rank() == 4 ? pk[2] : Dim();
  }
  const Dim v_head = v_hidden.known() ? Dim(v_hidden.value() / n) : Dim();
  if (ctx.num_outputs() > 1) ctx.set_output(1, q.dtype, Shape({b, Dim(n), past + kv_len, head}));
  if (ctx.num_outputs() > 2) ctx.set_output(2, q.dtype, Shape({b, Dim(n), past + kv_len, v_head}));
  if (ctx.num_outputs() > 3) ctx.set_output(3, q.dtype, Shape({b, Dim(n), s, past + kv_len}));
}

VDRT_REGISTER_OP("", "Attention").inputs(3, 7).outputs(1, 4).set_infer(infer_attention);
VDRT_REGISTER_OP("com.microsoft", "MultiHeadAttention").inputs(1, 10).outputs(1, 4).set_infer(infer_mha);

}  // namespace
}  // namespace vdrt
