// com.microsoft.MultiHeadAttention on attention_core. Supported forms:
//   query [B, S, N*H] with key [B, L, N*H] / value [B, L, N*Hv] (optional
//   fused projection bias, optional past_key/past_value [B, N, P, H] that the
//   new keys are appended to), key/value already split [B, N, L, H], packed
//   QKV [B, S, N, 3, H] and packed KV [B, L, N, 2, H]. Masks follow ONNX
//   Runtime: key_padding_mask ([B] lengths, [B, T] or [B, S, T] of 0/1),
//   `unidirectional` and masked keys add mask_filter_value (default -10000)
//   rather than -inf; attention_bias [B|1, N|1, S, T] is added as is.
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

// [B, T, N*H] + bias slice -> owned copy (only when a projection bias is given).
std::vector<float> add_bias(const TensorView& t, const float* bias, int64_t width) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  const float* src = static_cast<const float*>(t.data);
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = src[i] + bias[i % width];
  return out;
}

void copy_present(const AttentionTensor* past, int64_t past_len, const AttentionTensor& cur, int64_t cur_len,
                  int64_t batch, int64_t heads, int64_t dim, float* dst) {
  const int64_t total = past_len + cur_len;
  tbb::parallel_for(int64_t(0), batch * heads, [&](int64_t bh) {
    const int64_t b = bh / heads, h = bh % heads;
    float* out = dst + bh * total * dim;
    for (int64_t s = 0; s < past_len; ++s)
      std::memcpy(out + s * dim, past->data + b * past->batch_stride + h * past->head_stride + s * past->seq_stride,
                  sizeof(float) * dim);
    for (int64_t s = 0; s < cur_len; ++s)
      std::memcpy(out + (past_len + s) * dim, cur.data + b * cur.batch_stride + h * cur.head_stride + s * cur.seq_stride,
                  sizeof(float) * dim);
  });
}

