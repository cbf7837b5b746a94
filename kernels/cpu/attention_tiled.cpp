// Flash attention on the GEMM micro-kernel (MR x NR tiles; on AVX-512 the
// 8 x 48 variant), computed transposed so that no product's result needs
// repacking: for each strip of NR queries and block of keys
//   S^T = K Q^T     tiles of MR keys x NR queries; A: K packed in MR-key panels,
//                   B: the strip's scaled queries, packed once per task
//   softmax         down the columns: each lane is one query, so the running
//                   max, exp and sums are whole-vector operations, no reductions
//                   across lanes (biases and masks, when a block has any, go
//                   through attention_rows.h one query column at a time)
//   O^T += V^T P^T  tiles of MR value dims x NR queries; B is the strip's
//                   probabilities exactly as the first product wrote them
//                   (NR-wide rows, a packed B panel), A: V packed in MR-dim panels
// K and V are packed once per block and task (K transposed, V copied), and
// stay in L2 (2 x 128 KB for 256 keys of 128) while the strips run; a strip's
// scores and outputs stay in L1/L2. Every tile is full: padded queries, keys
// and dims are zeros in the packs, and their results are never read.
#include "kernels/cpu/attention_tiled.h"

#include <algorithm>
#include <cstring>

#include "graph/error.h"
#include "kernels/cpu/aligned_scratch.h"
#include "kernels/cpu/attention_rows.h"
#include "kernels/cpu/gemm_microkernel.h"
#include "kernels/cpu/multiversion.h"
#include "kernels/cpu/transpose_tile.h"
#include "kernels/cpu/vector_math.h"

#pragma GCC diagnostic ignored "-Wpsabi"

