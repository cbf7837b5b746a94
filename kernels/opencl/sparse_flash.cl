// The OpenCL C port of kernels/vulkan/sparse_flash.comp (read that file):
// block-sparse flash attention of one query block's 64 rows over this
// chunk's keys (DENSE) and the selected blocks' rows, gathered per tile of
// 64 keys through a binary search of the selection's row offsets; the
// arithmetic is flash_attention_tiled.cl's, in the same order as the GLSL;
// STATEFUL (the device cache's slots) and MASS (the cache-filling pass's
// per-block masses) as there. Code with barriers stays in the kernel body
// (TILE_SCORES is a macro): PoCL mishandles barriers in called functions.
#ifndef SPEC0
#define SPEC0 128
#endif
#ifndef SPEC1
#define SPEC1 128
#endif
#ifndef SPEC2
#define SPEC2 32
#endif
#ifndef SPEC3
#define SPEC3 32
#endif
#ifndef SPEC4
#define SPEC4 1
#endif
#ifndef SPEC5
#define SPEC5 0
#endif
#ifndef SPEC6
#define SPEC6 0
#endif
#define D SPEC0      // query/key head dim, multiple of 4
#define DV SPEC1     // value head dim, multiple of 4
#define DC SPEC2     // head-dim chunk of the S loop (divides D, multiple of 4)
#define VK SPEC3     // keys per staged V chunk (divides 64, multiple of 4)
#define DENSE SPEC4  // 1: this chunk's keys first, all of them
#define STATEFUL SPEC5  // 1: cached blocks are device cache slots
#define MASS SPEC6      // 1: masses of the selected blocks when accumulating
#ifndef SPEC7
#define SPEC7 0
#endif
#define HALF SPEC7      // 1 (STATEFUL): the pools hold f16, 4 halves per float4 of pk / pv
#if HALF
#define POOL_K4(i) vload_half4((i), (global const half*)pk)
#define POOL_V4(i) vload_half4((i), (global const half*)pv)
#else
#define POOL_K4(i) pk[i]
#define POOL_V4(i) pv[i]
#endif
#define BQ 64
#define BK 64
#define NT 256
#define RS4 ((DC + 4) / 4)
#define KOFF (BQ * RS4)
#define QK4 (2 * BQ * RS4)
#define V4 (VK * DV / 4)
#define A4N (QK4 > V4 ? QK4 : V4)
#define PS4 ((BK + 4) / 4)
#define NC ((DV + 15) / 16)
#define VEC ((DV % 64) == 0)
#define D4 (D / 4)
#define DV4 (DV / 4)
#define NQK ((BQ * (DC / 4) + NT - 1) / NT)
#define NVL ((V4 + NT - 1) / NT)
#define PAST 0x80000000u  // key row bit: past_key/past_value, else key/value

#include "sparse_common.cl"

// Component u of x; u is a constant once the loops are unrolled.
static inline float comp(float4 x, uint u) { return u == 0 ? x.x : u == 1 ? x.y : u == 2 ? x.z : x.w; }

// What key_row needs of the work group.
struct flash_keys {
  constant const struct sparse_flash_params* p;
  global const uint* ix;
  global const uint* ids;    // the selection's blocks
  global const uint* start;  // their row offsets
  uint count, nd, nkeys, nb, b, hk, lane;
  uint blk_at;  // the selected block holding the tile's first key (keys only move forward)
};