void mha_kernel(KernelContext& ctx) {
  const int64_t n = ctx.attrs.get_int("num_heads");
  VDRT_CHECK(n > 0, "MultiHeadAttention: num_heads must be positive");
  const TensorView& query = ctx.in(0);
  VDRT_CHECK(query.dtype == DType::F32, "MultiHeadAttention supports f32 (and f16/bf16)");
  VDRT_CHECK(!ctx.has(8) && !ctx.has(9), "MultiHeadAttention: past_sequence_length and cache_indirection are not supported");
  VDRT_CHECK(ctx.outputs.size() < 4 || !ctx.outputs[3].present(), "MultiHeadAttention: the qk output is not supported");

  AttentionParams p;
  p.q_heads = p.kv_heads = n;
  AttentionTensor k, v;
  int64_t kv_len = 0;
  std::vector<float> qb, kb, vb;  // biased copies
  const float* bias = ctx.has(3) ? static_cast<const float*>(ctx.in(3).data) : nullptr;

  if (query.rank() == 5) {  // packed QKV [B, S, N, 3, H]
    VDRT_CHECK(query.dims[2] == n && query.dims[3] == 3 && !ctx.has(1) && !ctx.has(2) && !bias,
               "MultiHeadAttention: packed QKV must be [B, S, num_heads, 3, H] without key, value or bias");
    const int64_t B = query.dims[0], S = query.dims[1], H = query.dims[4];
    const float* d = static_cast<const float*>(query.data);
    p.batch = B, p.q_len = S, p.head_dim = p.v_head_dim = H, kv_len = S;
    p.q = AttentionTensor{d, S * n * 3 * H, 3 * H, n * 3 * H};
    k = AttentionTensor{d + H, S * n * 3 * H, 3 * H, n * 3 * H};
    v = AttentionTensor{d + 2 * H, S * n * 3 * H, 3 * H, n * 3 * H};
  } else {
    VDRT_CHECK(query.rank() == 3 && query.dims[2] % n == 0,
               "MultiHeadAttention: query must be [B, S, hidden] with hidden divisible by num_heads, got " +
                   dims_str(query.dims));
    const int64_t B = query.dims[0], S = query.dims[1], D = query.dims[2], H = D / n;
    p.batch = B, p.q_len = S, p.head_dim = H;
    const float* qd = static_cast<const float*>(query.data);
    if (bias) {
      qb = add_bias(query, bias, D);
      qd = qb.data();
    }
    p.q = AttentionTensor{qd, S * D, H, D};
    VDRT_CHECK(ctx.has(1), "MultiHeadAttention: key is required unless query is packed QKV");
    const TensorView& key = ctx.in(1);
    if (key.rank() == 5) {  // packed KV [B, L, N, 2, H]
      VDRT_CHECK(key.dims[0] == B && key.dims[2] == n && key.dims[3] == 2 && key.dims[4] == H && !ctx.has(2) && !bias,
                 "MultiHeadAttention: packed KV must be [B, L, num_heads, 2, H] without value or bias");
      const float* d = static_cast<const float*>(key.data);
      kv_len = key.dims[1];
      k = AttentionTensor{d, kv_len * n * 2 * H, 2 * H, n * 2 * H};
      v = AttentionTensor{d + H, kv_len * n * 2 * H, 2 * H, n * 2 * H};
      p.v_head_dim = H;
    } else {
      VDRT_CHECK(ctx.has(2), "MultiHeadAttention: value is required with a separate key");
      const TensorView& value = ctx.in(2);
      if (key.rank() == 4) {  // already [B, N, L, H]
        VDRT_CHECK(key.dims[0] == B && key.dims[1] == n && key.dims[3] == H && value.rank() == 4 &&
                       value.dims[0] == B && value.dims[1] == n && value.dims[2] == key.dims[2] && !bias,
                   "MultiHeadAttention: 4-D key/value must be [B, num_heads, L, H] (and carry no bias)");
        kv_len = key.dims[2];
        p.v_head_dim = value.dims[3];
        k = AttentionTensor{static_cast<const float*>(key.data), n * kv_len * H, kv_len * H, H};
        v = AttentionTensor{static_cast<const float*>(value.data), n * kv_len * p.v_head_dim, kv_len * p.v_head_dim,
                            p.v_head_dim};
      } else {
        VDRT_CHECK(key.rank() == 3 && key.dims[0] == B && key.dims[2] == D && value.rank() == 3 &&
                       value.dims[0] == B && value.dims[1] == key.dims[1] && value.dims[2] % n == 0,
                   "MultiHeadAttention: key [B, L, hidden] and value [B, L, v_hidden] do not fit the query");
        kv_len = key.dims[1];
        const int64_t Dv = value.dims[2];
        p.v_head_dim = Dv / n;
        const float* kd = static_cast<const float*>(key.data);
        const float* vd = static_cast<const float*>(value.data);
        if (bias) {
          VDRT_CHECK(ctx.in(3).numel() == 2 * D + Dv, "MultiHeadAttention: bias must hold hidden + hidden + v_hidden values");
          kb = add_bias(key, bias + D, D);
          vb = add_bias(value, bias + 2 * D, Dv);
          kd = kb.data(), vd = vb.data();
        }
        k = AttentionTensor{kd, kv_len * D, H, D};
        v = AttentionTensor{vd, kv_len * Dv, p.v_head_dim, Dv};
      }
    }
  }

  // Past keys/values [B, N, P, H] come first.
  int64_t past_len = 0;
  AttentionKV past;
  if (ctx.has(6) || ctx.has(7)) {
    VDRT_CHECK(ctx.has(6) && ctx.has(7), "MultiHeadAttention: past_key and past_value come together");
    const TensorView &pk = ctx.in(6), &pv = ctx.in(7);
    VDRT_CHECK(pk.rank() == 4 && pk.dims[0] == p.batch && pk.dims[1] == n && pk.dims[3] == p.head_dim &&
                   pv.rank() == 4 && pv.dims[0] == p.batch && pv.dims[1] == n && pv.dims[2] == pk.dims[2] &&
                   pv.dims[3] == p.v_head_dim,
               "MultiHeadAttention: past_key/past_value must be [B, num_heads, P, H]");
    past_len = pk.dims[2];
    past.len = past_len;
    past.k = AttentionTensor{static_cast<const float*>(pk.data), n * past_len * p.head_dim, past_len * p.head_dim, p.head_dim};
    past.v = AttentionTensor{static_cast<const float*>(pv.data), n * past_len * p.v_head_dim, past_len * p.v_head_dim,
                             p.v_head_dim};
  }
  const int64_t total = past_len + kv_len;
  if (past_len) p.kv.push_back(past);
  p.kv.push_back(AttentionKV{k, v, kv_len});
  if (ctx.outputs.size() > 1 && ctx.outputs[1].present())
    copy_present(past_len ? &past.k : nullptr, past_len, k, kv_len, p.batch, n, p.head_dim, static_cast<float*>(ctx.out(1).data));
  if (ctx.outputs.size() > 2 && ctx.outputs[2].present())
    copy_present(past_len ? &past.v : nullptr, past_len, v, kv_len, p.batch, n, p.v_head_dim,
                 static_cast<float*>(ctx.out(2).data));

  p.scale = ctx.attrs.has("scale") ? ctx.attrs.get_float("scale") : 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  const float fill = ctx.attrs.get_float("mask_filter_value", -10000.0f);
  p.mask_fill = fill;
  p.causal = ctx.attrs.get_int("unidirectional", 0) != 0;
  p.causal_offset = past_len;

  std::vector<int64_t> lengths;
  std::vector<float> pad_bias;
  if (ctx.has(4)) {
    const TensorView& m = ctx.in(4);
    const std::vector<int64_t> mv = m.to_int64();
    if (m.rank() == 1 && m.dims[0] == p.batch) {  // valid key counts
      lengths = mv;
      p.kv_valid_len = lengths.data();
    } else {
      VDRT_CHECK((m.rank() == 2 && m.dims[0] == p.batch && m.dims[1] == total) ||
                     (m.rank() == 3 && m.dims[0] == p.batch && m.dims[1] == p.q_len && m.dims[2] == total),
                 "MultiHeadAttention: key_padding_mask of shape " + dims_str(m.dims) + " is not supported");
      pad_bias.resize(mv.size());
      for (size_t i = 0; i < mv.size(); ++i) pad_bias[i] = mv[i] ? 0.0f : fill;
      p.bias[0] = m.rank() == 2 ? make_attention_bias(pad_bias.data(), {p.batch, 1, 1, total})
                                : make_attention_bias(pad_bias.data(), {p.batch, 1, p.q_len, total});
    }
  }
  if (ctx.has(5)) {
    const TensorView& ab = ctx.in(5);
    VDRT_CHECK(ab.dtype == DType::F32 && ab.rank() == 4 && (ab.dims[0] == 1 || ab.dims[0] == p.batch) &&
                   (ab.dims[1] == 1 || ab.dims[1] == n) && ab.dims[2] == p.q_len && ab.dims[3] == total,
               "MultiHeadAttention: attention_bias must be [B or 1, num_heads or 1, S, T], got " + dims_str(ab.dims));
    p.bias[1] = make_attention_bias(static_cast<const float*>(ab.data), ab.dims);
  }

  TensorView& y = ctx.out(0);
  p.out = static_cast<float*>(y.data);
  p.out_batch_stride = p.q_len * n * p.v_head_dim, p.out_head_stride = p.v_head_dim, p.out_seq_stride = n * p.v_head_dim;
  attention_f32(p);
}

VDRT_CPU_KERNEL_IF("com.microsoft", "MultiHeadAttention", with_half_float(mha_kernel), f32_or_half());

}  // namespace
}  // namespace vdrt::cpu
