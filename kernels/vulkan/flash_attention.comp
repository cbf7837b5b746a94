#version 450
// Flash attention in fp32: Y = softmax(scale * Q Kall^T) Vall per (batch,
// head), Kall = [past_key; key], Vall = [past_value; value] read as two key
// ranges in place (never concatenated). Every tensor is a strided view
// (element d of row s of head h of batch b at b*sb + h*sh + s*ss + d), so
// [B, S, H, D], [B, H, S, D] and [B, S, H*D] layouts are all read directly.
//
// One work group per (block of BQ queries, head, batch): gl_WorkGroupID =
// (query block, head, batch). The query block is staged in shared memory
// once; the keys are visited in tiles of BK: the K tile is staged, the BQ x BK
// scores computed into shared memory, then the V tile is staged into the
// same buffer while each query row takes its running max; the scores become
// probabilities exp(s - max) in place and every invocation updates its slice
// of the output row (TPQ invocations per query, each owning output dims
// r, r + TPQ, ...) with the online-softmax rescaling, all in fp32.
// With no keys at all the output is zero.
//
// MASKED = 1 adds an fp32 mask to the scaled scores (vdrt.Attention input 5)
// read through strides over (batch, head, query, key), zero where the mask
// broadcasts; a tile whose keys are all -inf for a row leaves that row's
// running state untouched, and a row with every key masked gives zeros.
// flash_attention_tiled.comp takes the same mask; the cooperative-matrix
// shaders take none.
#include "common.glsl"
layout(local_size_x_id = 4) in;
layout(constant_id = 0) const uint D = 64;    // query/key head dim
layout(constant_id = 1) const uint DV = 64;   // value head dim
layout(constant_id = 2) const uint BQ = 32;   // queries per work group
layout(constant_id = 3) const uint BK = 16;   // keys per tile
layout(constant_id = 4) const uint NT = 128;  // invocations: BQ * TPQ
layout(constant_id = 5) const uint MASKED = 0; // 1: add the mask at binding 6
const uint TPQ = NT / BQ;                     // invocations per query row
const uint NACC = (DV + TPQ - 1) / TPQ;       // output dims per invocation
const uint DM = D > DV ? D : DV;
const uint KST = DM + 1;                      // K/V tile row stride (skewed)
const uint SST = BK + 1;                      // score row stride

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 3) readonly buffer PK { float pk[]; };
layout(std430, binding = 4) readonly buffer PV { float pv[]; };
layout(std430, binding = 5) writeonly buffer O { float o[]; };
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

shared float Qs[BQ * D];
shared float KVs[BK * KST];
shared float Ss[BQ * SST];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint q0 = gl_WorkGroupID.x * BQ;
  const uint h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  const uint hk = h / p.group;
  const uint nkeys = p.T + p.Skv;

  // Stage the query block (zeros past the end).
  const uint qbase = b * p.qb + h * p.qh;
  for (uint e = tid; e < BQ * D; e += NT) {
    uint i = e / D, d = e - i * D;
    Qs[e] = q0 + i < p.Sq ? q[qbase + (q0 + i) * p.qs + d] : 0.0;
  }

  const uint row = tid / TPQ, r = tid - row * TPQ;
  float acc[NACC];
  [[unroll]] for (uint i = 0; i < NACC; ++i) acc[i] = 0.0;
  float m = -1.0 / 0.0, l = 0.0;

  const uint kbase = b * p.kb + hk * p.kh, vbase = b * p.vb + hk * p.vh;
  const uint pkbase = b * p.pkb + hk * p.pkh, pvbase = b * p.pvb + hk * p.pvh;

  for (uint k0 = 0; k0 < nkeys; k0 += BK) {
    barrier();  // previous tile's V and probabilities are consumed
    for (uint e = tid; e < BK * D; e += NT) {
      uint j = e / D, d = e - j * D, key = k0 + j;
      float x = 0.0;
      if (key < p.T) x = pk[pkbase + key * p.pks + d];
      else if (key < nkeys) x = k[kbase + (key - p.T) * p.ks + d];
      KVs[j * KST + d] = x;
    }
    barrier();
    for (uint e = tid; e < BQ * BK; e += NT) {
      uint i = e / BK, j = e - i * BK;
      float s = 0.0;
      [[unroll]] for (uint d = 0; d < D; ++d) s += Qs[i * D + d] * KVs[j * KST + d];
      float sc = -1.0 / 0.0;
      if (k0 + j < nkeys) {
        sc = s * p.scale;
        if (MASKED != 0 && q0 + i < p.Sq) sc += msk[b * p.mb + h * p.mh + (q0 + i) * p.mq + (k0 + j) * p.mk];
      }
      Ss[i * SST + j] = sc;
    }
    barrier();
    for (uint e = tid; e < BK * DV; e += NT) {
      uint j = e / DV, d = e - j * DV, key = k0 + j;
      float x = 0.0;
      if (key < p.T) x = pv[pvbase + key * p.pvs + d];
      else if (key < nkeys) x = v[vbase + (key - p.T) * p.vs + d];
      KVs[j * KST + d] = x;
    }
    // Running max of this row (unmasked, the first key of a tile always
    // exists; masked, every score so far may be -inf).
    float mt = m;
    for (uint j = 0; j < BK; ++j) mt = max(mt, Ss[row * SST + j]);
    const bool none = MASKED != 0 && isinf(mt);  // unmasked: never, and folded away
    const float alpha = none ? 1.0 : exp(m - mt);
    m = mt;
    barrier();  // every row max read before the scores are overwritten
    for (uint j = r; j < BK; j += TPQ) Ss[row * SST + j] = none ? 0.0 : exp(Ss[row * SST + j] - mt);
    barrier();
    float ls = 0.0;
    [[unroll]] for (uint i = 0; i < NACC; ++i) acc[i] *= alpha;
    for (uint j = 0; j < BK; ++j) {
      float pj = Ss[row * SST + j];
      ls += pj;
      [[unroll]] for (uint i = 0; i < NACC; ++i) {
        uint d = r + i * TPQ;
        if (d < DV) acc[i] += pj * KVs[j * KST + d];
      }
    }
    l = l * alpha + ls;
  }

  const uint qi = q0 + row;
  if (qi < p.Sq) {
    const float inv = l > 0.0 ? 1.0 / l : 0.0;
    const uint obase = b * p.ob + h * p.oh + qi * p.os;
    [[unroll]] for (uint i = 0; i < NACC; ++i) {
      uint d = r + i * TPQ;
      if (d < DV) o[obase + d] = acc[i] * inv;
    }
  }
}
