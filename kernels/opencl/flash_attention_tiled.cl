// The OpenCL C port of kernels/vulkan/flash_attention_tiled.comp (read that
// file for the tiling and the online softmax): the default fp32 attention,
// because 4 x 4 scores per invocation from float4 local-memory reads are
// what keeps the Wan-sized case compute-bound rather than bound by local
// memory. Same arithmetic in the same order as the GLSL (explicit fma,
// exp2 on log2-scaled scores), so both backends agree. Needs D == DV,
// D % 16 == 0 and strides that are multiples of 4 (attention.cpp checks);
// tensors start 64-byte aligned in the arena, so float4 pointers are safe.
// SPEC4 = MASKED adds the mask msk as the GLSL does.

// Specialization constants (docs/gpu_kernels.md); the defaults only let the
// file build on its own.
#ifndef SPEC0
#define SPEC0 128
#endif
#ifndef SPEC1
#define SPEC1 32
#endif
#ifndef SPEC2
#define SPEC2 32
#endif
#ifndef SPEC3
#define SPEC3 0
#endif
#define D SPEC0   // query/key/value head dim, multiple of 16
#define DC SPEC1  // head-dim chunk of the S loop (divides D, multiple of 4)
#define VK SPEC2  // keys per staged V chunk (divides 64, multiple of 4)
// 1: the next Q/K or V chunk is loaded from global memory into registers
// while the current one is multiplied (stored to local after the barrier).
#define PF SPEC3
#ifndef SPEC4
#define SPEC4 0
#endif
#define MASKED SPEC4  // 1: add the mask msk to the scaled scores
#define BQ 64
#define BK 64
#define NT 256
#define RS4 ((DC + 4) / 4)  // Q/K chunk row stride in float4s (skewed)
#define KOFF (BQ * RS4)     // K chunk offset in A4
#define QK4 (2 * BQ * RS4)  // Q + K chunks, float4s
#define V4 (VK * D / 4)     // one V chunk, float4s
#define A4N (QK4 > V4 ? QK4 : V4)
#define PS4 ((BK + 4) / 4)  // P row stride in float4s (skewed)
#define NC (D / 16)         // output columns per invocation and row
#define VEC ((D % 64) == 0)
#define D4 (D / 4)
#define NQK ((BQ * (DC / 4) + NT - 1) / NT)  // Q (and K) chunk float4s per invocation
#define NVL ((V4 + NT - 1) / NT)             // V chunk float4s per invocation

struct flash_attention_tiled_params {
  uint Sq, Skv, T;
  uint group;  // query heads per key/value head
  float scale;
  uint qb, qh, qs;  // strides (elements) of batch, head, sequence
  uint kb, kh, ks;
  uint vb, vh, vs;
  uint pkb, pkh, pks;
  uint pvb, pvh, pvs;
  uint ob, oh, os;
  uint mb, mh, mq, mk;  // mask strides (0 where it broadcasts)
};

// What the chunk loaders need: this work group's views, in float4 units.
struct fat_views {
  global const float4 *q, *k, *v, *pk, *pv;
  uint tid, q0, Sq, T, nkeys;
  uint qbase, qs4, kbase, ks4, vbase, vs4, pkbase, pks4, pvbase, pvs4;
};

// Q rows q0.. and keys k0.. of head-dim chunk d0 into rq / rk (zeros past the ends).
static inline void load_qk(const struct fat_views* w, uint k0, uint d0, float4* rq, float4* rk) {
#pragma unroll
  for (uint n = 0; n < NQK; ++n) {
    const uint e = w->tid + n * NT;
    const uint r = e / (DC / 4), c = e - r * (DC / 4);
    const uint dq = d0 / 4 + c;
    const uint qi = w->q0 + r;
    rq[n] = qi < w->Sq && e < BQ * (DC / 4) ? w->q[w->qbase + qi * w->qs4 + dq] : (float4)(0.0f);
    const uint key = k0 + r;
    float4 x = (float4)(0.0f);
    if (e < BQ * (DC / 4)) {
      if (key < w->T) x = w->pk[w->pkbase + key * w->pks4 + dq];
      else if (key < w->nkeys) x = w->k[w->kbase + (key - w->T) * w->ks4 + dq];
    }
    rk[n] = x;
  }
}

static inline void store_qk(uint tid, local float4* A4, const float4* rq, const float4* rk) {
#pragma unroll
  for (uint n = 0; n < NQK; ++n) {
    const uint e = tid + n * NT;
    const uint r = e / (DC / 4), c = e - r * (DC / 4);
    if (e < BQ * (DC / 4)) {
      A4[r * RS4 + c] = rq[n];
      A4[KOFF + r * RS4 + c] = rk[n];
    }
  }
}

