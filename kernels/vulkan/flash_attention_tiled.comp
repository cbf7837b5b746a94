#version 450
// Register-tiled fp32 flash attention: Y = softmax(scale * Q Kall^T) Vall per
// (batch, head), Kall = [past_key; key], Vall = [past_value; value] read as two
// key ranges in place. Same push constants and bindings as
// flash_attention.comp (strided views, element strides), but head dims
// D == DV, D % 16 == 0, and every stride a multiple of 4 (vec4 loads).
//
// One work group of 256 invocations per (64 queries, head, batch). Keys are
// visited in tiles of 64. Invocation (tx = tid % 16, ty = tid / 16) owns
// query rows ty + 16 i and keys tx + 16 j (i, j < 4) of the 64 x 64 score
// tile S = Q K^T, accumulated in registers over the head dim in chunks of DC:
// the Q and K chunks (64 x DC each, rows padded by 4 floats) are staged in
// shared memory and read as vec4 (4 x 4 x 4 FMAs per 8 vec4 loads).
// Online softmax: each invocation's partial row maxima go through shared
// memory (16 per row), the probabilities exp2(s - m) are written to a shared
// 64 x 64 tile P, and each invocation keeps a partial row sum l (its own keys;
// reduced across the 16 invocations of a row once, at the end). Then
// O += P V with the V tile staged VK keys at a time (reusing the Q/K chunk
// area): the invocation owns output rows ty + 16 i (the same rows as its
// scores, so the softmax state needs no exchange) and columns
// tx * 4 + 64 v + e (D % 64 == 0, vec4 V reads) or tx + 16 c (otherwise).
// MASKED = 1 adds the additive mask at binding 6 as flash_attention.comp
// does (in log2 units here); a row whose scores so far are all -inf keeps
// its state, and a row with every key masked gives zeros.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint D = 128;  // query/key/value head dim, multiple of 16
layout(constant_id = 1) const uint DC = 32;  // head-dim chunk of the S loop (divides D, multiple of 4)
layout(constant_id = 2) const uint VK = 32;  // keys per staged V chunk (divides 64, multiple of 4)
// 1: the next Q/K or V chunk is loaded from global memory into registers
// while the current one is multiplied (stored to shared after the barrier).
layout(constant_id = 3) const uint PF = 0;
layout(constant_id = 4) const uint MASKED = 0;  // 1: add the mask at binding 6
const uint BQ = 64, BK = 64, NT = 256;
const uint RS4 = (DC + 4) / 4;               // Q/K chunk row stride in vec4s (skewed)
const uint KOFF = BQ * RS4;                  // K chunk offset in A4
const uint QK4 = 2 * BQ * RS4;               // Q + K chunks, vec4s
const uint V4 = VK * D / 4;                  // one V chunk, vec4s
const uint A4N = QK4 > V4 ? QK4 : V4;
const uint PS4 = (BK + 4) / 4;               // P row stride in vec4s (skewed)
const uint NC = D / 16;                      // output columns per invocation and row
const bool VEC = (D % 64) == 0;
const uint D4 = D / 4;
const uint NQK = (BQ * (DC / 4) + NT - 1) / NT;  // Q (and K) chunk vec4s per invocation
const uint NVL = (V4 + NT - 1) / NT;              // V chunk vec4s per invocation

layout(std430, binding = 0) readonly buffer Q { vec4 q[]; };
layout(std430, binding = 1) readonly buffer K { vec4 k[]; };
layout(std430, binding = 2) readonly buffer V { vec4 v[]; };
layout(std430, binding = 3) readonly buffer PK { vec4 pk[]; };
layout(std430, binding = 4) readonly buffer PV { vec4 pv[]; };
layout(std430, binding = 5) writeonly buffer O { vec4 o[]; };
layout(std430, binding = 6) readonly buffer M { float msk[]; };
layout(push_constant) uniform P {
  uint Sq, Skv, T;
  uint group;        // query heads per key/value head
  float scale;
  uint qb, qh, qs;   // strides (elements) of batch, head, sequence
  uint kb, kh, ks;
  uint vb, vh, vs;
  uint pkb, pkh, pks;
  uint pvb, pvh, pvs;
  uint ob, oh, os;
  uint mb, mh, mq, mk;  // mask strides (0 where it broadcasts)
} p;

shared vec4 A4[A4N];        // Q and K chunks, or a V chunk
shared vec4 P4[BQ * PS4];   // probabilities of the current tile
shared float red[BQ * 16];  // per-row partial maxima / sums

vec4 rq[NQK], rk[NQK], rv[NVL];  // a chunk in flight from global memory

uint tid, q0, nkeys, qbase, qs4, kbase, ks4, vbase, vs4, pkbase, pks4, pvbase, pvs4;