// The row of flat key j (PAST bit: past_key/past_value or the cache pools),
// its log weight (log2 units) and its selection index.
static inline void key_row(const struct flash_keys* w, uint j, uint* row, float* lw, uint* sel_index) {
  constant const struct sparse_flash_params* p = w->p;
  uint kr = 0, k = 0;
  float l = 0.0f;
  if (j < w->nd) {
    kr = STATEFUL != 0 ? ix_chunk_key_row(&p->g, w->ix, p->lanes, w->lane, p->R1, j) | PAST
                       : (w->b * p->Sk + j) * p->Hkv + w->hk;
  } else if (j < w->nkeys) {
    const uint jj = j - w->nd;
    // The last block whose rows start at or before jj: a step or two past the
    // tile's first key's block for blocks of tens of rows.
    uint lo = w->blk_at;
    while (lo + 1 < w->count && w->start[lo + 1] <= jj) ++lo;
    const uint blk = w->ids[lo], r = jj - w->start[lo];
    k = lo;
    if (blk >= w->nb && STATEFUL != 0) {  // a block of this chunk (compete), in its slot
      kr = ix_appended_row(w->ix, p->lanes, w->lane, p->R1, blk - w->nb, r) | PAST;
    } else if (blk >= w->nb) {  // a block of this chunk (compete)
      const uint c = blk - w->nb, fk = c / p->g.tiles, t2 = c - fk * p->g.tiles;
      kr = (w->b * p->Sk + fk * p->g.P + sparse_token(&p->g, t2, r)) * p->Hkv + w->hk;
    } else if (STATEFUL != 0) {  // a slot of the device cache
      const uint e = ix_entry(w->ix, p->lanes, w->lane, blk), slot = w->ix[e];
      kr = (((slot & IX_SLOT) * p->R1 + ((slot & IX_COMPRESSED) != 0 ? p->R1 - 1 : 0)) + r) | PAST;
      l = as_float(w->ix[e + 3]) * 1.4426950408889634f;
    } else {  // a cached block: a tile of a past frame
      const uint fr = blk / p->g.tiles, t2 = blk - fr * p->g.tiles;
      kr = ((w->b * p->T + fr * p->g.P + sparse_token(&p->g, t2, r)) * p->Hkv + w->hk) | PAST;
    }
  }
  *row = kr;
  *lw = l;
  *sel_index = k;
}

