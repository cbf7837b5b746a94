// Block-sparse flash attention of vdrt.PBSAttention / vdrt.HSAttention on
// NVIDIA tensor cores through inline PTX (tensor_core_ptx.cl): the OpenCL
// twin of kernels/vulkan/sparse_flash_coopmat.comp (same constants,
// bindings and parameters; read that file for the selection), with the
// tile loop of flash_attention_coopmat.cl. One work group of NT = 128 (4
// subgroups of 16 query rows) per 64 rows of a query block; its keys are
// this chunk's keys when DENSE, then the rows of the selected blocks in
// sparse_select's order, 32 a tile:
//   * query rows are gathered from the block's tokens (f32 q, rounded to
//     f16 into the subgroup's A fragments once) and output rows scattered
//     back;
//   * each tile's key rows come from a table in local memory that the first
//     32 work items fill one tile ahead (three tables in turn, so a table is
//     never rewritten while a slower subgroup reads it), with the key's log
//     weight (a compressed block's one row) added to its score;
//   * without a device cache every key row lives in the f16 copies k16 /
//     v16 [B, Hkv, T + Sk, D] of the past then this chunk's keys
//     (flash_attention_f16_rows), and tiles travel by cp.async one tile
//     ahead; STATEFUL, in the cache's pools pk / pv: f16 with HALF (fp16
//     sessions; cp.async as above), else f32 rounded to f16 as they are
//     staged;
//   * MASS (PBSA's saliency in the cache-filling pass): a second sweep over
//     the cached keys sums each selected block's final softmax mass over the
//     group's rows into mass[query group, selection index].
// Rows past the last key point at a real row and are masked in the scores.
#include "flash_ptx_tile.cl"
#include "sparse_common.cl"

#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
#ifndef SPARSE_KERNEL
#define SPARSE_KERNEL sparse_flash_coopmat
#endif
#ifndef SPEC1
#define SPEC0 32
#define SPEC1 128
#define SPEC2 0
#define SPEC3 1
#define SPEC4 1
#define SPEC5 0
#define SPEC6 0
#endif
#ifndef SPEC7
#define SPEC7 0
#endif
#define HALF SPEC7  // 1 (STATEFUL): the pools hold f16 rows, copied as they are
#define NT SPEC1
#define WARPS (NT / 32)
#define BQ (16 * WARPS)
#define DENSE SPEC4
#define STATEFUL SPEC5
#define MASS SPEC6
#define D HEAD_DIM
#define D4 (D / 4)
#define CH (D / 8)  // 16-byte chunks of an f16 row
#define KEYS 32

// What key_row needs of the work group.
struct tc_keys {
  constant const struct sparse_flash_params* p;
  global const uint* ix;
  global const uint* ids;    // the selection's blocks
  global const uint* start;  // their row offsets
  uint count, nd, nkeys, nb, lane;
  uint past_rows;  // without a cache: the lane's first row in k16 / v16
  uint pad_row;    // a real row for keys past nkeys
};

