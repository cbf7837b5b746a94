#version 450
// Flash attention on tensor cores (GL_NV_cooperative_matrix, 16x16x16
// f16 x f16 -> f32), used when the session precision is fp16: the semantics,
// push constants and bindings of flash_attention.comp (two key ranges, past
// then new, read in place; strided views; grouped-query heads; zero output
// without keys), head dim HEAD_DIM (64 or 128, a compile-time define: the
// variants are declared in shader_variants.cmake) for queries, keys and
// values alike.
//
// A work group of 128 invocations (4 subgroups of 32) handles BQ = 64
// queries of one (batch, head); subgroup s owns query rows 16 s .. 16 s + 15,
// whose Q strip (16 x D, f16) it keeps in registers as D/16 A fragments.
// Per tile of BK keys:
//   1. K and V tiles are read as f32 vec4s, converted to f16 and staged in
//      shared memory (all invocations).
//   2. Each subgroup computes its 16 x BK score strip S = Q K^T with
//      coopmat (K^T loaded column-major from the K tile) and stores it, f32,
//      into its own shared region.
//   3. Online softmax in fp32 by the subgroup's lanes, two lanes per row
//      (lane 2 r + c handles columns c, c + 2, ...): scale, row max, alpha =
//      exp(m_old - m_new), P = exp(s - m_new) written as f16 into shared
//      memory, row sum.
//   4. O_tile = P V by coopmat, one 16 x 16 output block at a time, through
//      a 16 x 16 f32 scratch (aliasing the subgroup's score region): lane
//      2 r + c owns row r, columns 8 c .. 8 c + 7 of every output block and
//      does O = O * alpha + O_tile in fp32 registers. (NV cooperative
//      matrices cannot scale rows of an accumulator nor feed it back as an
//      operand, hence the trip through shared memory.)
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "common.glsl"
#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
layout(local_size_x = 128) in;
layout(constant_id = 0) const uint BK = 64;   // keys per tile: 32 or 64

const uint D = HEAD_DIM;
const uint NT = 128;
const uint BQ = 64;
const uint NDB = D / 16;           // 16-wide blocks of the head dim
const uint KST = D + 8;            // f16 row stride of the K/V tiles (16-byte multiple, skewed)
const uint SST = BK + 4;           // f32 row stride of a score strip
const uint PST = BK + 8;           // f16 row stride of P
const uint SREG = 16 * SST;        // one subgroup's score region (>= 256 floats: BK >= 32)

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 3) readonly buffer PK { float pk[]; };
layout(std430, binding = 4) readonly buffer PV { float pv[]; };
layout(std430, binding = 5) writeonly buffer O { float o[]; };
// The same buffers as vec4s for staging (every offset and stride is a
// multiple of the head dim, hence of 4; attention.cpp checks).
layout(std430, binding = 0) readonly buffer Q4 { vec4 q4[]; };
layout(std430, binding = 1) readonly buffer K4 { vec4 k4[]; };
layout(std430, binding = 2) readonly buffer V4 { vec4 v4[]; };
layout(std430, binding = 3) readonly buffer PK4 { vec4 pk4[]; };
layout(std430, binding = 4) readonly buffer PV4 { vec4 pv4[]; };
layout(push_constant) uniform P {
  uint Sq, Skv, T;
  uint group;
  float scale;
  uint qb, qh, qs;
  uint kb, kh, ks;
  uint vb, vh, vs;
  uint pkb, pkh, pks;
  uint pvb, pvh, pvs;
  uint ob, oh, os;
} p;

// K tile rows 0..BK-1 then V tile rows BK..2BK-1; the Q block (BQ rows) is
// staged here once at the start (2 BK >= BQ).
shared float16_t KVs[2 * BK * KST];
shared float Ss[4 * SREG];
shared float16_t Ps[BQ * PST];

const uint D4 = D / 4;

