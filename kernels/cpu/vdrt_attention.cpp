// CPU kernel of vdrt.Attention (graph/ops/vdrt_attention.cpp): dense
// softmax(scale * Q K^T) V in [B, S, H, D] layout through the flash-style
// attention core, which reads the cache (past_key/past_value) and this
// call's keys as two consecutive key segments, so the cache is never
// copied into a concatenation. The optional additive mask (input 5, over
// [B, H, S_q, S_kv] with size-1 dims broadcast) is read in place as the
// core's bias; a key the mask sets to -inf is skipped, and a query row with
// every key masked gives zeros (what the exporters' IsNaN/Where after
// Softmax produce).
#include "kernels/cpu/attention_core.h"
#include "kernels/cpu/kernel.h"

namespace vdrt::cpu {
namespace {

// A [B, S, H, D] tensor as a strided attention view.
AttentionTensor bshd_view(const TensorView& t) {
  const int64_t s = t.dims[1], h = t.dims[2], d = t.dims[3];
  return AttentionTensor{t.as<float>(), s * h * d, d, h * d};
}

void attention_kernel(KernelContext& ctx) {
  const TensorView& q = ctx.in(0);
  const TensorView& k = ctx.in(1);
  const TensorView& v = ctx.in(2);
  const bool has_past = ctx.has(3) && ctx.has(4);
  VDRT_CHECK(ctx.has(3) == ctx.has(4), "vdrt.Attention: past_key and past_value must be given together");
  TensorView& y = ctx.out(0);
  for (const TensorView* t : {&q, &k, &v})
    VDRT_CHECK(t->rank() == 4, "vdrt.Attention inputs must be 4-D [batch, seq, heads, head_dim]");
  const int64_t B = q.dims[0], Sq = q.dims[1], Hq = q.dims[2], D = q.dims[3];
  const int64_t S = k.dims[1], Hk = k.dims[2], Dv = v.dims[3];
  VDRT_CHECK(k.dims[0] == B && v.dims[0] == B && k.dims[3] == D && v.dims[1] == S && v.dims[2] == Hk,
             "vdrt.Attention: key/value shapes do not fit the query");
  VDRT_CHECK(Hk > 0 && Hq % Hk == 0, "vdrt.Attention: query heads must be a multiple of key heads");

  AttentionParams p;
  p.batch = B;
  p.q_heads = Hq;
  p.kv_heads = Hk;
  p.q_len = Sq;
  p.head_dim = D;
  p.v_head_dim = Dv;
  p.q = bshd_view(q);
  if (has_past) {
    const TensorView& pk = ctx.in(3);
    const TensorView& pv = ctx.in(4);
    VDRT_CHECK(pk.rank() == 4 && pv.rank() == 4 && pk.dims[0] == B && pk.dims[2] == Hk && pk.dims[3] == D &&
                   pv.dims[0] == B && pv.dims[1] == pk.dims[1] && pv.dims[2] == Hk && pv.dims[3] == Dv,
               "vdrt.Attention: past_key/past_value shapes do not fit key/value");
    if (pk.dims[1] > 0) p.kv.push_back(AttentionKV{bshd_view(pk), bshd_view(pv), pk.dims[1]});
  }
  if (S > 0) p.kv.push_back(AttentionKV{bshd_view(k), bshd_view(v), S});
  p.out = y.as<float>();
  p.out_batch_stride = Sq * Hq * Dv;
  p.out_head_stride = Dv;
  p.out_seq_stride = Hq * Dv;
  p.scale = ctx.attrs.get_float("scale");
  if (ctx.has(5)) {
    const TensorView& m = ctx.in(5);
    const int64_t kv_len = p.kv_len();
    VDRT_CHECK(m.dtype == DType::F32 && m.rank() >= 1 && m.rank() <= 4,
               "vdrt.Attention: the mask must be an f32 tensor of rank 1 to 4, got " + dims_str(m.dims));
    const int64_t want[4] = {B, Hq, Sq, kv_len};
    for (size_t j = 0; j < m.rank(); ++j) {
      const int64_t d = m.dims[m.rank() - 1 - j], w = want[3 - j];
      VDRT_CHECK(d == 1 || d == w, "vdrt.Attention: mask " + dims_str(m.dims) + " does not broadcast to [" +
                                       std::to_string(B) + ", " + std::to_string(Hq) + ", " + std::to_string(Sq) +
                                       ", " + std::to_string(kv_len) + "]");
    }
    p.bias[0] = make_attention_bias(m.as<float>(), m.dims);
    if (m.dims.back() == 1) {  // one value for every key
      p.bias[0].key_stride = 0;
      p.bias[0].key_len = kv_len;
    }
  }
  attention_f32(p);
}

VDRT_CPU_KERNEL_IF("vdrt", "Attention", attention_kernel, float32_only());

}  // namespace
}  // namespace vdrt::cpu