// s = Q K^T of the tile at K0 (its rows in krow, visible), over the head dim
// in chunks of DC; a chunk's global loads are issued before the barrier.
#define TILE_SCORES(K0)                                                                      \
  _Pragma("unroll")                                                                        \
  for (uint x = 0; x < 16; ++x) s[x] = 0.0f;                                                 \
  for (uint d0 = 0; d0 < D; d0 += DC) {                                                      \
    _Pragma("unroll")                                                                      \
    for (uint n = 0; n < NQK; ++n) {                                                         \
      const uint e = tid + n * NT;                                                           \
      const uint r = e / (DC / 4), c = e - r * (DC / 4);                                     \
      const uint dq = d0 / 4 + c;                                                            \
      float4 x = (float4)(0.0f), y = (float4)(0.0f);                                         \
      if (e < BQ * (DC / 4)) {                                                               \
        if (qrow[r] != ~0u) x = q[qrow[r] + dq];                                             \
        if ((K0) + r < nkeys) {                                                              \
          const uint kr = krow[r];                                                           \
          y = STATEFUL != 0 || (kr & PAST) != 0 ? POOL_K4((kr & ~PAST) * D4 + dq) : k[kr * D4 + dq]; \
        }                                                                                    \
      }                                                                                      \
      rq[n] = x;                                                                             \
      rk[n] = y;                                                                             \
    }                                                                                        \
    barrier(CLK_LOCAL_MEM_FENCE); /* previous chunk (or V chunk) consumed */                 \
    _Pragma("unroll")                                                                      \
    for (uint n = 0; n < NQK; ++n) {                                                         \
      const uint e = tid + n * NT;                                                           \
      const uint r = e / (DC / 4), c = e - r * (DC / 4);                                     \
      if (e < BQ * (DC / 4)) {                                                               \
        A4[r * RS4 + c] = rq[n];                                                             \
        A4[KOFF + r * RS4 + c] = rk[n];                                                      \
      }                                                                                      \
    }                                                                                        \
    barrier(CLK_LOCAL_MEM_FENCE);                                                            \
    _Pragma("unroll")                                                                      \
    for (uint dd = 0; dd < DC / 4; ++dd) {                                                   \
      float4 qv[4], kv[4];                                                                   \
      _Pragma("unroll")                                                                    \
      for (uint i = 0; i < 4; ++i) qv[i] = A4[(ty + 16 * i) * RS4 + dd];                     \
      _Pragma("unroll")                                                                    \
      for (uint j = 0; j < 4; ++j) kv[j] = A4[KOFF + (tx + 16 * j) * RS4 + dd];              \
      _Pragma("unroll")                                                                    \
      for (uint i = 0; i < 4; ++i) {                                                         \
        _Pragma("unroll")                                                                  \
        for (uint j = 0; j < 4; ++j) {                                                       \
          float x = s[i * 4 + j];                                                            \
          x = fma(qv[i].x, kv[j].x, x);                                                      \
          x = fma(qv[i].y, kv[j].y, x);                                                      \
          x = fma(qv[i].z, kv[j].z, x);                                                      \
          x = fma(qv[i].w, kv[j].w, x);                                                      \
          s[i * 4 + j] = x;                                                                  \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
  }

kernel __attribute__((reqd_work_group_size(NT, 1, 1))) void sparse_flash(
    BUF(const float4, q), BUF(const float4, k), BUF(const float4, v), BUF(const float4, pk), BUF(const float4, pv),
    BUF(const uint, sel), BUF(float4, o), BUF(const uint, ix), BUF(float, mass),
    constant const struct sparse_flash_params* p) {
  AT(const float4, q);
  AT(const float4, k);
  AT(const float4, v);
  AT(const float4, pk);
  AT(const float4, pv);
  AT(const uint, sel);
  AT(float4, o);
  AT(const uint, ix);
  AT(float, mass);
  local float4 A4[A4N];       // Q and K chunks, or a V chunk
  local float4 P4[BQ * PS4];  // probabilities of the current tile
  local float red[BQ * 16];   // per-row partial maxima / sums
  local uint qrow[BQ];        // query rows (float4 index of the row), ~0u past the block
  local uint krow[BK];        // key rows of the current tile ([rows, D] index, PAST bit)
  local float klw[BK];        // their log weights, log2 units
  local uint ksel[BK];        // their selection index (MASS)
  local float kmass[BK];      // MASS: the tile's per-key masses
  local float* P = (local float*)P4;
  local const float* A = (local const float*)A4;

  // No early return for groups without rows: PoCL mishandles a return
  // before barriers. They run no key tile and write nothing.
  const uint grp = flat_group();
  const struct sparse_flash_group G = sparse_flash_group_of(p, ix, sel, grp, BQ, STATEFUL);
  const uint qb = G.qb, t = G.t, f = G.f, h = G.h, b = G.b, hk = G.hk, rows = G.rows, r0 = G.r0, stride = G.stride;
  const bool live = G.live;
  const uint tid = get_local_id(0);
  const uint tx = tid % 16, ty = tid / 16;
  struct flash_keys w;
  w.p = p, w.ix = ix;
  w.ids = G.ids;
  w.start = G.start;
  w.count = G.count;
  w.nd = DENSE != 0 ? p->Sk : 0;
  w.nkeys = live ? w.nd + w.start[w.count] : 0;
  w.b = b, w.hk = hk, w.lane = b * p->Hkv + hk;
  w.nb = STATEFUL != 0 ? ix_blocks(ix, w.lane) : p->nb;
  w.blk_at = 0;
  const uint nkeys = w.nkeys;
  const float sl2 = p->scale * 1.4426950408889634f;  // scores in log2 units
  if (tid < BQ)
    qrow[tid] = live && r0 + tid < rows ? ((b * p->S + f * p->g.P + sparse_token(&p->g, t, r0 + tid)) * p->Hq + h) * D4 : ~0u;

  float4 rq[NQK], rk[NQK], rv[NVL];
  float s[16];  // s[i * 4 + j]: row ty + 16 i, key tx + 16 j
  float acc[4 * NC];  // acc[i * NC + c]: row ty + 16 i, column col(c)
#pragma unroll
  for (uint x = 0; x < 4 * NC; ++x) acc[x] = 0.0f;
  float m[4], l[4];
#pragma unroll
  for (uint i = 0; i < 4; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
  }

  for (uint k0 = 0; k0 < nkeys; k0 += BK) {
    barrier(CLK_LOCAL_MEM_FENCE);  // the previous tile's rows and V chunk consumed
    if (tid < BK) {
      uint kr, ks;
      float lw;
      key_row(&w, k0 + tid, &kr, &lw, &ks);
      krow[tid] = kr;
      klw[tid] = lw;
      ksel[tid] = ks;
    }
    barrier(CLK_LOCAL_MEM_FENCE);  // the tile's rows written
    TILE_SCORES(k0)
    w.blk_at = ksel[BK - 1];  // read after TILE_SCORES' barriers
    // Online softmax: scaled scores, keys past the end masked, row maxima.
#pragma unroll
    for (uint i = 0; i < 4; ++i) {
      float mt = -INFINITY;
#pragma unroll
      for (uint j = 0; j < 4; ++j) {
        const uint kk = tx + 16 * j;
        const float x = k0 + kk < nkeys ? s[i * 4 + j] * sl2 + klw[kk] : -INFINITY;
        s[i * 4 + j] = x;
        mt = max(mt, x);
      }
      red[(ty + 16 * i) * 16 + tx] = mt;
    }
    barrier(CLK_LOCAL_MEM_FENCE);  // partial maxima written; Q/K chunks consumed
#pragma unroll
    for (uint i = 0; i < 4; ++i) {
      const uint row = ty + 16 * i;
      float mt = m[i];
#pragma unroll
      for (uint u = 0; u < 16; ++u) mt = max(mt, red[row * 16 + u]);
      // The tile's first key exists, so mt is finite.
      const float alpha = exp2(m[i] - mt);
      m[i] = mt;
      float ls = 0.0f;
#pragma unroll
      for (uint j = 0; j < 4; ++j) {
        const float pj = exp2(s[i * 4 + j] - mt);
        ls += pj;
        P[row * PS4 * 4 + tx + 16 * j] = pj;
      }
      l[i] = l[i] * alpha + ls;
#pragma unroll
      for (uint c = 0; c < NC; ++c) acc[i * NC + c] *= alpha;
    }

    // O += P V, V staged VK keys at a time in the Q/K chunk area.
    for (uint v0 = 0; v0 < BK; v0 += VK) {
#pragma unroll
      for (uint n = 0; n < NVL; ++n) {
        const uint e = tid + n * NT;
        const uint r = e / DV4, c = e - r * DV4;
        float4 x = (float4)(0.0f);
        if (e < V4 && k0 + v0 + r < nkeys) {
          const uint kr = krow[v0 + r];
          x = STATEFUL != 0 || (kr & PAST) != 0 ? POOL_V4((kr & ~PAST) * DV4 + c) : v[kr * DV4 + c];
        }
        rv[n] = x;
      }
      barrier(CLK_LOCAL_MEM_FENCE);  // previous V chunk consumed; P written
#pragma unroll
      for (uint n = 0; n < NVL; ++n) {
        const uint e = tid + n * NT;
        if (e < V4) A4[e] = rv[n];
      }
      barrier(CLK_LOCAL_MEM_FENCE);
      for (uint kk = 0; kk < VK; kk += 4) {
        float4 pr[4];
#pragma unroll
        for (uint i = 0; i < 4; ++i) pr[i] = P4[(ty + 16 * i) * PS4 + (v0 + kk) / 4];
#pragma unroll
        for (uint u = 0; u < 4; ++u) {
          if (VEC) {
#pragma unroll
            for (uint c4 = 0; c4 < NC / 4; ++c4) {
              const float4 x = A4[(kk + u) * DV4 + tx + 16 * c4];
#pragma unroll
              for (uint i = 0; i < 4; ++i) {
                const float pi = comp(pr[i], u);
                acc[i * NC + 4 * c4 + 0] = fma(pi, x.x, acc[i * NC + 4 * c4 + 0]);
                acc[i * NC + 4 * c4 + 1] = fma(pi, x.y, acc[i * NC + 4 * c4 + 1]);
                acc[i * NC + 4 * c4 + 2] = fma(pi, x.z, acc[i * NC + 4 * c4 + 2]);
                acc[i * NC + 4 * c4 + 3] = fma(pi, x.w, acc[i * NC + 4 * c4 + 3]);
              }
            }
          } else {
#pragma unroll
            for (uint c = 0; c < NC; ++c) {
              const uint col = tx + 16 * c;
              const float x = col < DV ? A[(kk + u) * DV + col] : 0.0f;
#pragma unroll
              for (uint i = 0; i < 4; ++i) acc[i * NC + c] = fma(comp(pr[i], u), x, acc[i * NC + c]);
            }
          }
        }
      }
    }
  }

  // Row sums: reduce the 16 partial sums of each row.
  barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll
  for (uint i = 0; i < 4; ++i) red[(ty + 16 * i) * 16 + tx] = l[i];
  barrier(CLK_LOCAL_MEM_FENCE);
  float linv[4];
#pragma unroll
  for (uint i = 0; i < 4; ++i) {
    float ls = 0.0f;
#pragma unroll
    for (uint u = 0; u < 16; ++u) ls += red[(ty + 16 * i) * 16 + u];
    linv[i] = ls > 0.0f ? 1.0f / ls : 0.0f;
  }

  if (MASS != 0 && ix[IX_ACCUMULATE] != 0) {
    // Each selected block's mass: the final softmax of its keys, summed
    // over the group's rows (see the GLSL).
    const bool write = live && grp < ix[IX_QUERY_GROUPS];
    const uint mbase = grp * stride;
    uint cur = ~0u;
    float acc_mass = 0.0f;
    w.blk_at = 0;
    for (uint k0 = w.nd; k0 < nkeys; k0 += BK) {
      barrier(CLK_LOCAL_MEM_FENCE);  // the previous tile's rows and masses consumed
      if (tid < BK) {
        uint kr, ks;
        float lw;
        key_row(&w, k0 + tid, &kr, &lw, &ks);
        krow[tid] = kr;
        klw[tid] = lw;
        ksel[tid] = ks;
      }
      barrier(CLK_LOCAL_MEM_FENCE);  // the tile's rows written
      TILE_SCORES(k0)
      w.blk_at = ksel[BK - 1];
#pragma unroll
      for (uint j = 0; j < 4; ++j) {
        const uint kk = tx + 16 * j;
        float cm = 0.0f;
#pragma unroll
        for (uint i = 0; i < 4; ++i)
          if (qrow[ty + 16 * i] != ~0u && k0 + kk < nkeys) cm += exp2(s[i * 4 + j] * sl2 + klw[kk] - m[i]) * linv[i];
        red[kk * 16 + ty] = cm;
      }
      barrier(CLK_LOCAL_MEM_FENCE);
      if (tid < BK) {
        float cm = 0.0f;
#pragma unroll
        for (uint u = 0; u < 16; ++u) cm += red[tid * 16 + u];
        kmass[tid] = cm;
      }
      barrier(CLK_LOCAL_MEM_FENCE);
      if (tid == 0)
        for (uint kk = 0; kk < BK && k0 + kk < nkeys; ++kk) {
          if (ksel[kk] != cur) {
            if (cur != ~0u && write) mass[mbase + cur] = acc_mass;
            cur = ksel[kk];
            acc_mass = 0.0f;
          }
          acc_mass += kmass[kk];
        }
    }
    if (tid == 0 && cur != ~0u && write) mass[mbase + cur] = acc_mass;
  }

  // No `continue` in this unrolled loop (sparse_flash.comp: with one, the
  // H200's Vulkan compiler kept acc[] in local memory).
#pragma unroll
  for (uint i = 0; i < 4; ++i) {
    const uint row = ty + 16 * i;
    if (qrow[row] != ~0u) {
      const float inv = linv[i];
      const uint ob4 = ((b * p->S + f * p->g.P + sparse_token(&p->g, t, r0 + row)) * p->Hq + h) * DV4;
      if (VEC) {
#pragma unroll
        for (uint c4 = 0; c4 < NC / 4; ++c4)
          o[ob4 + tx + 16 * c4] = (float4)(acc[i * NC + 4 * c4 + 0], acc[i * NC + 4 * c4 + 1],
                                           acc[i * NC + 4 * c4 + 2], acc[i * NC + 4 * c4 + 3]) *
                                  inv;
      } else {
        global float* of = (global float*)o;
#pragma unroll
        for (uint c = 0; c < NC; ++c) {
          const uint col = tx + 16 * c;
          if (col < DV) of[ob4 * 4 + col] = acc[i * NC + c] * inv;
        }
      }
    }
  }
}
