// The OpenCL C port of kernels/vulkan/sparse_score.comp (read that file):
// per query block, its mean query and the scores of every block of its lane.
// FP_CONTRACT OFF keeps the CPU kernel's separate multiply and add in the
// dot products (the GLSL marks them precise), so the scores are the CPU's.
#pragma OPENCL FP_CONTRACT OFF

#ifndef SPEC0
#define SPEC0 16
#endif
#ifndef SPEC1
#define SPEC1 0
#endif
#ifndef SPEC2
#define SPEC2 0
#endif
#define D SPEC0         // key head dim
#define STATEFUL SPEC1  // 1: the blocks come from the device cache
#define WRITE_PQ SPEC2  // 1: keep the mean queries of the cache-filling pass
#ifndef SPEC3
#define SPEC3 0
#endif
#define HALF SPEC3      // 1: f16 pools; pooled_cached is then the f32 mean keys [slots, D]
#define NT 256

#include "sparse_common.cl"

struct sparse_score_params {
  struct sparse_geom g;
  uint S, Hq, Hkv, F, group;
  uint nb;  // cached blocks per lane
  uint nc;  // this chunk's blocks per lane (compete), else 0
  uint cap;  // scores per query block (row stride)
  uint nqb;  // query blocks
  uint lanes;  // batch * KV heads
  uint R1;     // rows of a cache slot (tile rows + the mean row)
  float scale;
};

// s += row . pq in the CPU's order, d = 0, 1, ...: each work item reads its
// own row, so a float4 at a time (D % 4 == 0) is a quarter of the load
// instructions, each touching as many cache lines as a float's (the
// kernel's time on the H200 went to them).
#if D % 4 == 0
#define DOT_ROW(rows, base)                                    \
  for (uint d = 0; d < D; d += 4) {                            \
    const float4 k4 = vload4(0, (rows) + (base) + d);          \
    s += k4.s0 * pq[d];                                        \
    s += k4.s1 * pq[d + 1];                                    \
    s += k4.s2 * pq[d + 2];                                    \
    s += k4.s3 * pq[d + 3];                                    \
  }
#else
#define DOT_ROW(rows, base) \
  for (uint d = 0; d < D; ++d) s += (rows)[(base) + d] * pq[d];
#endif

kernel __attribute__((reqd_work_group_size(NT, 1, 1))) void sparse_score(
    BUF(const float, q), BUF(const float, pooled_cached), BUF(const float, pooled_chunk), BUF(float, scores),
    BUF(float, pooled_q), BUF(const uint, ix), constant const struct sparse_score_params* p) {
  AT(const float, q);
  AT(const float, pooled_cached);
  AT(const float, pooled_chunk);
  AT(float, scores);
  AT(float, pooled_q);
  AT(const uint, ix);
  local float pq[D];
  // No early return past the end: PoCL mishandles a return before barriers.
  const bool live = flat_group() < p->nqb && (STATEFUL == 0 || flat_group() < ix[IX_QUERY_BLOCKS]);
  const uint qb = live ? flat_group() : 0;
  const uint tid = get_local_id(0);
  const uint t = qb % p->g.tiles;
  uint rest = qb / p->g.tiles;
  const uint f = rest % p->F;
  rest /= p->F;
  const uint h = rest % p->Hq, b = rest / p->Hq;
  const uint lane = b * p->Hkv + h / p->group;
  const uint rows = sparse_rows(&p->g, t);
  const bool keep_pq = WRITE_PQ != 0 && ix[IX_ACCUMULATE] != 0;
  for (uint d = tid; d < D; d += NT) {
    float s = 0.0f;
    for (uint r = 0; r < rows; ++r) {
      const uint tok = b * p->S + f * p->g.P + sparse_token(&p->g, t, r);
      s += q[(tok * p->Hq + h) * D + d];
    }
    const float m = s / (float)rows;
    pq[d] = m;
    if (keep_pq && live) pooled_q[qb * D + d] = m;
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  const uint nb = STATEFUL != 0 ? ix_blocks(ix, lane) : p->nb;
  const uint stride = STATEFUL != 0 ? ix[IX_STRIDE] : p->cap;
  for (uint i = tid; i < nb + p->nc && live; i += NT) {
    float s = 0.0f;
    if (i < nb) {
      const uint slot = STATEFUL != 0 ? ix[ix_entry(ix, p->lanes, lane, i)] & IX_SLOT : 0;
      const uint base = STATEFUL == 0 ? (lane * p->nb + i) * D : HALF != 0 ? slot * D : (slot * p->R1 + p->R1 - 1) * D;
      DOT_ROW(pooled_cached, base)
    } else {
      const uint base = (lane * p->nc + i - nb) * D;
      DOT_ROW(pooled_chunk, base)
    }
    scores[qb * stride + i] = p->scale * s;
  }
}