// Q rows q0.. and keys k0.. of head-dim chunk d0 into rq / rk (zeros past the ends).
void load_qk(uint k0, uint d0) {
  [[unroll]] for (uint n = 0; n < NQK; ++n) {
    const uint e = tid + n * NT;
    const uint r = e / (DC / 4), c = e - r * (DC / 4);
    const uint dq = d0 / 4 + c;
    const uint qi = q0 + r;
    rq[n] = qi < p.Sq && e < BQ * (DC / 4) ? q[qbase + qi * qs4 + dq] : vec4(0.0);
    const uint key = k0 + r;
    vec4 x = vec4(0.0);
    if (e < BQ * (DC / 4)) {
      if (key < p.T) x = pk[pkbase + key * pks4 + dq];
      else if (key < nkeys) x = k[kbase + (key - p.T) * ks4 + dq];
    }
    rk[n] = x;
  }
}

void store_qk() {
  [[unroll]] for (uint n = 0; n < NQK; ++n) {
    const uint e = tid + n * NT;
    const uint r = e / (DC / 4), c = e - r * (DC / 4);
    if (e < BQ * (DC / 4)) {
      A4[r * RS4 + c] = rq[n];
      A4[KOFF + r * RS4 + c] = rk[n];
    }
  }
}

// Values of keys k0 .. k0 + VK - 1 into rv.
void load_v(uint k0) {
  [[unroll]] for (uint n = 0; n < NVL; ++n) {
    const uint e = tid + n * NT;
    const uint r = e / D4, c = e - r * D4;
    const uint key = k0 + r;
    vec4 x = vec4(0.0);
    if (e < V4) {
      if (key < p.T) x = pv[pvbase + key * pvs4 + c];
      else if (key < nkeys) x = v[vbase + (key - p.T) * vs4 + c];
    }
    rv[n] = x;
  }
}

void store_v() {
  [[unroll]] for (uint n = 0; n < NVL; ++n) {
    const uint e = tid + n * NT;
    if (e < V4) A4[e] = rv[n];
  }
}

