// Flash-style attention (see attention_core.h). One task per (batch, head,
// block of BQ queries), tbb-parallel. The task scales its queries once, then
// for each block of BK keys:
//   S = Qs K^T                        (serial GEMM core, K read transposed in place)
//   S = softcap / bias / masks        (row by row; masks are one key interval per row)
//   m' = max(m, rowmax S); P = exp(S - m'); l = l e^(m-m') + rowsum P; O = O e^(m-m') + P V
// and finally writes O / l. Key blocks that every query of the block has
// masked out (causal, window, valid length) are skipped entirely.
#include "kernels/cpu/attention_core.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "graph/error.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_microkernel.h"
#include "kernels/cpu/row_reduce.h"
#include "kernels/cpu/vector_math.h"

namespace vdrt::cpu {
namespace {

constexpr int64_t kKeyBlock = 256;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Query rows per task: a multiple of the GEMM micro-kernel's row count, about
// 256 (each packed key block then serves many rows: measured 66 vs 47
// GFLOP/s per core against 64 rows), halved down to about 64 while that
// leaves fewer than four tasks per thread.
int64_t query_block(const AttentionParams& p) {
  const int64_t mr = best_gemm_microkernel().mr;
  const int64_t threads = tbb::this_task_arena::max_concurrency();
  auto rows = [&](int64_t want) { return mr * std::max<int64_t>(1, (want + mr - 1) / mr); };
  int64_t want = 256;
  while (want > 64 && p.batch * p.q_heads * ((p.q_len + rows(want) - 1) / rows(want)) < 4 * threads) want /= 2;
  return rows(want);
}

struct Scratch {
  std::vector<float> q, s, o, m, l;
  PackedA qpack;  // the scaled queries, packed once per task for every key block
};
thread_local Scratch t_scratch;

// The keys query i may see through the structural masks: [lo, hi).
struct KeyRange {
  int64_t lo, hi;
};

KeyRange visible_keys(const AttentionParams& p, int64_t b, int64_t i, int64_t kv_len) {
  const int64_t off = p.batch_offset ? p.batch_offset[b] : p.causal_offset;
  int64_t lo = 0, hi = kv_len;
  if (p.causal) hi = std::min(hi, i + off + 1);
  if (p.window_left >= 0) lo = std::max(lo, i + off - p.window_left);
  if (p.window_right >= 0) hi = std::min(hi, i + off + p.window_right + 1);
  if (p.kv_valid_len) hi = std::min(hi, p.kv_valid_len[b]);
  return {lo, std::max(lo, hi)};
}

// Applies softcap, biases and masks to scores s[0..n) of query i for keys
// [j0, j0 + n).
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

// Locates global key j0 in the segments: returns the segment and local index.
struct KeyBlock {
  const AttentionKV* seg;
  int64_t local, len;
};

void for_each_key_block(const AttentionParams& p, const std::function<void(int64_t, const KeyBlock&)>& fn) {
  int64_t base = 0;
  for (const AttentionKV& seg : p.kv) {
    for (int64_t j = 0; j < seg.len; j += kKeyBlock) fn(base + j, KeyBlock{&seg, j, std::min(kKeyBlock, seg.len - j)});
    base += seg.len;
  }
}

void attention_task(const AttentionParams& p, int64_t b, int64_t h, int64_t i0, int64_t i1, int64_t kv_len) {
  const int64_t bq = i1 - i0, D = p.head_dim, Dv = p.v_head_dim;
  const int64_t kvh = h / (p.q_heads / p.kv_heads);
  Scratch& t = t_scratch;
  t.q.resize(static_cast<size_t>(bq * D));
  t.s.resize(static_cast<size_t>(bq * kKeyBlock));
  t.o.assign(static_cast<size_t>(bq * Dv), 0.0f);
  t.m.assign(static_cast<size_t>(bq), kNegInf);
  t.l.assign(static_cast<size_t>(bq), 0.0f);
  const float* qbase = p.q.data + b * p.q.batch_stride + h * p.q.head_stride;
  for (int64_t r = 0; r < bq; ++r) {
    const float* src = qbase + (i0 + r) * p.q.seq_stride;
    for (int64_t d = 0; d < D; ++d) t.q[r * D + d] = src[d] * p.scale;
  }
  // A few queries (decoding) are cheaper as matrix-vector products than
  // padded to a full micro-kernel tile.
  const bool pack_queries = bq >= best_gemm_microkernel().mr;
  if (pack_queries) pack_a_f32(t.qpack, bq, D, t.q.data(), D, 1);
  // Keys every query of the block hides (only when hiding removes them).
  const bool can_skip = std::isinf(p.mask_fill) && p.mask_fill < 0;
  const KeyRange first = visible_keys(p, b, i0, kv_len), last = visible_keys(p, b, i1 - 1, kv_len);
  const int64_t skip_before = can_skip ? std::min(first.lo, last.lo) : 0;
  const int64_t skip_from = can_skip ? std::max(first.hi, last.hi) : kv_len;
  GemmOptions serial;
  serial.parallel = false;

  for_each_key_block(p, [&](int64_t j0, const KeyBlock& blk) {
    const int64_t bk = blk.len;
    if (j0 + bk <= skip_before || j0 >= skip_from) return;
    const AttentionKV& seg = *blk.seg;
    const float* k = seg.k.data + b * seg.k.batch_stride + kvh * seg.k.head_stride + blk.local * seg.k.seq_stride;
    const float* v = seg.v.data + b * seg.v.batch_stride + kvh * seg.v.head_stride + blk.local * seg.v.seq_stride;
    float* s = t.s.data();
    if (pack_queries) gemm_f32_packed(t.qpack, bk, 1.0f, k, 1, seg.k.seq_stride, 0.0f, s, bk, serial);
    else gemm_f32(bq, bk, D, 1.0f, t.q.data(), D, 1, k, 1, seg.k.seq_stride, 0.0f, s, bk, serial);
    for (int64_t r = 0; r < bq; ++r) {
      float* row = s + r * bk;
      adjust_scores(p, b, h, i0 + r, j0, bk, row, kv_len);
      const float m_new = std::max(t.m[r], row_max(row, bk));
      if (m_new == kNegInf) {  // nothing visible yet: contributes nothing
        std::fill(row, row + bk, 0.0f);
        continue;
      }
      const float sum = row_exp_sum(row, row, bk, m_new);
      const float corr = t.m[r] == kNegInf ? 0.0f : vmath::exp(t.m[r] - m_new);
      t.l[r] = t.l[r] * corr + sum;
      t.m[r] = m_new;
      if (corr != 1.0f) row_scale(t.o.data() + r * Dv, Dv, corr);
    }
    gemm_f32(bq, Dv, bk, 1.0f, s, bk, 1, v, seg.v.seq_stride, 1, 1.0f, t.o.data(), Dv, serial);
  });

  float* obase = p.out + b * p.out_batch_stride + h * p.out_head_stride;
  for (int64_t r = 0; r < bq; ++r) {
    float* dst = obase + (i0 + r) * p.out_seq_stride;
    const float inv = t.l[r] > 0 ? 1.0f / t.l[r] : 0.0f;
    for (int64_t c = 0; c < Dv; ++c) dst[c] = t.o[r * Dv + c] * inv;
  }
}

void check(const AttentionParams& p) {
  VDRT_CHECK(p.batch >= 0 && p.q_heads > 0 && p.kv_heads > 0 && p.q_heads % p.kv_heads == 0,
             "attention: query heads (" + std::to_string(p.q_heads) + ") must be a multiple of key/value heads (" +
                 std::to_string(p.kv_heads) + ")");
  VDRT_CHECK(p.head_dim >= 0 && p.v_head_dim >= 0 && p.q_len >= 0, "attention: negative sizes");
}

}  // namespace

AttentionBias make_attention_bias(const float* data, const std::vector<int64_t>& dims) {
  VDRT_CHECK(!dims.empty() && dims.size() <= 4, "attention mask must have rank 1 to 4, got " + std::to_string(dims.size()));
  AttentionBias b;
  b.data = data;
  int64_t* strides[4] = {&b.batch_stride, &b.head_stride, &b.query_stride, &b.key_stride};
  int64_t stride = 1;
  for (size_t j = 0; j < dims.size(); ++j) {
    const size_t d = dims.size() - 1 - j;
    *strides[3 - j] = dims[d] == 1 && j > 0 ? 0 : stride;
    stride *= dims[d];
  }
  b.key_len = dims.back();
  return b;
}

int64_t AttentionParams::kv_len() const {
  int64_t n = 0;
  for (const AttentionKV& s : kv) n += s.len;
  return n;
}

void attention_f32(const AttentionParams& p) {
  check(p);
  const int64_t kv_len = p.kv_len(), bq = query_block(p);
  const int64_t q_blocks = (p.q_len + bq - 1) / bq;
  const int64_t tasks = p.batch * p.q_heads * q_blocks;
  if (tasks == 0) return;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, tasks, 1), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t t = r.begin(); t < r.end(); ++t) {
      const int64_t qb = t % q_blocks, h = (t / q_blocks) % p.q_heads, b = t / (q_blocks * p.q_heads);
      attention_task(p, b, h, qb * bq, std::min(p.q_len, (qb + 1) * bq), kv_len);
    }
  });
}