void put4(uint at, vec4 x) {
  f16vec4 h = f16vec4(x);
  KVs[at] = h.x;
  KVs[at + 1] = h.y;
  KVs[at + 2] = h.z;
  KVs[at + 3] = h.w;
}

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
  const uint q0 = gl_WorkGroupID.x * BQ;
  const uint h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  const uint hk = h / p.group;
  const uint nkeys = p.T + p.Skv;

  // Stage Q (f16) and take this subgroup's strip into registers.
  const uint qbase = b * p.qb + h * p.qh;
  for (uint e = tid; e < BQ * D4; e += NT) {
    uint i = e / D4, c = e - i * D4;
    vec4 x = q0 + i < p.Sq ? q4[(qbase + (q0 + i) * p.qs) / 4 + c] : vec4(0.0);
    put4(i * KST + 4 * c, x);
  }
  barrier();
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> qa[NDB];
  [[unroll]] for (uint db = 0; db < NDB; ++db) coopMatLoadNV(qa[db], KVs, (sg * 16) * KST + db * 16, KST, false);

  const uint row = lane >> 1, half_ = lane & 1;   // this lane's row in the strip, and column half
  const uint sreg = sg * SREG;
  float oacc[NDB * 8];
  [[unroll]] for (uint i = 0; i < NDB * 8; ++i) oacc[i] = 0.0;
  float m = -1.0 / 0.0, l = 0.0;

  const uint kbase = b * p.kb + hk * p.kh, vbase = b * p.vb + hk * p.vh;
  const uint pkbase = b * p.pkb + hk * p.pkh, pvbase = b * p.pvb + hk * p.pvh;

  for (uint k0 = 0; k0 < nkeys; k0 += BK) {
    barrier();  // Q fragments loaded / previous tile consumed
    for (uint e = tid; e < BK * D4; e += NT) {
      uint j = e / D4, c = e - j * D4, key = k0 + j;
      vec4 xk = vec4(0.0), xv = vec4(0.0);
      if (key < p.T) {
        xk = pk4[(pkbase + key * p.pks) / 4 + c];
        xv = pv4[(pvbase + key * p.pvs) / 4 + c];
      } else if (key < nkeys) {
        xk = k4[(kbase + (key - p.T) * p.ks) / 4 + c];
        xv = v4[(vbase + (key - p.T) * p.vs) / 4 + c];
      }
      put4(j * KST + 4 * c, xk);
      put4((BK + j) * KST + 4 * c, xv);
    }
    barrier();

    // S strip = Q K^T, one 16 x 16 block of keys at a time.
    for (uint jb = 0; jb < BK / 16; ++jb) {
      fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> s = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
      [[unroll]] for (uint db = 0; db < NDB; ++db) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> kt;
        coopMatLoadNV(kt, KVs, (jb * 16) * KST + db * 16, KST, true);  // (d, key) = Ks[key][d]
        s = coopMatMulAddNV(qa[db], kt, s);
      }
      coopMatStoreNV(s, Ss, sreg + jb * 16, SST, false);
    }
    subgroupMemoryBarrierShared();
    subgroupBarrier();

    // Online softmax of this lane's half row.
    float mt = m;
    for (uint j = half_; j < BK; j += 2) {
      float x = k0 + j < nkeys ? Ss[sreg + row * SST + j] * p.scale : -1.0 / 0.0;
      Ss[sreg + row * SST + j] = x;
      mt = max(mt, x);
    }
    mt = max(mt, subgroupShuffleXor(mt, 1));
    const float alpha = exp(m - mt);
    m = mt;
    float ls = 0.0;
    for (uint j = half_; j < BK; j += 2) {
      float16_t pj = float16_t(exp(Ss[sreg + row * SST + j] - mt));
      Ps[(sg * 16 + row) * PST + j] = pj;
      ls += float(pj);
    }
    ls += subgroupShuffleXor(ls, 1);
    l = l * alpha + ls;
    subgroupMemoryBarrierShared();
    subgroupBarrier();

    // O = O * alpha + P V, one 16 x 16 output block at a time.
    [[unroll]] for (uint db = 0; db < NDB; ++db) {
      fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
      for (uint jb = 0; jb < BK / 16; ++jb) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> pa, vb_;
        coopMatLoadNV(pa, Ps, (sg * 16) * PST + jb * 16, PST, false);
        coopMatLoadNV(vb_, KVs, (BK + jb * 16) * KST + db * 16, KST, false);
        acc = coopMatMulAddNV(pa, vb_, acc);
      }
      coopMatStoreNV(acc, Ss, sreg, 16, false);
      subgroupMemoryBarrierShared();
      subgroupBarrier();
      [[unroll]] for (uint c = 0; c < 8; ++c)
        oacc[db * 8 + c] = oacc[db * 8 + c] * alpha + Ss[sreg + row * 16 + half_ * 8 + c];
      subgroupMemoryBarrierShared();
      subgroupBarrier();
    }
  }

  const uint qi = q0 + sg * 16 + row;
  if (qi < p.Sq) {
    const float inv = l > 0.0 ? 1.0 / l : 0.0;
    const uint obase = b * p.ob + h * p.oh + qi * p.os;
    [[unroll]] for (uint db = 0; db < NDB; ++db)
      [[unroll]] for (uint c = 0; c < 8; ++c) o[obase + db * 16 + half_ * 8 + c] = oacc[db * 8 + c] * inv;
  }
}
