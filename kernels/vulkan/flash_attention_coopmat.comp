#version 450
// Flash attention on tensor cores (GL_NV_cooperative_matrix, 16x16x16
// f16 x f16 -> f32), used when the session precision is fp16, in two steps
// (attention.cpp issues both):
//
// KV_CONVERT (variant flash_attention_f16_rows): copies rows of a strided
//   f32 [B, H, S, D] view -- two consecutive key ranges, past then new --
//   into a packed f16 scratch [B, H, rows_pad, D], zero rows past the end.
//   Q, K and V are converted once per call instead of once per work group
//   and tile.
//
// Otherwise (flash_attention_coopmat[_d64], head dim HEAD_DIM = 64 or 128):
//   a work group of NT invocations (NT / 32 subgroups) handles 16 NT / 32
//   queries of one (batch, head); subgroup s owns query rows 16 s .. 16 s +
//   15 and keeps its Q strip (16 x D f16) in registers as D/16 A fragments
//   and its output strip (16 x D f32) as D/16 coopmat accumulators. Per tile
//   of BK keys:
//   1. the K and V tiles (f16) are copied 16 bytes at a time into shared
//      memory through registers, loaded from global memory one tile ahead
//      (PREFETCH), or (GLOBAL_KV bits) their fragments are loaded straight
//      from the f16 scratch;
//   2. S = Q K^T (16 x BK) by coopmat, stored f32 to the subgroup's shared
//      region;
//   3. online softmax in fp32 (log2 domain), two lanes per row: the running
//      max is only raised (and the accumulators rescaled through shared
//      memory) when a row's max grows by more than 2^8, so P = exp2(s - m)
//      stays <= 256 (exact in the end: l uses the same m);
//   4. O += P V by coopmat into the accumulators.
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#include "common.glsl"

#ifdef KV_CONVERT
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(std430, binding = 2) writeonly buffer O2 { uvec2 o2[]; };
layout(push_constant) uniform P {
  uint total, d4, nh, rows_pad, T, S;
  uint ab, ah, as_, bb, bh, bs;
} p;
void main() {
  const uint idx = flat_group() * 256 + gl_LocalInvocationID.x;
  if (idx >= p.total) return;
  const uint c = idx % p.d4, r = idx / p.d4;
  const uint row = r % p.rows_pad, bhi = r / p.rows_pad;
  const uint hh = bhi % p.nh, b = bhi / p.nh;
  vec4 x = vec4(0.0);
  if (row < p.T)
    x = a4[(b * p.ab + hh * p.ah + row * p.as_) / 4 + c];
  else if (row - p.T < p.S)
    x = b4[(b * p.bb + hh * p.bh + (row - p.T) * p.bs) / 4 + c];
  o2[idx] = uvec2(packHalf2x16(x.xy), packHalf2x16(x.zw));
}
#else
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_shader_subgroup_vote : require
#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
layout(local_size_x_id = 1) in;
layout(constant_id = 0) const uint BK = 64;        // keys per tile: 32 or 64
layout(constant_id = 1) const uint NT = 128;       // invocations: 32 per 16 query rows
layout(constant_id = 2) const uint GLOBAL_KV = 0;  // bit 0: K, bit 1: V fragments straight from global memory
layout(constant_id = 3) const uint PREFETCH = 1;   // 1: the next tile's global loads overlap this tile's math

const uint D = HEAD_DIM;
const uint D8 = D / 8;            // uvec4 (8 halves) per row
const uint NSG = NT / 32;
const uint BQ = 16 * NSG;
const uint NDB = D / 16;            // 16-wide blocks of the head dim
const uint KST8 = D8 + 1;           // uvec4 row stride of the K/V tiles (skewed by 8 halves)
const uint SST = BK + 4;            // f32 row stride of a score strip
const uint PST = BK + 8;            // f16 row stride of P
const uint SREG = 16 * SST;         // one subgroup's score region (>= 256 floats)
const float TH = 8.0;               // lazy rescale threshold (log2 units)