// Values of keys k0 .. k0 + VK - 1 into rv.
static inline void load_v(const struct fat_views* w, uint k0, float4* rv) {
#pragma unroll
  for (uint n = 0; n < NVL; ++n) {
    const uint e = w->tid + n * NT;
    const uint r = e / D4, c = e - r * D4;
    const uint key = k0 + r;
    float4 x = (float4)(0.0f);
    if (e < V4) {
      if (key < w->T) x = w->pv[w->pvbase + key * w->pvs4 + c];
      else if (key < w->nkeys) x = w->v[w->vbase + (key - w->T) * w->vs4 + c];
    }
    rv[n] = x;
  }
}

static inline void store_v(uint tid, local float4* A4, const float4* rv) {
#pragma unroll
  for (uint n = 0; n < NVL; ++n) {
    const uint e = tid + n * NT;
    if (e < V4) A4[e] = rv[n];
  }
}

// Component u of x; u is a constant once the loops are unrolled.
static inline float comp(float4 x, uint u) { return u == 0 ? x.x : u == 1 ? x.y : u == 2 ? x.z : x.w; }

kernel __attribute__((reqd_work_group_size(NT, 1, 1))) void flash_attention_tiled(
    BUF(const float4, q), BUF(const float4, k), BUF(const float4, v), BUF(const float4, pk), BUF(const float4, pv),
    BUF(float4, o), BUF(const float, msk), constant const struct flash_attention_tiled_params* p) {
  AT(const float4, q);
  AT(const float4, k);
  AT(const float4, v);
  AT(const float4, pk);
  AT(const float4, pv);
  AT(float4, o);
  AT(const float, msk);
  local float4 A4[A4N];        // Q and K chunks, or a V chunk
  local float4 P4[BQ * PS4];   // probabilities of the current tile
  local float red[BQ * 16];    // per-row partial maxima / sums
  local float* P = (local float*)P4;
  local const float* A = (local const float*)A4;

  float4 rq[NQK], rk[NQK], rv[NVL];  // a chunk in flight from global memory

  struct fat_views w;
  w.q = q, w.k = k, w.v = v, w.pk = pk, w.pv = pv;
  const uint tid = get_local_id(0);
  w.tid = tid;
  const uint tx = tid % 16, ty = tid / 16;
  w.q0 = get_group_id(0) * BQ;
  const uint h = get_group_id(1), b = get_group_id(2);
  const uint hk = h / p->group;
  w.Sq = p->Sq, w.T = p->T;
  const uint nkeys = p->T + p->Skv;
  w.nkeys = nkeys;
  const float sl2 = p->scale * 1.4426950408889634f;  // scores in log2 units

  w.qbase = (b * p->qb + h * p->qh) / 4, w.qs4 = p->qs / 4;
  w.kbase = (b * p->kb + hk * p->kh) / 4, w.ks4 = p->ks / 4;
  w.vbase = (b * p->vb + hk * p->vh) / 4, w.vs4 = p->vs / 4;
  w.pkbase = (b * p->pkb + hk * p->pkh) / 4, w.pks4 = p->pks / 4;
  w.pvbase = (b * p->pvb + hk * p->pvh) / 4, w.pvs4 = p->pvs / 4;
  if (PF != 0 && nkeys > 0) load_qk(&w, 0, 0, rq, rk);

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
    // S = Q K^T over the head dim in chunks of DC.
    float s[16];  // s[i * 4 + j]: row ty + 16 i, key tx + 16 j
#pragma unroll
    for (uint x = 0; x < 16; ++x) s[x] = 0.0f;
    for (uint d0 = 0; d0 < D; d0 += DC) {
      if (PF == 0) load_qk(&w, k0, d0, rq, rk);  // else loaded during the previous chunk's math
      barrier(CLK_LOCAL_MEM_FENCE);              // previous chunk (or previous tile's V chunk) consumed
      store_qk(tid, A4, rq, rk);
      barrier(CLK_LOCAL_MEM_FENCE);
      if (PF != 0 && d0 + DC < D) load_qk(&w, k0, d0 + DC, rq, rk);
#pragma unroll
      for (uint dd = 0; dd < DC / 4; ++dd) {
        float4 qv[4], kv[4];
#pragma unroll
        for (uint i = 0; i < 4; ++i) qv[i] = A4[(ty + 16 * i) * RS4 + dd];
#pragma unroll
        for (uint j = 0; j < 4; ++j) kv[j] = A4[KOFF + (tx + 16 * j) * RS4 + dd];
#pragma unroll
        for (uint i = 0; i < 4; ++i) {
#pragma unroll
          for (uint j = 0; j < 4; ++j) {
            float t = s[i * 4 + j];
            t = fma(qv[i].x, kv[j].x, t);
            t = fma(qv[i].y, kv[j].y, t);
            t = fma(qv[i].z, kv[j].z, t);
            t = fma(qv[i].w, kv[j].w, t);
            s[i * 4 + j] = t;
          }
        }
      }
    }

    // Online softmax: scaled scores, keys past the end masked, row maxima.
#pragma unroll
    for (uint i = 0; i < 4; ++i) {
      float mt = -INFINITY;
      const uint qi = w.q0 + ty + 16 * i;
#pragma unroll
      for (uint j = 0; j < 4; ++j) {
        const uint key = k0 + tx + 16 * j;
        float x = key < nkeys ? s[i * 4 + j] * sl2 : -INFINITY;
        if (MASKED != 0 && key < nkeys && qi < w.Sq)
          x += msk[b * p->mb + h * p->mh + qi * p->mq + key * p->mk] * 1.4426950408889634f;
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
      for (uint t = 0; t < 16; ++t) mt = max(mt, red[row * 16 + t]);
      // Unmasked, the first key of a tile exists and mt is finite; masked,
      // a row may have seen only -inf so far and keeps its state.
      const bool none = MASKED != 0 && isinf(mt);  // unmasked: never, and folded away
      const float alpha = none ? 1.0f : exp2(m[i] - mt);
      m[i] = mt;
      float ls = 0.0f;
#pragma unroll
      for (uint j = 0; j < 4; ++j) {
        const float pj = none ? 0.0f : exp2(s[i * 4 + j] - mt);
        ls += pj;
        P[row * PS4 * 4 + tx + 16 * j] = pj;
      }
      l[i] = l[i] * alpha + ls;
#pragma unroll
      for (uint c = 0; c < NC; ++c) acc[i * NC + c] *= alpha;
    }

    // O += P V, V staged VK keys at a time in the Q/K chunk area.
    for (uint v0 = 0; v0 < BK; v0 += VK) {
      if (PF == 0 || v0 == 0) load_v(&w, k0 + v0, rv);
      if (v0 > 0) barrier(CLK_LOCAL_MEM_FENCE);  // previous V chunk consumed
      store_v(tid, A4, rv);
      barrier(CLK_LOCAL_MEM_FENCE);  // V chunk and P written
      if (PF != 0) {
        if (v0 + VK < BK) load_v(&w, k0 + v0 + VK, rv);
        else if (k0 + BK < nkeys) load_qk(&w, k0 + BK, 0, rq, rk);
      }
      for (uint kk = 0; kk < VK; kk += 4) {
        float4 pr[4];
#pragma unroll
        for (uint i = 0; i < 4; ++i) pr[i] = P4[(ty + 16 * i) * PS4 + (v0 + kk) / 4];
#pragma unroll
        for (uint u = 0; u < 4; ++u) {
          if (VEC) {
#pragma unroll
            for (uint c4 = 0; c4 < NC / 4; ++c4) {
              const float4 x = A4[(kk + u) * D4 + tx + 16 * c4];
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
              const float x = A[(kk + u) * D + tx + 16 * c];
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
  const uint obase = (b * p->ob + h * p->oh) / 4, os4 = p->os / 4;
#pragma unroll
  for (uint i = 0; i < 4; ++i) {
    const uint row = ty + 16 * i;
    float ls = 0.0f;
#pragma unroll
    for (uint t = 0; t < 16; ++t) ls += red[row * 16 + t];
    const float inv = ls > 0.0f ? 1.0f / ls : 0.0f;
    const uint qi = w.q0 + row;
    if (qi < w.Sq) {
      const uint ob4 = obase + qi * os4;
      if (VEC) {
#pragma unroll
        for (uint c4 = 0; c4 < NC / 4; ++c4)
          o[ob4 + tx + 16 * c4] = (float4)(acc[i * NC + 4 * c4 + 0], acc[i * NC + 4 * c4 + 1], acc[i * NC + 4 * c4 + 2],
                                           acc[i * NC + 4 * c4 + 3]) *
                                  inv;
      } else {
        global float* of = (global float*)o;
#pragma unroll
        for (uint c = 0; c < NC; ++c) of[ob4 * 4 + tx + 16 * c] = acc[i * NC + c] * inv;
      }
    }
  }
}