// The row of flat key j (in k16 / v16, or the pools when STATEFUL), its log
// weight (log2 units) and its selection index. *blk_at: the selected block
// holding the previous key looked up (keys only move forward).
static inline void key_row(const struct tc_keys* w, uint j, uint* blk_at, uint* row, float* lw, uint* sel_index) {
  constant const struct sparse_flash_params* p = w->p;
  uint kr = w->pad_row, k = 0;
  float l = 0.0f;
  if (j < w->nd) {
    kr = STATEFUL != 0 ? ix_chunk_key_row(&p->g, w->ix, p->lanes, w->lane, p->R1, j) : w->past_rows + p->T + j;
  } else if (j < w->nkeys) {
    const uint jj = j - w->nd;
    uint lo = *blk_at;
    while (lo + 1 < w->count && w->start[lo + 1] <= jj) ++lo;
    *blk_at = lo;
    const uint blk = w->ids[lo], r = jj - w->start[lo];
    k = lo;
    if (STATEFUL != 0 && blk >= w->nb) {  // a block of this chunk (compete), in its slot
      kr = ix_appended_row(w->ix, p->lanes, w->lane, p->R1, blk - w->nb, r);
    } else if (blk >= w->nb) {  // a block of this chunk (compete)
      const uint c = blk - w->nb, fk = c / p->g.tiles, t2 = c - fk * p->g.tiles;
      kr = w->past_rows + p->T + fk * p->g.P + sparse_token(&p->g, t2, r);
    } else if (STATEFUL != 0) {  // a slot of the device cache
      const uint e = ix_entry(w->ix, p->lanes, w->lane, blk), slot = w->ix[e];
      kr = (slot & IX_SLOT) * p->R1 + ((slot & IX_COMPRESSED) != 0 ? p->R1 - 1 : 0) + r;
      l = as_float(w->ix[e + 3]) * 1.4426950408889634f;
    } else {  // a cached block: a tile of a past frame
      const uint fr = blk / p->g.tiles, t2 = blk - fr * p->g.tiles;
      kr = w->past_rows + fr * p->g.P + sparse_token(&p->g, t2, r);
    }
  }
  *row = kr;
  *lw = l;
  *sel_index = k;
}

// The K (and V) tile whose rows are in krow[kb ..] into stage st: cp.async
// from the f16 copies, or (STATEFUL) f32 pool rows rounded to f16.
#if STATEFUL && !HALF
#define STAGE_ROWS(dst, pool, kb)                                                                \
  for (uint e = tid; e < KEYS * CH; e += NT) {                                                   \
    const uint r = e / CH, ch = e % CH, at = krow[(kb) + r] * D4 + 2 * ch;                       \
    const float4 x = pool[at], y = pool[at + 1];                                                 \
    dst[swizzle(r, ch, CH)] = (uint4)(pack_f16x2(x.x, x.y), pack_f16x2(x.z, x.w), pack_f16x2(y.x, y.y), \
                                      pack_f16x2(y.z, y.w));                                     \
  }
#define LOAD_K(st, kb) STAGE_ROWS(Ks[st], pk, kb)
#define LOAD_KV(st, kb) STAGE_ROWS(Ks[st], pk, kb) STAGE_ROWS(Vs[st], pv, kb)
#else
#if STATEFUL  // HALF: the pools' f16 rows
#define KEY_ROWS ((global const uint4*)pk)
#define VALUE_ROWS ((global const uint4*)pv)
#else
#define KEY_ROWS k16
#define VALUE_ROWS v16
#endif
#define LOAD_K(st, kb)                                                                           \
  for (uint e = tid; e < KEYS * CH; e += NT) {                                                   \
    const uint r = e / CH, ch = e % CH, src = krow[(kb) + r] * CH + ch;                          \
    CP_ASYNC16(shared_addr(&Ks[st][swizzle(r, ch, CH)]), KEY_ROWS + src);                        \
  }
#define LOAD_KV(st, kb)                                                                          \
  for (uint e = tid; e < KEYS * CH; e += NT) {                                                   \
    const uint r = e / CH, ch = e % CH, src = krow[(kb) + r] * CH + ch;                          \
    CP_ASYNC16(shared_addr(&Ks[st][swizzle(r, ch, CH)]), KEY_ROWS + src);                        \
    CP_ASYNC16(shared_addr(&Vs[st][swizzle(r, ch, CH)]), VALUE_ROWS + src);                      \
  }
#endif

// The key table of the tile at K0 into table slot TB (work items 0 .. 31).
#define KEY_TABLE(K0, TB)                                                                        \
  if (tid < KEYS) {                                                                              \
    uint kr_, ks_;                                                                               \
    float lw_;                                                                                   \
    key_row(&w, (K0) + tid, &blk_at, &kr_, &lw_, &ks_);                                          \
    krow[(TB) * KEYS + tid] = kr_;                                                               \
    klw[(TB) * KEYS + tid] = lw_;                                                                \
    ksel[(TB) * KEYS + tid] = ks_;                                                               \
  }