void main() {
  tid = gl_LocalInvocationID.x;
  const uint tx = tid % 16, ty = tid / 16;
  q0 = gl_WorkGroupID.x * BQ;
  const uint h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  const uint hk = h / p.group;
  nkeys = p.T + p.Skv;
  const float sl2 = p.scale * 1.4426950408889634;  // scores in log2 units

  qbase = (b * p.qb + h * p.qh) / 4, qs4 = p.qs / 4;
  kbase = (b * p.kb + hk * p.kh) / 4, ks4 = p.ks / 4;
  vbase = (b * p.vb + hk * p.vh) / 4, vs4 = p.vs / 4;
  pkbase = (b * p.pkb + hk * p.pkh) / 4, pks4 = p.pks / 4;
  pvbase = (b * p.pvb + hk * p.pvh) / 4, pvs4 = p.pvs / 4;
  if (PF != 0 && nkeys > 0) load_qk(0, 0);

  float acc[4 * NC];  // acc[i * NC + c]: row ty + 16 i, column col(c)
  [[unroll]] for (uint x = 0; x < 4 * NC; ++x) acc[x] = 0.0;
  float m[4], l[4];
  [[unroll]] for (uint i = 0; i < 4; ++i) {
    m[i] = -1.0 / 0.0;
    l[i] = 0.0;
  }

  for (uint k0 = 0; k0 < nkeys; k0 += BK) {
    // S = Q K^T over the head dim in chunks of DC.
    float s[16];  // s[i * 4 + j]: row ty + 16 i, key tx + 16 j
    [[unroll]] for (uint x = 0; x < 16; ++x) s[x] = 0.0;
    for (uint d0 = 0; d0 < D; d0 += DC) {
      if (PF == 0) load_qk(k0, d0);  // else loaded during the previous chunk's math
      barrier();  // previous chunk (or previous tile's V chunk) consumed
      store_qk();
      barrier();
      if (PF != 0 && d0 + DC < D) load_qk(k0, d0 + DC);
      [[unroll]] for (uint dd = 0; dd < DC / 4; ++dd) {
        vec4 qv[4], kv[4];
        [[unroll]] for (uint i = 0; i < 4; ++i) qv[i] = A4[(ty + 16 * i) * RS4 + dd];
        [[unroll]] for (uint j = 0; j < 4; ++j) kv[j] = A4[KOFF + (tx + 16 * j) * RS4 + dd];
        [[unroll]] for (uint i = 0; i < 4; ++i) {
          [[unroll]] for (uint j = 0; j < 4; ++j) {
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
    [[unroll]] for (uint i = 0; i < 4; ++i) {
      float mt = -1.0 / 0.0;
      const uint qi = q0 + ty + 16 * i;
      [[unroll]] for (uint j = 0; j < 4; ++j) {
        const uint key = k0 + tx + 16 * j;
        float x = key < nkeys ? s[i * 4 + j] * sl2 : -1.0 / 0.0;
        if (MASKED != 0 && key < nkeys && qi < p.Sq)
          x += msk[b * p.mb + h * p.mh + qi * p.mq + key * p.mk] * 1.4426950408889634;
        s[i * 4 + j] = x;
        mt = max(mt, x);
      }
      red[(ty + 16 * i) * 16 + tx] = mt;
    }
    barrier();  // partial maxima written; Q/K chunks consumed
    [[unroll]] for (uint i = 0; i < 4; ++i) {
      const uint row = ty + 16 * i;
      float mt = m[i];
      [[unroll]] for (uint t = 0; t < 16; ++t) mt = max(mt, red[row * 16 + t]);
      // Unmasked, the first key of a tile exists and mt is finite.
      const bool none = MASKED != 0 && isinf(mt);  // unmasked: never, and folded away
      const float alpha = none ? 1.0 : exp2(m[i] - mt);
      m[i] = mt;
      float ls = 0.0;
      [[unroll]] for (uint j = 0; j < 4; ++j) {
        const float pj = none ? 0.0 : exp2(s[i * 4 + j] - mt);
        ls += pj;
        const uint kk = tx + 16 * j;
        P4[row * PS4 + kk / 4][kk % 4] = pj;
      }
      l[i] = l[i] * alpha + ls;
      [[unroll]] for (uint c = 0; c < NC; ++c) acc[i * NC + c] *= alpha;
    }

    // O += P V, V staged VK keys at a time in the Q/K chunk area.
    for (uint v0 = 0; v0 < BK; v0 += VK) {
      if (PF == 0 || v0 == 0) load_v(k0 + v0);
      if (v0 > 0) barrier();  // previous V chunk consumed
      store_v();
      barrier();  // V chunk and P written
      if (PF != 0) {
        if (v0 + VK < BK) load_v(k0 + v0 + VK);
        else if (k0 + BK < nkeys) load_qk(k0 + BK, 0);
      }
      for (uint kk = 0; kk < VK; kk += 4) {
        vec4 pr[4];
        [[unroll]] for (uint i = 0; i < 4; ++i) pr[i] = P4[(ty + 16 * i) * PS4 + (v0 + kk) / 4];
        [[unroll]] for (uint u = 0; u < 4; ++u) {
          if (VEC) {
            [[unroll]] for (uint w = 0; w < NC / 4; ++w) {
              const vec4 x = A4[(kk + u) * D4 + tx + 16 * w];
              [[unroll]] for (uint i = 0; i < 4; ++i) {
                const float pi = pr[i][u];
                acc[i * NC + 4 * w + 0] = fma(pi, x.x, acc[i * NC + 4 * w + 0]);
                acc[i * NC + 4 * w + 1] = fma(pi, x.y, acc[i * NC + 4 * w + 1]);
                acc[i * NC + 4 * w + 2] = fma(pi, x.z, acc[i * NC + 4 * w + 2]);
                acc[i * NC + 4 * w + 3] = fma(pi, x.w, acc[i * NC + 4 * w + 3]);
              }
            }
          } else {
            [[unroll]] for (uint c = 0; c < NC; ++c) {
              const uint col = tx + 16 * c;
              const float x = A4[(kk + u) * D4 + col / 4][col % 4];
              [[unroll]] for (uint i = 0; i < 4; ++i) acc[i * NC + c] = fma(pr[i][u], x, acc[i * NC + c]);
            }
          }
        }
      }
    }
  }

  // Row sums: reduce the 16 partial sums of each row.
  barrier();
  [[unroll]] for (uint i = 0; i < 4; ++i) red[(ty + 16 * i) * 16 + tx] = l[i];
  barrier();
  const uint obase = (b * p.ob + h * p.oh) / 4, os4 = p.os / 4;
  [[unroll]] for (uint i = 0; i < 4; ++i) {
    const uint row = ty + 16 * i;
    float ls = 0.0;
    [[unroll]] for (uint t = 0; t < 16; ++t) ls += red[row * 16 + t];
    const float inv = ls > 0.0 ? 1.0 / ls : 0.0;
    const uint qi = q0 + row;
    if (qi < p.Sq) {
      const uint ob4 = obase + qi * os4;
      if (VEC) {
        [[unroll]] for (uint w = 0; w < NC / 4; ++w)
          o[ob4 + tx + 16 * w] = vec4(acc[i * NC + 4 * w + 0], acc[i * NC + 4 * w + 1], acc[i * NC + 4 * w + 2],
                                      acc[i * NC + 4 * w + 3]) * inv;
      } else {
        [[unroll]] for (uint c = 0; c < NC; ++c) {
          const uint col = tx + 16 * c;
          o[ob4 + col / 4][col % 4] = acc[i * NC + c] * inv;
        }
      }
    }
  }
}
