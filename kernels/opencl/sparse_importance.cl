// The OpenCL C port of kernels/vulkan/sparse_importance.comp (read that
// file): Sparse Forcing's memory refresh, the pooled block attention of a
// lane's mean queries over the owner's candidates, summed per candidate.
// No early return before barriers (PoCL mishandles it).
#ifndef SPEC0
#define SPEC0 16
#endif
#ifndef SPEC1
#define SPEC1 1024
#endif
#define D SPEC0     // key head dim
#define MAXK SPEC1  // candidates held in local memory
#ifndef SPEC2
#define SPEC2 0
#endif
#define HALF SPEC2  // 1: f16 pools; pool_k is then the f32 mean keys [slots, D]
#define NT 256

#include "sparse_common.cl"

struct sparse_importance_params {
  uint lanes, Hq, Hkv, F, tiles, group, R1;
  float scale;
};

kernel __attribute__((reqd_work_group_size(NT, 1, 1))) void sparse_importance(
    BUF(const uint, ix), BUF(const float, pooled_q), BUF(const float, pool_k), BUF(float, importance),
    constant const struct sparse_importance_params* p) {
  AT(const uint, ix);
  AT(const float, pooled_q);
  AT(const float, pool_k);
  AT(float, importance);
  local float logit[MAXK];
  local float acc[MAXK];
  local float red[NT];
  const bool live = flat_group() < p->lanes && ix[IX_ACCUMULATE] != 0;
  const uint lane = live ? flat_group() : 0;
  const uint tid = get_local_id(0);
  const uint n = live ? min(ix[IX_CANDIDATES], (uint)MAXK) : 0;
  const uint b = lane / p->Hkv, hk = lane - b * p->Hkv;
  for (uint c = tid; c < n; c += NT) acc[c] = 0.0f;
  const uint queries = live ? p->group * p->F * p->tiles : 0;
  for (uint qi = 0; qi < queries; ++qi) {
    const uint qb = (b * p->Hq + hk * p->group) * p->F * p->tiles + qi;
    float top = -INFINITY;
    for (uint c = tid; c < n; c += NT) {
      const uint slot = ix[ix_candidate(ix, p->lanes, lane, c)];
      const uint base = HALF != 0 ? slot * D : (slot * p->R1 + p->R1 - 1) * D;
      float s = 0.0f;
      for (uint d = 0; d < D; ++d) s = fma(pooled_q[qb * D + d], pool_k[base + d], s);
      logit[c] = p->scale * s;
      top = max(top, p->scale * s);
    }
    red[tid] = top;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint w = NT / 2; w > 0; w /= 2) {
      if (tid < w) red[tid] = max(red[tid], red[tid + w]);
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    top = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    float sum = 0.0f;
    for (uint c = tid; c < n; c += NT) {
      const float e = exp(logit[c] - top);
      logit[c] = e;
      sum += e;
    }
    red[tid] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint w = NT / 2; w > 0; w /= 2) {
      if (tid < w) red[tid] += red[tid + w];
      barrier(CLK_LOCAL_MEM_FENCE);
    }
    sum = red[0];
    for (uint c = tid; c < n; c += NT) acc[c] += logit[c] / sum;
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  for (uint c = tid; c < n; c += NT) importance[lane * ix[IX_CANDIDATE_CAP] + c] = acc[c];
}
