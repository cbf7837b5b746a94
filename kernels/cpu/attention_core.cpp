// Flash-style attention (see attention_core.h). One task per (batch, head,
// block of queries), tbb-parallel; each visits the keys in blocks with an
// online softmax:
//   S = Qs K^T; S = softcap / bias / masks (row by row, attention_rows.h)
//   m' = max(m, rowmax S); P = exp(S - m'); l = l e^(m-m') + rowsum P; O = O e^(m-m') + P V
// and finally writes O / l. Key blocks that every query of the block has
// masked out (causal, window, valid length) are skipped entirely. Blocks of
// queries run both products on the GEMM micro-kernel (attention_tiled.cpp);
// a few queries (decoding) are cheaper as matrix-vector products, done here
// through gemm_f32.
#include "kernels/cpu/attention_core.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include "graph/error.h"
#include "kernels/cpu/attention_rows.h"
#include "kernels/cpu/attention_tiled.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/row_reduce.h"

namespace vdrt::cpu {
namespace {

using namespace attention_rows;

constexpr int64_t kKeyBlock = 256;  // keys per block of the matrix-vector path

// Query rows per task: whole strips of the tiled path (attention_tiled.h),
// at most about 256, chosen so that the tasks share out evenly over the
// threads. A task costs about its rows plus 4 (packing its K and V blocks
// costs what a few query rows do); the estimate is the rounds of tasks times
// that. With strips of 48: 1170 queries x 12 heads on 2 threads gives 5
// blocks of 240 rows (60 tasks); 4680 x 12 on 16 threads 20 blocks of 240.
int64_t query_block(const AttentionParams& p) {
  const int64_t strip = attention_tiled_strip();
  if (p.q_len < strip) return std::max<int64_t>(p.q_len, 1);
  const int64_t threads = tbb::this_task_arena::max_concurrency();
  int64_t best = strip, best_cost = -1;
  for (int64_t bq = (256 + strip - 1) / strip * strip; bq >= strip; bq -= strip) {
    const int64_t tasks = p.batch * p.q_heads * ((p.q_len + bq - 1) / bq);
    const int64_t cost = (tasks + threads - 1) / threads * (std::min(bq, p.q_len) + 4);
    if (best_cost < 0 || cost < best_cost) best = bq, best_cost = cost;
  }
  return best;
}

// A strip at most half padding is still cheaper than the matrix-vector path.
bool use_tiled(int64_t rows) { return 2 * rows >= attention_tiled_strip(); }

struct Scratch {
  std::vector<float> q, s, o, m, l;
};
thread_local Scratch t_scratch;

// The task for a few queries (decoding): matrix-vector products, or GEMMs
// through gemm_f32.
void attention_task_few_queries(const AttentionParams& p, int64_t b, int64_t h, int64_t i0, int64_t i1,
                                int64_t kv_len) {
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
  const KeyRange visit = keys_to_visit(p, b, i0, i1, kv_len);
  GemmOptions serial;
  serial.parallel = false;

  for_each_key_block(p, kKeyBlock, [&](int64_t j0, const KeyBlock& blk) {
    const int64_t bk = blk.len;
    if (j0 + bk <= visit.lo || j0 >= visit.hi) return;
    const AttentionKV& seg = *blk.seg;
    const float* k = seg.k.data + b * seg.k.batch_stride + kvh * seg.k.head_stride + blk.local * seg.k.seq_stride;
    const float* v = seg.v.data + b * seg.v.batch_stride + kvh * seg.v.head_stride + blk.local * seg.v.seq_stride;
    float* s = t.s.data();
    gemm_f32(bq, bk, D, 1.0f, t.q.data(), D, 1, k, 1, seg.k.seq_stride, 0.0f, s, bk, serial);
    for (int64_t r = 0; r < bq; ++r) {
      float* row = s + r * bk;
      adjust_scores(p, b, h, i0 + r, j0, bk, row, kv_len);
      softmax_step(row, bk, t.m[r], t.l[r], t.o.data() + r * Dv, Dv);
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
  auto run = [&](int64_t t) {
    const int64_t qb = t % q_blocks, h = (t / q_blocks) % p.q_heads, b = t / (q_blocks * p.q_heads);
    const int64_t i0 = qb * bq, i1 = std::min(p.q_len, i0 + bq);
    if (use_tiled(i1 - i0)) attention_tiled_task(p, b, h, i0, i1, kv_len);
    else attention_task_few_queries(p, b, h, i0, i1, kv_len);
  };
  // The threads take tasks in order from one counter, so that at any time
  // they work on the query blocks of one or two heads and share those heads'
  // keys and values through the last-level cache (at Wan size 14 MB a head:
  // each task reads all of them). tbb's range splitting would start every
  // thread on a different head, each streaming its own from memory.
  const int64_t workers = std::min<int64_t>(tasks, tbb::this_task_arena::max_concurrency());
  std::atomic<int64_t> next{0};
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, workers, 1),
      [&](const tbb::blocked_range<int64_t>&) {
        for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) run(t);
      },
      tbb::simple_partitioner());
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
