// The OpenCL C port of kernels/vulkan/flash_attention.comp (read that file
// for the algorithm): any head dims, tiles sized by kernels/gpu/attention.cpp
// from the device's local memory, so it is the fallback wherever the
// register-tiled kernel does not apply or fit, and VDRT_VK_ATTN_FP32=old.
// Same arithmetic in the same order as the GLSL, so both backends agree,
// including the optional mask (SPEC5 = MASKED, argument msk).

// Specialization constants (docs/gpu_kernels.md); the defaults only let the
// file build on its own.
#ifndef SPEC0
#define SPEC0 64
#endif
#ifndef SPEC1
#define SPEC1 64
#endif
#ifndef SPEC2
#define SPEC2 32
#endif
#ifndef SPEC3
#define SPEC3 16
#endif
#ifndef SPEC4
#define SPEC4 128
#endif
#ifndef SPEC5
#define SPEC5 0
#endif
#define D SPEC0   // query/key head dim
#define DV SPEC1  // value head dim
#define BQ SPEC2  // queries per work group
#define BK SPEC3  // keys per tile
#define NT SPEC4  // invocations: BQ * TPQ
#define MASKED SPEC5  // 1: add the mask msk to the scaled scores
#define TPQ (NT / BQ)
#define NACC ((DV + TPQ - 1) / TPQ)
#define DM (D > DV ? D : DV)
#define KST (DM + 1)
#define SST (BK + 1)

struct flash_attention_params {
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

kernel __attribute__((reqd_work_group_size(NT, 1, 1))) void flash_attention(
    BUF(const float, q), BUF(const float, k), BUF(const float, v), BUF(const float, pk), BUF(const float, pv),
    BUF(float, o), BUF(const float, msk), constant const struct flash_attention_params* p) {
  AT(const float, q);
  AT(const float, k);
  AT(const float, v);
  AT(const float, pk);
  AT(const float, pv);
  AT(float, o);
  AT(const float, msk);
  local float Qs[BQ * D];
  local float KVs[BK * KST];
  local float Ss[BQ * SST];

  const uint tid = get_local_id(0);
  const uint q0 = get_group_id(0) * BQ;
  const uint h = get_group_id(1), b = get_group_id(2);
  const uint Sq = p->Sq, T = p->T;
  const uint hk = h / p->group;
  const uint nkeys = T + p->Skv;
  const float scale = p->scale;

  // Stage the query block (zeros past the end).
  const uint qbase = b * p->qb + h * p->qh, qs = p->qs;
  for (uint e = tid; e < BQ * D; e += NT) {
    const uint i = e / D, d = e - i * D;
    Qs[e] = q0 + i < Sq ? q[qbase + (q0 + i) * qs + d] : 0.0f;
  }

  const uint row = tid / TPQ, r = tid - row * TPQ;
  float acc[NACC];
#pragma unroll
  for (uint i = 0; i < NACC; ++i) acc[i] = 0.0f;
  float m = -INFINITY, l = 0.0f;

  const uint kbase = b * p->kb + hk * p->kh, vbase = b * p->vb + hk * p->vh;
  const uint pkbase = b * p->pkb + hk * p->pkh, pvbase = b * p->pvb + hk * p->pvh;
  const uint ks = p->ks, vs = p->vs, pks = p->pks, pvs = p->pvs;

  for (uint k0 = 0; k0 < nkeys; k0 += BK) {
    barrier(CLK_LOCAL_MEM_FENCE);  // previous tile's V and probabilities are consumed
    for (uint e = tid; e < BK * D; e += NT) {
      const uint j = e / D, d = e - j * D, key = k0 + j;
      float x = 0.0f;
      if (key < T) x = pk[pkbase + key * pks + d];
      else if (key < nkeys) x = k[kbase + (key - T) * ks + d];
      KVs[j * KST + d] = x;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint e = tid; e < BQ * BK; e += NT) {
      const uint i = e / BK, j = e - i * BK;
      float s = 0.0f;
#pragma unroll
      for (uint d = 0; d < D; ++d) s += Qs[i * D + d] * KVs[j * KST + d];
      float sc = -INFINITY;
      if (k0 + j < nkeys) {
        sc = s * scale;
        if (MASKED != 0 && q0 + i < Sq) sc += msk[b * p->mb + h * p->mh + (q0 + i) * p->mq + (k0 + j) * p->mk];
      }
      Ss[i * SST + j] = sc;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint e = tid; e < BK * DV; e += NT) {
      const uint j = e / DV, d = e - j * DV, key = k0 + j;
      float x = 0.0f;
      if (key < T) x = pv[pvbase + key * pvs + d];
      else if (key < nkeys) x = v[vbase + (key - T) * vs + d];
      KVs[j * KST + d] = x;
    }
    // Running max of this row (unmasked, the first key of a tile always
    // exists; masked, every score so far may be -inf).
    float mt = m;
    for (uint j = 0; j < BK; ++j) mt = max(mt, Ss[row * SST + j]);
    const bool none = MASKED != 0 && isinf(mt);  // unmasked: never, and folded away
    const float alpha = none ? 1.0f : exp(m - mt);
    m = mt;
    barrier(CLK_LOCAL_MEM_FENCE);  // every row max read before the scores are overwritten
    for (uint j = r; j < BK; j += TPQ) Ss[row * SST + j] = none ? 0.0f : exp(Ss[row * SST + j] - mt);
    barrier(CLK_LOCAL_MEM_FENCE);
    float ls = 0.0f;
#pragma unroll
    for (uint i = 0; i < NACC; ++i) acc[i] *= alpha;
    for (uint j = 0; j < BK; ++j) {
      const float pj = Ss[row * SST + j];
      ls += pj;
#pragma unroll
      for (uint i = 0; i < NACC; ++i) {
        const uint d = r + i * TPQ;
        if (d < DV) acc[i] += pj * KVs[j * KST + d];
      }
    }
    l = l * alpha + ls;
  }

  const uint qi = q0 + row;
  if (qi < Sq) {
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    const uint obase = b * p->ob + h * p->oh + qi * p->os;
#pragma unroll
    for (uint i = 0; i < NACC; ++i) {
      const uint d = r + i * TPQ;
      if (d < DV) o[obase + d] = acc[i] * inv;
    }
  }
}
