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

// Scores, phase 2: a work item owns a block's mean key row and sums its dot
// product with pq in the CPU's order, d = 0, 1, ... But a subgroup reading
// 32 different rows at once touches 32 cache lines an instruction (the
// kernel's time on the H200 went there), so each subgroup first copies its
// 32 rows into local memory 32 dims at a time, one whole row segment (128
// contiguous bytes) an instruction, and the sums then read them from there
// (rows padded to 33 floats: lane l's row starts in bank l).
#define ROWS_PER_TILE 32
#define TILE_STRIDE 33
#define CHUNK_ROW 0x80000000u
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
  local float tile[NT * TILE_STRIDE];  // each subgroup's 32 rows x 32 dims
  local uint row_base[NT];             // where row i0 + tid starts; CHUNK_ROW: in pooled_chunk
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
    const uint tok0 = b * p->S + f * p->g.P;
    uint r = 0;
    // Eight rows' loads before their adds (in the same order): one load per
    // add made each add wait for its load.
    for (; r + 8 <= rows; r += 8) {
      float v[8];
      for (uint u = 0; u < 8; ++u) v[u] = q[((tok0 + sparse_token(&p->g, t, r + u)) * p->Hq + h) * D + d];
      for (uint u = 0; u < 8; ++u) s += v[u];
    }
    for (; r < rows; ++r) s += q[((tok0 + sparse_token(&p->g, t, r)) * p->Hq + h) * D + d];
    const float m = s / (float)rows;
    pq[d] = m;
    if (keep_pq && live) pooled_q[qb * D + d] = m;
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  const uint nb = STATEFUL != 0 ? ix_blocks(ix, lane) : p->nb;
  const uint stride = STATEFUL != 0 ? ix[IX_STRIDE] : p->cap;
  const uint total = nb + p->nc;
  const uint sg = tid / ROWS_PER_TILE, sl = tid % ROWS_PER_TILE;
  local float* const mine = tile + sg * ROWS_PER_TILE * TILE_STRIDE;
  // Every bound below is the same for the whole work group (one lane, one
  // query block), so the barriers are reached by all.
  for (uint i0 = 0; i0 < total; i0 += NT) {
    const uint i = i0 + tid;
    uint base = 0;
    if (i < nb) {
      const uint slot = STATEFUL != 0 ? ix[ix_entry(ix, p->lanes, lane, i)] & IX_SLOT : 0;
      base = STATEFUL == 0 ? (lane * p->nb + i) * D : HALF != 0 ? slot * D : (slot * p->R1 + p->R1 - 1) * D;
    } else if (i < total) {
      base = ((lane * p->nc + i - nb) * D) | CHUNK_ROW;
    }
    row_base[tid] = base;
    barrier(CLK_LOCAL_MEM_FENCE);
    float s = 0.0f;
    for (uint c0 = 0; c0 < D; c0 += ROWS_PER_TILE) {
      for (uint j = 0; j < ROWS_PER_TILE; ++j) {
        const uint rb = row_base[sg * ROWS_PER_TILE + j], d = c0 + sl;
        float v = 0.0f;
        if (i0 + sg * ROWS_PER_TILE + j < total && d < D)
          v = (rb & CHUNK_ROW) != 0 ? pooled_chunk[(rb & ~CHUNK_ROW) + d] : pooled_cached[rb + d];
        mine[j * TILE_STRIDE + sl] = v;
      }
      barrier(CLK_LOCAL_MEM_FENCE);
      for (uint k = 0; k < ROWS_PER_TILE && c0 + k < D; ++k) s += mine[sl * TILE_STRIDE + k] * pq[c0 + k];
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (i < total && live) scores[qb * stride + i] = p->scale * s;
  }
}