void attention_scores_f32(const AttentionParams& p, int64_t b, int64_t h, AttentionScoreStage stage, float* out) {
  check(p);
  const int64_t kv_len = p.kv_len(), D = p.head_dim;
  const int64_t kvh = h / (p.q_heads / p.kv_heads);
  const float* qbase = p.q.data + b * p.q.batch_stride + h * p.q.head_stride;
  std::vector<float> qs(static_cast<size_t>(p.q_len * D));
  for (int64_t i = 0; i < p.q_len; ++i)
    for (int64_t d = 0; d < D; ++d) qs[i * D + d] = qbase[i * p.q.seq_stride + d] * p.scale;
  int64_t base = 0;
  for (const AttentionKV& seg : p.kv) {
    const float* k = seg.k.data + b * seg.k.batch_stride + kvh * seg.k.head_stride;
    gemm_f32(p.q_len, seg.len, D, 1.0f, qs.data(), D, 1, k, 1, seg.k.seq_stride, 0.0f, out + base, kv_len);
    base += seg.len;
  }
  AttentionParams raw = p;
  if (stage == AttentionScoreStage::Scaled) {
    // Only the softcap: no bias and no structural masks.
    raw.bias[0] = raw.bias[1] = AttentionBias{};
    raw.causal = false;
    raw.window_left = raw.window_right = -1;
    raw.kv_valid_len = nullptr;
  }
  for (int64_t i = 0; i < p.q_len; ++i) {
    float* row = out + i * kv_len;
    adjust_scores(raw, b, h, i, 0, kv_len, row, kv_len);
    if (stage != AttentionScoreStage::Softmax) continue;
    const float m = row_max(row, kv_len);
    if (m == kNegInf) {
      std::fill(row, row + kv_len, 0.0f);
      continue;
    }
    row_scale(row, kv_len, 1.0f / row_exp_sum(row, row, kv_len, m));
  }
}

}  // namespace vdrt::cpu