// s = Q K^T of stage st's tile (16 rows x 32 keys a subgroup), in log2
// units plus the keys' log weights, keys past nkeys at -inf.
#define TILE_SCORES(st, K0, TB)                                                                  \
  FLASH_SCORES(st)                                                                               \
  _Pragma("unroll") for (uint j = 0; j < 4; ++j)                                                 \
    _Pragma("unroll") for (uint e = 0; e < 4; ++e) {                                             \
      const uint kk = j * 8 + 2 * t + (e & 1);                                                   \
      s[j][e] = (K0) + kk < nkeys ? s[j][e] * sl2 + klw[(TB) * KEYS + kk] : -INFINITY;          \
    }

kernel __attribute__((reqd_work_group_size(NT, 1, 1))) void SPARSE_KERNEL(
    BUF(const float, q), BUF(const uint4, k16), BUF(const uint4, v16), BUF(const uint, sel), BUF(float, o),
    BUF(const uint, ix), BUF(float, mass), BUF(const float4, pk), BUF(const float4, pv),
    constant const struct sparse_flash_params* p) {
  AT(const float, q);
  AT(const uint4, k16);
  AT(const uint4, v16);
  AT(const uint, sel);
  AT(float, o);
  AT(const uint, ix);
  AT(float, mass);
  AT(const float4, pk);
  AT(const float4, pv);
  local uint4 Ks[2][KEYS * CH], Vs[2][KEYS * CH];
  local uint qrow[BQ];        // float index of query row r in q and o, ~0u past the block
  local uint krow[3 * KEYS];  // three tiles' key rows
  local float klw[3 * KEYS];  // their log weights, log2 units
  local uint ksel[3 * KEYS];  // their selection index (MASS)
  local float kmass[WARPS][KEYS];  // MASS: a tile's per-key masses, per subgroup

  const uint tid = get_local_id(0), lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const uint grp = flat_group();
  const struct sparse_flash_group G = sparse_flash_group_of(p, ix, sel, grp, BQ, STATEFUL);
  const uint tb = G.t, f = G.f, h = G.h, b = G.b, hk = G.hk, rows = G.rows, r0 = G.r0, stride = G.stride;
  const bool live = G.live;
  struct tc_keys w;
  w.p = p, w.ix = ix;
  w.ids = G.ids;
  w.start = G.start;
  w.count = G.count;
  w.nd = DENSE != 0 ? p->Sk : 0;
  w.nkeys = live ? w.nd + w.start[w.count] : 0;
  w.lane = b * p->Hkv + hk;
  w.nb = STATEFUL != 0 ? ix_blocks(ix, w.lane) : p->nb;
  w.past_rows = w.lane * (p->T + p->Sk);
  w.pad_row = STATEFUL != 0 ? (w.nkeys > 0 ? ix_appended_row(ix, p->lanes, w.lane, p->R1, 0, 0) : 0) : w.past_rows;
  const uint nkeys = w.nkeys;
  const float sl2 = p->scale * 1.4426950408889634f;
  uint blk_at = 0;
  if (tid < BQ)
    qrow[tid] = live && r0 + tid < rows ? ((b * p->S + f * p->g.P + sparse_token(&p->g, tb, r0 + tid)) * p->Hq + h) * D : ~0u;
  barrier(CLK_LOCAL_MEM_FENCE);

  // The subgroup's Q fragments, rounded to f16: rows g (+ 8) of its 16, k16 chunk c, halves 16 c + 2 t (+ 8).
  const uint qr_lo = qrow[warp * 16 + g], qr_hi = qrow[warp * 16 + g + 8];
  uint qa[D / 16][4];
#pragma unroll
  for (uint c = 0; c < D / 16; ++c)
#pragma unroll
    for (uint i = 0; i < 4; ++i) {
      const uint at = (i & 1) ? qr_hi : qr_lo;
      const float2 x = at != ~0u ? vload2(0, q + at + 16 * c + 2 * t + (i >> 1) * 8) : (float2)(0.0f);
      qa[c][i] = pack_f16x2(x.x, x.y);
    }
  FLASH_STATE()

  const uint tiles = (nkeys + KEYS - 1) / KEYS;
  if (tiles > 0) {
    KEY_TABLE(0, 0)
    barrier(CLK_LOCAL_MEM_FENCE);
    LOAD_KV(0, 0)
  }
  CP_ASYNC_COMMIT();
  for (uint tile = 0; tile < tiles; ++tile) {
    const uint st = tile & 1, tb0 = tile % 3;
    if (tile + 1 < tiles) KEY_TABLE((tile + 1) * KEYS, (tile + 1) % 3)
    CP_ASYNC_WAIT(0);
    // This tile landed; the next one's rows are written; every subgroup is done with the other stage.
    barrier(CLK_LOCAL_MEM_FENCE);
    if (tile + 1 < tiles) LOAD_KV(st ^ 1, ((tile + 1) % 3) * KEYS)
    CP_ASYNC_COMMIT();

    TILE_SCORES(st, tile * KEYS, tb0)
    FLASH_SOFTMAX_PV(st)
  }
  CP_ASYNC_WAIT(0);
  FLASH_ROW_SCALES()

  if (MASS != 0 && ix[IX_ACCUMULATE] != 0) {
    // Each selected block's mass: the final softmax of its keys, summed over
    // the group's rows, tile by tile (keys of a block are consecutive).
    const bool write = live && grp < ix[IX_QUERY_GROUPS];
    const uint mbase = grp * stride;
    uint cur = ~0u;
    float acc_mass = 0.0f;
    blk_at = 0;
    for (uint k0 = w.nd; k0 < nkeys; k0 += KEYS) {
      barrier(CLK_LOCAL_MEM_FENCE);  // the previous tile's rows, K and masses consumed
      KEY_TABLE(k0, 0)
      barrier(CLK_LOCAL_MEM_FENCE);
      LOAD_K(0, 0)
      CP_ASYNC_COMMIT();
      CP_ASYNC_WAIT(0);
      barrier(CLK_LOCAL_MEM_FENCE);
      TILE_SCORES(0, k0, 0)
      // Per key: the rows' probabilities (rows without a query count nothing), summed over the subgroup.
#pragma unroll
      for (uint j = 0; j < 4; ++j)
#pragma unroll
        for (uint e = 0; e < 2; ++e) {
          float cm = (qr_lo != ~0u ? native_exp2(s[j][e] - m_lo) * inv_lo : 0.0f) +
                     (qr_hi != ~0u ? native_exp2(s[j][2 + e] - m_hi) * inv_hi : 0.0f);
          cm += shfl_xor_f32(cm, 4);
          cm += shfl_xor_f32(cm, 8);
          cm += shfl_xor_f32(cm, 16);
          if (g == 0) kmass[warp][j * 8 + 2 * t + e] = cm;
        }
      barrier(CLK_LOCAL_MEM_FENCE);
      if (tid == 0)
        for (uint kk = 0; kk < KEYS && k0 + kk < nkeys; ++kk) {
          if (ksel[kk] != cur) {
            if (cur != ~0u && write) mass[mbase + cur] = acc_mass;
            cur = ksel[kk];
            acc_mass = 0.0f;
          }
#pragma unroll
          for (uint u = 0; u < WARPS; ++u) acc_mass += kmass[u][kk];
        }
    }
    if (tid == 0 && cur != ~0u && write) mass[mbase + cur] = acc_mass;
  }

#pragma unroll
  for (uint j = 0; j < D / 8; ++j) {
    if (qr_lo != ~0u) vstore2((float2)(acc[j][0], acc[j][1]) * inv_lo, 0, o + qr_lo + j * 8 + 2 * t);
    if (qr_hi != ~0u) vstore2((float2)(acc[j][2], acc[j][3]) * inv_hi, 0, o + qr_hi + j * 8 + 2 * t);
  }
}
