// The OpenCL C port of kernels/vulkan/sparse_pool_keys.comp (read that file):
// mean key of every block of whole frames of a [B, T, H_kv, D] key tensor,
// rows summed in block order and divided by their count, as the CPU does.

// Block geometry, as kernels/vulkan/sparse_common.glsl (every sparse_*.cl
// carries this copy: OpenCL programs are built from one file and common.cl).
struct sparse_geom {
  uint P, grid_w, tile_h, tile_w, bt, tiles, tiles_x;
};
static inline uint sparse_rows(constant const struct sparse_geom* g, uint t) {
  if (g->tile_w == 0) return min(g->bt, g->P - t * g->bt);
  const uint ty = t / g->tiles_x, tx = t - ty * g->tiles_x;
  const uint grid_h = g->P / g->grid_w;
  return min(g->tile_h, grid_h - ty * g->tile_h) * min(g->tile_w, g->grid_w - tx * g->tile_w);
}
static inline uint sparse_token(constant const struct sparse_geom* g, uint t, uint r) {
  if (g->tile_w == 0) return t * g->bt + r;
  const uint ty = t / g->tiles_x, tx = t - ty * g->tiles_x;
  const uint w = min(g->tile_w, g->grid_w - tx * g->tile_w);
  const uint y = r / w;
  return (ty * g->tile_h + y) * g->grid_w + tx * g->tile_w + (r - y * w);
}

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
