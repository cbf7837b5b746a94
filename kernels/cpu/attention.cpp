// ONNX Attention (opset 23, plus the opset-24 nonpad_kv_seqlen input and the
// opset-25 window attributes): wraps the inputs as strided views for
// attention_core (3-D [B, S, H*D] and 4-D [B, H, S, D] read in place), turns
// a bool mask into an additive 0/-inf one, writes present_key/value as the
// concatenation [past; new] in [B, H, T, D] and attends over it, and fills
// qk_matmul_output from the materialised score matrix when it is requested.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <tbb/parallel_for.h>

#include "kernels/cpu/attention_core.h"
#include "kernels/cpu/half_float.h"
#include "kernels/cpu/kernel.h"

namespace vdrt::cpu {
namespace {

struct Dims4 {
  int64_t batch, heads, seq, dim;
};

// Shape of a 3-D [B, S, H*D] or 4-D [B, H, S, D] operand as [B, H, S, D],
// and its view.
Dims4 view_of(const TensorView& t, int64_t heads, const char* what, AttentionTensor* view) {
  if (t.rank() == 3) {
    VDRT_CHECK(heads > 0 && t.dims[2] % heads == 0,
               std::string(what) + ": hidden size " + std::to_string(t.dims[2]) + " is not divisible by " +
                   std::to_string(heads) + " heads");
    const Dims4 d{t.dims[0], heads, t.dims[1], t.dims[2] / heads};
    *view = AttentionTensor{static_cast<const float*>(t.data), d.seq * t.dims[2], d.dim, t.dims[2]};
    return d;
  }
  VDRT_CHECK(t.rank() == 4, std::string(what) + " must be 3-D or 4-D, got shape " + dims_str(t.dims));
  const Dims4 d{t.dims[0], t.dims[1], t.dims[2], t.dims[3]};
  *view = AttentionTensor{static_cast<const float*>(t.data), d.heads * d.seq * d.dim, d.seq * d.dim, d.dim};
  return d;
}

// Copies [past; new] into a present buffer [B, H, P + S, D].
void write_present(const TensorView* past, const AttentionTensor& cur, const Dims4& d, int64_t past_len, float* dst) {
  const int64_t total = past_len + d.seq;
  tbb::parallel_for(int64_t(0), d.batch * d.heads, [&](int64_t bh) {
    const int64_t b = bh / d.heads, h = bh % d.heads;
    float* out = dst + bh * total * d.dim;
    if (past_len) std::memcpy(out, static_cast<const float*>(past->data) + bh * past_len * d.dim, sizeof(float) * past_len * d.dim);
    for (int64_t s = 0; s < d.seq; ++s)
      std::memcpy(out + (past_len + s) * d.dim, cur.data + b * cur.batch_stride + h * cur.head_stride + s * cur.seq_stride,
                  sizeof(float) * d.dim);
  });
}

void attention_kernel(KernelContext& ctx) {
  const TensorView &q = ctx.in(0), &k = ctx.in(1), &v = ctx.in(2);
  VDRT_CHECK(q.dtype == DType::F32 && k.dtype == DType::F32 && v.dtype == DType::F32,
             "Attention supports f32 (and f16/bf16) Q, K, V");
  VDRT_CHECK(q.rank() == k.rank() && q.rank() == v.rank(), "Attention: Q, K and V must have the same rank");
  const bool three_d = q.rank() == 3;
  const int64_t q_heads_attr = ctx.attrs.get_int("q_num_heads", 0), kv_heads_attr = ctx.attrs.get_int("kv_num_heads", 0);
  if (three_d)
    VDRT_CHECK(q_heads_attr > 0 && kv_heads_attr > 0, "Attention with 3-D inputs needs q_num_heads and kv_num_heads");
  AttentionParams p;
  AttentionTensor kview, vview;
  const Dims4 qd = view_of(q, q_heads_attr, "Q", &p.q);
  const Dims4 kd = view_of(k, kv_heads_attr, "K", &kview);
  const Dims4 vd = view_of(v, kv_heads_attr, "V", &vview);
  VDRT_CHECK(kd.batch == qd.batch && vd.batch == qd.batch && kd.dim == qd.dim && vd.seq == kd.seq &&
                 vd.heads == kd.heads,
             "Attention: shapes of Q " + dims_str(q.dims) + ", K " + dims_str(k.dims) + " and V " + dims_str(v.dims) +
                 " do not fit");
  VDRT_CHECK(kd.heads > 0 && qd.heads % kd.heads == 0, "Attention: q heads must be a multiple of kv heads");
  p.batch = qd.batch, p.q_heads = qd.heads, p.kv_heads = kd.heads, p.q_len = qd.seq;
  p.head_dim = qd.dim, p.v_head_dim = vd.dim;

  const bool has_past = ctx.has(4) || ctx.has(5);
  VDRT_CHECK(ctx.has(4) == ctx.has(5), "Attention: past_key and past_value come together");
  int64_t past_len = 0;
  if (has_past) {
    const TensorView &pk = ctx.in(4), &pv = ctx.in(5);
    VDRT_CHECK(pk.rank() == 4 && pv.rank() == 4 && pk.dims[0] == qd.batch && pk.dims[1] == kd.heads &&
                   pk.dims[3] == kd.dim && pv.dims[0] == qd.batch && pv.dims[1] == kd.heads && pv.dims[3] == vd.dim &&
                   pv.dims[2] == pk.dims[2],
               "Attention: past_key/past_value must be [B, kv_heads, P, D]");
    past_len = pk.dims[2];
  }
  // Keys: present buffers when requested (they are the concatenation
  // anyway), otherwise the past and new segments read in place.
  const bool want_pk = ctx.outputs.size() > 1 && ctx.outputs[1].present();
  const bool want_pv = ctx.outputs.size() > 2 && ctx.outputs[2].present();
  const int64_t total = past_len + kd.seq;
  AttentionKV past_seg, cur_seg{kview, vview, kd.seq};
  if (has_past) {
    past_seg.len = past_len;
    past_seg.k = AttentionTensor{static_cast<const float*>(ctx.in(4).data), kd.heads * past_len * kd.dim, past_len * kd.dim, kd.dim};
    past_seg.v = AttentionTensor{static_cast<const float*>(ctx.in(5).data), kd.heads * past_len * vd.dim, past_len * vd.dim, vd.dim};
  }
  AttentionKV merged = cur_seg;
  merged.len = total;
  if (want_pk) {
    float* dst = static_cast<float*>(ctx.out(1).data);
    write_present(has_past ? &ctx.in(4) : nullptr, kview, kd, past_len, dst);
    merged.k = AttentionTensor{dst, kd.heads * total * kd.dim, total * kd.dim, kd.dim};
  }
  if (want_pv) {
    float* dst = static_cast<float*>(ctx.out(2).data);
    write_present(has_past ? &ctx.in(5) : nullptr, vview, vd, past_len, dst);
    merged.v = AttentionTensor{dst, kd.heads * total * vd.dim, total * vd.dim, vd.dim};
  }
  if (want_pk && want_pv) p.kv = {merged};
  else if (has_past) p.kv = {past_seg, cur_seg};
  else p.kv = {cur_seg};

  p.scale = ctx.attrs.has("scale") ? ctx.attrs.get_float("scale") : 1.0f / std::sqrt(static_cast<float>(qd.dim));
  p.softcap = ctx.attrs.get_float("softcap", 0.0f);
  p.causal = ctx.attrs.get_int("is_causal", 0) != 0;
  p.window_left = ctx.attrs.get_int("left_window_size", -1);
  p.window_right = ctx.attrs.get_int("right_window_size", -1);
  p.causal_offset = past_len;

  std::vector<int64_t> offsets, valid;
  if (ctx.has(6)) {  // nonpad_kv_seqlen: per-batch valid key counts of a static cache
    VDRT_CHECK(!has_past, "Attention: nonpad_kv_seqlen cannot be combined with past_key/past_value");
    valid = ctx.in(6).to_int64();
    VDRT_CHECK(static_cast<int64_t>(valid.size()) == qd.batch, "Attention: nonpad_kv_seqlen must hold one length per batch");
    for (int64_t n : valid) offsets.push_back(n - qd.seq);
    p.kv_valid_len = valid.data();
    p.batch_offset = offsets.data();
  }

  std::vector<float> mask_storage;
  if (ctx.has(3)) {
    const TensorView& m = ctx.in(3);
    const float* data = nullptr;
    if (m.dtype == DType::Bool) {
      const auto* b = static_cast<const uint8_t*>(m.data);
      mask_storage.resize(static_cast<size_t>(m.numel()));
      for (int64_t i = 0; i < m.numel(); ++i) mask_storage[i] = b[i] ? 0.0f : -INFINITY;
      data = mask_storage.data();
    } else {
      VDRT_CHECK(m.dtype == DType::F32, "Attention: attn_mask must be bool or the inputs' float type");
      data = static_cast<const float*>(m.data);
    }
    const std::vector<int64_t> target{qd.batch, qd.heads, qd.seq, total};
    VDRT_CHECK(m.rank() >= 1 && m.rank() <= 4, "Attention: attn_mask must have rank 1 to 4");
    for (size_t j = 1; j < m.rank(); ++j) {
      const int64_t dim = m.dims[m.rank() - 1 - j], want = target[3 - j];
      VDRT_CHECK(dim == 1 || dim == want, "Attention: attn_mask of shape " + dims_str(m.dims) +
                                              " does not broadcast to " + dims_str(target));
    }
    VDRT_CHECK(m.dims.back() <= total, "Attention: attn_mask has more keys than there are");
    p.bias[0] = make_attention_bias(data, m.dims);
  }

  TensorView& y = ctx.out(0);
  p.out = static_cast<float*>(y.data);
  if (three_d) {
    p.out_batch_stride = qd.seq * qd.heads * vd.dim, p.out_head_stride = vd.dim, p.out_seq_stride = qd.heads * vd.dim;
  } else {
    p.out_batch_stride = qd.heads * qd.seq * vd.dim, p.out_head_stride = qd.seq * vd.dim, p.out_seq_stride = vd.dim;
  }
  attention_f32(p);

  if (ctx.outputs.size() > 3 && ctx.outputs[3].present()) {
    const int64_t mode = ctx.attrs.get_int("qk_matmul_output_mode", 0);
    VDRT_CHECK(mode >= 0 && mode <= 3, "Attention: qk_matmul_output_mode must be 0..3");
    const AttentionScoreStage stage = mode <= 1 ? AttentionScoreStage::Scaled
                                                : (mode == 2 ? AttentionScoreStage::Biased : AttentionScoreStage::Softmax);
    float* dst = static_cast<float*>(ctx.out(3).data);
    tbb::parallel_for(int64_t(0), qd.batch * qd.heads, [&](int64_t bh) {
      attention_scores_f32(p, bh / qd.heads, bh % qd.heads, stage, dst + bh * qd.seq * total);
    });
  }
}

VDRT_CPU_KERNEL_IF("", "Attention", with_half_float(attention_kernel), f32_or_half());

}  // namespace
}  // namespace vdrt::cpu