layout(std430, binding = 0) readonly buffer Q16 { uvec4 q16[]; };
layout(std430, binding = 1) readonly buffer K16 { uvec4 k16[]; };
layout(std430, binding = 2) readonly buffer V16 { uvec4 v16[]; };
layout(std430, binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform P {
  uint Sq, nkeys, qpad, kpad, group, H;
  float scale_log2;
  uint ob, oh, os;
} p;

const uint KG = GLOBAL_KV & 1, VG = (GLOBAL_KV >> 1) & 1;
const uint VROW = BK * (1 - KG);    // first V tile row in KVs
const uint PER = BK * D8 / NT;      // uvec4s per invocation per staged tile
shared uvec4 KVs[BK * (2 - KG - VG) * KST8 + 1];  // K tile rows (unless KG), then V tile rows (unless VG)
shared float Ss[NSG * SREG];
shared float16_t Ps[BQ * PST];

uvec4 kr[PER], vr[PER];  // staged K / V tile, this invocation's share

// Global loads of the tile whose first key row (in the scratch) is r0.
void fetch(uint r0) {
  const uint tid = gl_LocalInvocationID.x;
  [[unroll]] for (uint i = 0; i < PER; ++i) {
    const uint e = tid + i * NT, j = e / D8, c = e - j * D8;
    if (KG == 0) kr[i] = k16[(r0 + j) * D8 + c];
    if (VG == 0) vr[i] = v16[(r0 + j) * D8 + c];
  }
}

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
  const uint q0 = gl_WorkGroupID.x * BQ;
  const uint h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  const uint hk = h / p.group;
  const uint nkeys = p.nkeys;
  const uint Hk = p.H / p.group;

  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> qa[NDB];
  const uint qrow0 = (b * p.H + h) * p.qpad + q0 + sg * 16;  // scratch rows are padded: always in range
  [[unroll]] for (uint db = 0; db < NDB; ++db) coopMatLoadNV(qa[db], q16, qrow0 * D8 + db * 2, D8, false);

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> oc[NDB];
  [[unroll]] for (uint db = 0; db < NDB; ++db) oc[db] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);

  const uint row = lane >> 1, half_ = lane & 1;  // this lane's row in the strip, and column parity
  const uint sreg = sg * SREG;
  const float NEG = -1.0 / 0.0;
  float m = NEG, l = 0.0;
  const uint kvrow0 = (b * Hk + hk) * p.kpad;

  if (PREFETCH != 0 && (KG == 0 || VG == 0)) fetch(kvrow0);
  for (uint k0 = 0; k0 < nkeys; k0 += BK) {
    if (KG == 0 || VG == 0) {
      if (PREFETCH == 0) fetch(kvrow0 + k0);
      barrier();  // previous tile consumed
      [[unroll]] for (uint i = 0; i < PER; ++i) {
        const uint e = tid + i * NT, j = e / D8, c = e - j * D8;
        if (KG == 0) KVs[j * KST8 + c] = kr[i];
        if (VG == 0) KVs[(VROW + j) * KST8 + c] = vr[i];
      }
      barrier();
      if (PREFETCH != 0 && k0 + BK < nkeys) fetch(kvrow0 + k0 + BK);
    }

    // S strip = Q K^T, one 16 x 16 block of keys at a time.
    [[unroll]] for (uint jb = 0; jb < BK / 16; ++jb) {
      fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> s = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
      [[unroll]] for (uint db = 0; db < NDB; ++db) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> kt;
        if (KG == 0)
          coopMatLoadNV(kt, KVs, (jb * 16) * KST8 + db * 2, KST8, true);  // (d, key) = Ks[key][d]
        else
          coopMatLoadNV(kt, k16, (kvrow0 + k0 + jb * 16) * D8 + db * 2, D8, true);
        s = coopMatMulAddNV(qa[db], kt, s);
      }
      coopMatStoreNV(s, Ss, sreg + jb * 16, SST, false);
    }
    subgroupMemoryBarrierShared();
    subgroupBarrier();

    // Online softmax of this lane's half row (log2 domain).
    float sv[BK / 2];
    float mt = m;
    [[unroll]] for (uint i = 0; i < BK / 2; ++i) {
      const uint j = half_ + 2 * i;
      sv[i] = k0 + j < nkeys ? Ss[sreg + row * SST + j] * p.scale_log2 : NEG;
      mt = max(mt, sv[i]);
    }
    mt = max(mt, subgroupShuffleXor(mt, 1));
    const bool fresh = m == NEG;  // no keys seen yet: the row's accumulators are zero
    const bool raise = !fresh && mt > m + TH;
    if (fresh) m = mt;
    if (subgroupAny(raise)) {
      const float alpha = raise ? exp2(m - mt) : 1.0;
      if (raise) m = mt;
      l *= alpha;
      [[unroll]] for (uint db = 0; db < NDB; ++db) {
        coopMatStoreNV(oc[db], Ss, sreg, 16, false);
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        [[unroll]] for (uint c = 0; c < 8; ++c) Ss[sreg + row * 16 + half_ * 8 + c] *= alpha;
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        coopMatLoadNV(oc[db], Ss, sreg, 16, false);
        subgroupMemoryBarrierShared();
        subgroupBarrier();
      }
    }
    float ls = 0.0;
    [[unroll]] for (uint i = 0; i < BK / 2; ++i) {
      float16_t pj = float16_t(exp2(sv[i] - m));
      Ps[(sg * 16 + row) * PST + half_ + 2 * i] = pj;
      ls += float(pj);
    }
    ls += subgroupShuffleXor(ls, 1);
    l += ls;
    subgroupMemoryBarrierShared();
    subgroupBarrier();

    // O += P V.
    fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> pa[BK / 16];
    [[unroll]] for (uint jb = 0; jb < BK / 16; ++jb) coopMatLoadNV(pa[jb], Ps, (sg * 16) * PST + jb * 16, PST, false);
    [[unroll]] for (uint db = 0; db < NDB; ++db) {
      [[unroll]] for (uint jb = 0; jb < BK / 16; ++jb) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> vb_;
        if (VG == 0)
          coopMatLoadNV(vb_, KVs, (VROW + jb * 16) * KST8 + db * 2, KST8, false);
        else
          coopMatLoadNV(vb_, v16, (kvrow0 + k0 + jb * 16) * D8 + db * 2, D8, false);
        oc[db] = coopMatMulAddNV(pa[jb], vb_, oc[db]);
      }
    }
  }

  // O / l, through the subgroup's shared region one 16 x 16 block at a time.
  const uint qi = q0 + sg * 16 + row;
  const float inv = l > 0.0 ? 1.0 / l : 0.0;
  const uint obase = b * p.ob + h * p.oh + qi * p.os;
  [[unroll]] for (uint db = 0; db < NDB; ++db) {
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    coopMatStoreNV(oc[db], Ss, sreg, 16, false);
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    if (qi < p.Sq)
      [[unroll]] for (uint c = 0; c < 8; ++c) o[obase + db * 16 + half_ * 8 + c] = Ss[sreg + row * 16 + half_ * 8 + c] * inv;
  }
}
#endif
