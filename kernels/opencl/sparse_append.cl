// The OpenCL C port of kernels/vulkan/sparse_append.comp (read that file):
// every pass writes this call's keys and values, cut into blocks, to the
// device cache's reserved slots, with mean key and value in row R; the
// sparse flash kernel then reads this chunk's keys there. With HALF (SPEC0,
// the pools of fp16 sessions on tensor cores) the pools hold f16, one work
// item per pair of dims, which also writes the f32 mean keys that scoring
// reads (a sixth buffer, bound only then).

#include "sparse_common.cl"

struct sparse_append_params {
  struct sparse_geom g;
  uint Sk, Hkv, D, Dv;
  uint blocks;  // blocks per lane this call appends (Sk / P * tiles)
  uint lanes;
  uint R1;      // rows of a slot
  uint dmax;    // max(D, Dv), halved with HALF
  uint total;   // lanes * blocks * dmax
};

#ifndef SPEC0
#define SPEC0 0
#endif
#define HALF SPEC0
#if HALF
#define MEAN_K_ARG , BUF(float, mean_k)
#else
#define MEAN_K_ARG
#endif

kernel __attribute__((reqd_work_group_size(256, 1, 1))) void sparse_append(
    BUF(const float, k), BUF(const float, v), BUF(const uint, ix), BUF(float, pool_k), BUF(float, pool_v) MEAN_K_ARG,
    constant const struct sparse_append_params* p) {
  AT(const float, k);
  AT(const float, v);
  AT(const uint, ix);
  AT(float, pool_k);
  AT(float, pool_v);
  const uint idx = flat_group() * 256 + get_local_id(0);
  if (idx >= p->total || ix[IX_APPEND] != p->blocks) return;
  const uint d = idx % p->dmax;
  const uint j = (idx / p->dmax) % p->blocks;
  const uint lane = idx / (p->dmax * p->blocks);
  const uint b = lane / p->Hkv, hk = lane - b * p->Hkv;
  const uint frame = j / p->g.tiles, t = j - frame * p->g.tiles;
  const uint rows = sparse_rows(&p->g, t);
  const uint slot = ix[ix_append(ix, p->lanes, lane, j)];
#if HALF
  AT(float, mean_k);
  global half* pool_kh = (global half*)pool_k;
  global half* pool_vh = (global half*)pool_v;
  // Dims 2d, 2d + 1: each sum in the same order as the f32 path's.
  if (2 * d < p->D) {
    float2 s = (float2)(0.0f);
    for (uint r = 0; r < rows; ++r) {
      const uint tok = b * p->Sk + frame * p->g.P + sparse_token(&p->g, t, r);
      const float2 x = vload2(0, k + (tok * p->Hkv + hk) * p->D + 2 * d);
      vstore_half2_rte(x, 0, pool_kh + (slot * p->R1 + r) * p->D + 2 * d);
      s += x;
    }
    const float2 m = s / (float)rows;
    vstore_half2_rte(m, 0, pool_kh + (slot * p->R1 + p->R1 - 1) * p->D + 2 * d);
    vstore2(m, 0, mean_k + slot * p->D + 2 * d);
  }
  if (2 * d < p->Dv) {
    float2 s = (float2)(0.0f);
    for (uint r = 0; r < rows; ++r) {
      const uint tok = b * p->Sk + frame * p->g.P + sparse_token(&p->g, t, r);
      const float2 x = vload2(0, v + (tok * p->Hkv + hk) * p->Dv + 2 * d);
      vstore_half2_rte(x, 0, pool_vh + (slot * p->R1 + r) * p->Dv + 2 * d);
      s += x;
    }
    vstore_half2_rte(s / (float)rows, 0, pool_vh + (slot * p->R1 + p->R1 - 1) * p->Dv + 2 * d);
  }
  return;
#endif
  if (d < p->D) {
    float s = 0.0f;
    for (uint r = 0; r < rows; ++r) {
      const uint tok = b * p->Sk + frame * p->g.P + sparse_token(&p->g, t, r);
      const float x = k[(tok * p->Hkv + hk) * p->D + d];
      pool_k[(slot * p->R1 + r) * p->D + d] = x;
      s += x;
    }
    pool_k[(slot * p->R1 + p->R1 - 1) * p->D + d] = s / (float)rows;
  }
  if (d < p->Dv) {
    float s = 0.0f;
    for (uint r = 0; r < rows; ++r) {
      const uint tok = b * p->Sk + frame * p->g.P + sparse_token(&p->g, t, r);
      const float x = v[(tok * p->Hkv + hk) * p->Dv + d];
      pool_v[(slot * p->R1 + r) * p->Dv + d] = x;
      s += x;
    }
    pool_v[(slot * p->R1 + p->R1 - 1) * p->Dv + d] = s / (float)rows;
  }
}
