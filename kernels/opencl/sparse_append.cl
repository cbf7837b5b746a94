// The OpenCL C port of kernels/vulkan/sparse_append.comp (read that file):
// every pass writes this call's keys and values, cut into blocks, to the
// device cache's reserved slots, with mean key and value in row R; the
// sparse flash kernel then reads this chunk's keys there.

#include "sparse_common.cl"

struct sparse_append_params {
  struct sparse_geom g;
  uint Sk, Hkv, D, Dv;
  uint blocks;  // blocks per lane this call appends (Sk / P * tiles)
  uint lanes;
  uint R1;      // rows of a slot
  uint dmax;    // max(D, Dv)
  uint total;   // lanes * blocks * dmax
};

kernel __attribute__((reqd_work_group_size(256, 1, 1))) void sparse_append(
    BUF(const float, k), BUF(const float, v), BUF(const uint, ix), BUF(float, pool_k), BUF(float, pool_v),
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
