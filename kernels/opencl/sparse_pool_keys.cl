// The OpenCL C port of kernels/vulkan/sparse_pool_keys.comp (read that file):
// mean key of every block of whole frames of a [B, T, H_kv, D] key tensor,
// rows summed in block order and divided by their count, as the CPU does.

#include "sparse_common.cl"

struct sparse_pool_keys_params {
  struct sparse_geom g;
  uint T;  // tokens of the key tensor (whole frames)
  uint Hkv, D;
  uint blocks;  // blocks per lane
  uint total;   // lanes * blocks * D
};

kernel __attribute__((reqd_work_group_size(256, 1, 1))) void sparse_pool_keys(
    BUF(const float, k), BUF(float, o), constant const struct sparse_pool_keys_params* p) {
  AT(const float, k);
  AT(float, o);
  const uint idx = flat_group() * 256 + get_local_id(0);
  if (idx >= p->total) return;
  const uint d = idx % p->D;
  const uint i = (idx / p->D) % p->blocks;
  const uint lane = idx / (p->D * p->blocks);
  const uint b = lane / p->Hkv, hk = lane - b * p->Hkv;
  const uint frame = i / p->g.tiles, t = i - frame * p->g.tiles;
  const uint rows = sparse_rows(&p->g, t);
  float s = 0.0f;
  for (uint r = 0; r < rows; ++r) {
    const uint tok = b * p->T + frame * p->g.P + sparse_token(&p->g, t, r);
    s += k[(tok * p->Hkv + hk) * p->D + d];
  }
  o[idx] = s / (float)rows;
}
