// Implements attention_rows.h.
#include "kernels/cpu/attention_rows.h"

#include <cmath>

#include "kernels/cpu/row_reduce.h"
#include "kernels/cpu/vector_math.h"

namespace vdrt::cpu::attention_rows {

KeyRange visible_keys(const AttentionParams& p, int64_t b, int64_t i, int64_t kv_len) {
  const int64_t off = p.batch_offset ? p.batch_offset[b] : p.causal_offset;
  int64_t lo = 0, hi = kv_len;
  if (p.causal) hi = std::min(hi, i + off + 1);
  if (p.window_left >= 0) lo = std::max(lo, i + off - p.window_left);
  if (p.window_right >= 0) hi = std::min(hi, i + off + p.window_right + 1);
  if (p.kv_valid_len) hi = std::min(hi, p.kv_valid_len[b]);
  return {lo, std::max(lo, hi)};
}

KeyRange keys_to_visit(const AttentionParams& p, int64_t b, int64_t i0, int64_t i1, int64_t kv_len) {
  // Only hiding (-inf) removes keys; a finite fill merely penalises them.
  if (!(std::isinf(p.mask_fill) && p.mask_fill < 0)) return {0, kv_len};
  // The structural bounds move monotonically with the query index.
  const KeyRange first = visible_keys(p, b, i0, kv_len), last = visible_keys(p, b, i1 - 1, kv_len);
  return {std::min(first.lo, last.lo), std::max(first.hi, last.hi)};
}

void adjust_scores(const AttentionParams& p, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t n, float* s,
                   int64_t kv_len) {
  if (p.softcap > 0) {
    const float inv = 1.0f / p.softcap;
    for (int64_t j = 0; j < n; ++j) s[j] = p.softcap * vmath::tanh(s[j] * inv);
  }
  for (const AttentionBias& bias : p.bias) {
    if (!bias.data) continue;
    const float* row = bias.data + b * bias.batch_stride + h * bias.head_stride + i * bias.query_stride;
    const int64_t valid = std::clamp<int64_t>(bias.key_len - j0, 0, n);
    if (bias.key_stride == 1)
      for (int64_t j = 0; j < valid; ++j) s[j] += row[j0 + j];
    else
      for (int64_t j = 0; j < valid; ++j) s[j] += row[(j0 + j) * bias.key_stride];
    for (int64_t j = valid; j < n; ++j) s[j] = kNegInf;
  }
  const KeyRange r = visible_keys(p, b, i, kv_len);
  const bool drop = std::isinf(p.mask_fill) && p.mask_fill < 0;
  auto hide = [&](int64_t from, int64_t to) {
    for (int64_t j = std::max<int64_t>(from, 0); j < std::min(to, n); ++j) s[j] = drop ? kNegInf : s[j] + p.mask_fill;
  };
  hide(0, r.lo - j0);
  hide(r.hi - j0, n);
}

void softmax_step(float* s, int64_t n, float& m, float& l, float* o, int64_t dv) {
  const float m_new = std::max(m, row_max(s, n));
  if (m_new == kNegInf) {  // nothing visible yet: contributes nothing
    std::fill(s, s + n, 0.0f);
    return;
  }
  const float sum = row_exp_sum(s, s, n, m_new);
  const float corr = m == kNegInf ? 0.0f : vmath::exp(m - m_new);
  l = l * corr + sum;
  m = m_new;
  if (corr != 1.0f) row_scale(o, dv, corr);
}

}  // namespace vdrt::cpu::attention_rows