namespace vdrt::cpu {
namespace {

using namespace attention_rows;

constexpr int64_t kBlock = 256;  // keys per block

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// dst[r * dst_row + c] = src[c * src_col + r] for r < rows, c < cols, and
// zeros in columns [cols, width).
void transpose_padded(const float* src, int64_t src_col, float* dst, int64_t dst_row, int64_t rows, int64_t cols,
                      int64_t width) {
  transpose_tile(sizeof(float), reinterpret_cast<const uint8_t*>(src), src_col, reinterpret_cast<uint8_t*>(dst),
                 dst_row, rows, cols);
  if (cols < width)
    for (int64_t r = 0; r < rows; ++r) std::fill(dst + r * dst_row + cols, dst + r * dst_row + width, 0.0f);
}

// rows x width floats (row stride src_row) into rows of `panel` floats,
// zeros past width. The usual panel widths are compile-time sizes, so a row
// is a few vector moves rather than a memcpy call.
template <int P>
void copy_rows_fixed(const float* src, int64_t src_row, float* dst, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * P, src + r * src_row, sizeof(float) * P);
}
void copy_panel(const float* src, int64_t src_row, float* dst, int64_t rows, int64_t width, int64_t panel) {
  if (width == panel) {
    switch (panel) {
      case 6: return copy_rows_fixed<6>(src, src_row, dst, rows);
      case 8: return copy_rows_fixed<8>(src, src_row, dst, rows);
      case 14: return copy_rows_fixed<14>(src, src_row, dst, rows);
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(dst + r * panel, src + r * src_row, sizeof(float) * width);
    std::fill(dst + r * panel + width, dst + (r + 1) * panel, 0.0f);
  }
}

// The online-softmax step of one strip: scores s[j * NR + q] of keys j < n
// for the NR queries q become exp(s - m'), m' = max(m, column max), the
// running max m and normaliser l move to m', and the strip's outputs
// o[d * NR + q] (d < dv) are rescaled. A query with nothing visible yet
// (m' = -inf) gets zeros and keeps its state, as softmax_step does.
template <int NR>
__attribute__((always_inline)) inline void softmax_columns_body(float* s, int64_t n, float* m, float* l, float* o,
                                                                int64_t dv) {
  constexpr int W = NR % 16 == 0 ? 16 : 8, NV = NR / W;
  typedef float V __attribute__((vector_size(W * 4)));
  typedef float VU __attribute__((vector_size(W * 4), aligned(4)));
  auto at = [](float* p) -> VU& { return *reinterpret_cast<VU*>(p); };
  V mx[NV], use[NV], corr[NV], sum[NV];
  for (int v = 0; v < NV; ++v) mx[v] = at(m + v * W);
  for (int64_t j = 0; j < n; ++j)
    for (int v = 0; v < NV; ++v) {
      const V x = at(s + j * NR + v * W);
      mx[v] = x > mx[v] ? x : mx[v];
    }
  bool rescale = false;
  for (int v = 0; v < NV; ++v) {
    const V old = at(m + v * W);
    use[v] = mx[v] == -std::numeric_limits<float>::infinity() ? 0.0f : mx[v];
    corr[v] = vmath::exp(old - use[v]);  // 0 while nothing was visible (old = -inf)
    for (int x = 0; x < W; ++x) rescale |= corr[v][x] != 1.0f;
    at(m + v * W) = mx[v];
    sum[v] = V{};
  }
  for (int64_t j = 0; j < n; ++j)
    for (int v = 0; v < NV; ++v) {
      const V e = vmath::exp(V(at(s + j * NR + v * W)) - use[v]);
      at(s + j * NR + v * W) = e;
      sum[v] += e;
    }
  for (int v = 0; v < NV; ++v) at(l + v * W) = V(at(l + v * W)) * corr[v] + sum[v];
  if (rescale)
    for (int64_t d = 0; d < dv; ++d)
      for (int v = 0; v < NV; ++v) at(o + d * NR + v * W) = V(at(o + d * NR + v * W)) * corr[v];
}

VDRT_MULTIVERSION void softmax_columns_8(float* s, int64_t n, float* m, float* l, float* o, int64_t dv) {
  softmax_columns_body<8>(s, n, m, l, o, dv);
}
VDRT_MULTIVERSION void softmax_columns_16(float* s, int64_t n, float* m, float* l, float* o, int64_t dv) {
  softmax_columns_body<16>(s, n, m, l, o, dv);
}
VDRT_MULTIVERSION void softmax_columns_32(float* s, int64_t n, float* m, float* l, float* o, int64_t dv) {
  softmax_columns_body<32>(s, n, m, l, o, dv);
}
VDRT_MULTIVERSION void softmax_columns_48(float* s, int64_t n, float* m, float* l, float* o, int64_t dv) {
  softmax_columns_body<48>(s, n, m, l, o, dv);
}

using SoftmaxColumns = void (*)(float*, int64_t, float*, float*, float*, int64_t);
SoftmaxColumns softmax_columns_for(int nr) {
  switch (nr) {
    case 8: return softmax_columns_8;
    case 16: return softmax_columns_16;
    case 32: return softmax_columns_32;
    case 48: return softmax_columns_48;
  }
  throw Error("attention: no column softmax for micro-kernel tiles " + std::to_string(nr) + " wide");
}

// Whether keys [j0, j0 + n) need attention_rows' adjustments for any query
// of [i0, i1): softcap, a bias, or a structural mask that cuts the block.
bool needs_adjusting(const AttentionParams& p, int64_t b, int64_t i0, int64_t i1, int64_t j0, int64_t n,
                     int64_t kv_len) {
  if (p.softcap > 0 || p.bias[0].data || p.bias[1].data) return true;
  // The bounds grow with the query index: the first query has the lowest hi,
  // the last the highest lo.
  return visible_keys(p, b, i0, kv_len).hi < j0 + n || visible_keys(p, b, i1 - 1, kv_len).lo > j0;
}

// Prefetches the next key block's K and V rows a few cache lines at a time,
// between the micro-kernel tiles of the current block, so that packing reads
// them from L2 instead of stalling on memory: a head's rows of a [B, S, H, D]
// cache are 512 bytes every 6 KB at Wan width, which the hardware
// prefetchers do not follow far enough ahead.
class NextBlockPrefetch {
 public:
  void start(const float* k, int64_t k_stride, int64_t k_len, const float* v, int64_t v_stride, int64_t v_len,
             int64_t rows, int64_t steps) {
    k_ = reinterpret_cast<const char*>(k), v_ = reinterpret_cast<const char*>(v);
    k_stride_ = k_stride * 4, v_stride_ = v_stride * 4;
    k_lines_ = (k_len * 4 + 63) / 64, v_lines_ = (v_len * 4 + 63) / 64;
    rows_ = rows, row_ = 0, line_ = 0;
    per_step_ = (rows * (k_lines_ + v_lines_) + steps - 1) / std::max<int64_t>(steps, 1);
  }
  void stop() { rows_ = 0; }
  // Issues the next share of the prefetches.
  void step() {
    for (int64_t n = 0; n < per_step_ && row_ < rows_; ++n) {
      if (line_ < k_lines_) __builtin_prefetch(k_ + row_ * k_stride_ + line_ * 64, 0, 2);
      else __builtin_prefetch(v_ + row_ * v_stride_ + (line_ - k_lines_) * 64, 0, 2);
      if (++line_ == k_lines_ + v_lines_) line_ = 0, ++row_;
    }
  }

 private:
  const char *k_ = nullptr, *v_ = nullptr;
  int64_t k_stride_ = 0, v_stride_ = 0, k_lines_ = 0, v_lines_ = 0, rows_ = 0, row_ = 0, line_ = 0, per_step_ = 0;
};

// One buffer per thread for each operand: a task runs whole on one thread.
struct Buffers {
  AlignedScratch q{"attention query panels"}, k{"attention key panels"}, v{"attention value panels"},
      s{"attention scores"}, o{"attention output"}, ml{"attention softmax state"}, col{"attention score column"};
};
thread_local Buffers t_buffers;

}  // namespace

int64_t attention_tiled_strip() { return best_attention_microkernel().nr; }

void attention_tiled_task(const AttentionParams& p, int64_t b, int64_t h, int64_t i0, int64_t i1, int64_t kv_len) {
  const GemmMicroKernel& mk = best_attention_microkernel();
  const SoftmaxColumns softmax_columns = softmax_columns_for(mk.nr);
  const int64_t mr = mk.mr, nr = mk.nr;
  const int64_t bq = i1 - i0, D = p.head_dim, Dv = p.v_head_dim;
  const int64_t strips = (bq + nr - 1) / nr;
  const int64_t key_rows = round_up(kBlock, mr), dv_rows = round_up(Dv, mr);
  const int64_t kvh = h / (p.q_heads / p.kv_heads);

  Buffers& t = t_buffers;
  float* qp = t.q.get<float>(strips * D * nr);        // [strip][D][nr]: B of S^T
  float* kp = t.k.get<float>(key_rows * D);           // [key panel][D][mr]: A of S^T
  float* vp = t.v.get<float>(dv_rows * kBlock);       // [dim panel][key][mr]: A of O^T
  float* s = t.s.get<float>(key_rows * nr);           // [key][nr]: S^T, then P^T (B of O^T)
  float* o = t.o.get<float>(strips * dv_rows * nr);   // [strip][dim][nr]: O^T
  float* m = t.ml.get<float>(2 * strips * nr);
  float* l = m + strips * nr;
  float* col = t.col.get<float>(kBlock);
  std::fill(o, o + strips * dv_rows * nr, 0.0f);
  std::fill(m, m + strips * nr, kNegInf);
  std::fill(l, l + strips * nr, 0.0f);

  const float* qbase = p.q.data + b * p.q.batch_stride + h * p.q.head_stride + i0 * p.q.seq_stride;
  for (int64_t st = 0; st < strips; ++st)
    transpose_padded(qbase + st * nr * p.q.seq_stride, p.q.seq_stride, qp + st * D * nr, nr, D,
                     std::min(nr, bq - st * nr), nr);
  for (int64_t x = 0; x < strips * D * nr; ++x) qp[x] *= p.scale;

  const KeyRange visit = keys_to_visit(p, b, i0, i1, kv_len);
  auto rows_of = [&](const KeyBlock& blk, const AttentionTensor& x) {
    return x.data + b * x.batch_stride + kvh * x.head_stride + blk.local * x.seq_stride;
  };
  NextBlockPrefetch prefetch;
  for_each_key_block(p, kBlock, [&](int64_t j0, const KeyBlock& blk) {
    const int64_t bk = blk.len;
    if (j0 + bk <= visit.lo || j0 >= visit.hi) return;
    const AttentionKV& seg = *blk.seg;
    const float* k = rows_of(blk, seg.k);
    const float* v = rows_of(blk, seg.v);
    const int64_t key_panels = (bk + mr - 1) / mr;
    const KeyBlock next = key_block_after(p, blk, kBlock);
    if (next.seg && j0 + bk < visit.hi)
      prefetch.start(rows_of(next, next.seg->k), next.seg->k.seq_stride, D, rows_of(next, next.seg->v),
                     next.seg->v.seq_stride, Dv, next.len, strips * (key_panels + dv_rows / mr));
    else
      prefetch.stop();
    for (int64_t c = 0; c < key_panels; ++c)
      transpose_padded(k + c * mr * seg.k.seq_stride, seg.k.seq_stride, kp + c * D * mr, mr, D,
                       std::min(mr, bk - c * mr), mr);
    for (int64_t d0 = 0; d0 < dv_rows; d0 += mr)
      copy_panel(v + d0, seg.v.seq_stride, vp + d0 * bk, bk, std::min(mr, Dv - d0), mr);

    for (int64_t st = 0; st < strips; ++st) {
      const int64_t q0 = i0 + st * nr, real = std::min(nr, i1 - q0);
      for (int64_t c = 0; c < key_panels; ++c) {
        mk.tile(D, kp + c * D * mr, qp + st * D * nr, s + c * mr * nr, nr, 1.0f, 0.0f, int(mr), int(nr));
        prefetch.step();
      }
      if (needs_adjusting(p, b, q0, q0 + real, j0, bk, kv_len))
        for (int64_t q = 0; q < real; ++q) {
          for (int64_t j = 0; j < bk; ++j) col[j] = s[j * nr + q];
          adjust_scores(p, b, h, q0 + q, j0, bk, col, kv_len);
          for (int64_t j = 0; j < bk; ++j) s[j * nr + q] = col[j];
        }
      float* os = o + st * dv_rows * nr;
      softmax_columns(s, bk, m + st * nr, l + st * nr, os, Dv);
      for (int64_t d0 = 0; d0 < dv_rows; d0 += mr) {
        mk.tile(bk, vp + d0 * bk, s, os + d0 * nr, nr, 1.0f, 1.0f, int(mr), int(nr));
        prefetch.step();
      }
    }
  });

  float* obase = p.out + b * p.out_batch_stride + h * p.out_head_stride;
  for (int64_t r = 0; r < bq; ++r) {
    const int64_t st = r / nr, q = r % nr;
    const float* os = o + st * dv_rows * nr + q;
    float* dst = obase + (i0 + r) * p.out_seq_stride;
    const float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
    for (int64_t c = 0; c < Dv; ++c) dst[c] = os[c * nr] * inv;
  }
}

}  // namespace vdrt::cpu
