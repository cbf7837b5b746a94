// The OpenCL C port of kernels/vulkan/sparse_append.comp (read that file):
// the cache-filling pass writes this call's keys and values, cut into
// blocks, to the device cache's reserved slots, with mean key and value in
// row R.

// Block geometry, as kernels/vulkan/sparse_common.glsl.
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

// The device KV cache's index (kernels/sparse_kv_device.h), as
// kernels/vulkan/sparse_common.glsl reads it.
#define IX_CAP 0
#define IX_STRIDE 1
#define IX_BUDGET 2
#define IX_FRAMES 3
#define IX_ACCUMULATE 4
#define IX_APPEND 5
#define IX_CANDIDATES 6
#define IX_CANDIDATE_CAP 7
#define IX_QUERY_GROUPS 8
#define IX_QUERY_BLOCKS 9
#define IX_HEADER 16
#define IX_ENTRY 4
#define IX_PERSISTENT 0x80000000u
#define IX_COMPRESSED 0x40000000u
#define IX_SLOT 0x3fffffffu
static inline uint ix_blocks(global const uint* ix, uint lane) { return ix[IX_HEADER + lane]; }
static inline uint ix_entry(global const uint* ix, uint lanes, uint lane, uint i) {
  return IX_HEADER + lanes + (lane * ix[IX_CAP] + i) * IX_ENTRY;
}
static inline uint ix_append(global const uint* ix, uint lanes, uint lane, uint j) {
  return IX_HEADER + lanes + lanes * ix[IX_CAP] * IX_ENTRY + lane * ix[IX_APPEND] + j;
}
static inline uint ix_candidate(global const uint* ix, uint lanes, uint lane, uint k) {
  return IX_HEADER + lanes + lanes * (ix[IX_CAP] * IX_ENTRY + ix[IX_APPEND]) + lane * ix[IX_CANDIDATE_CAP] + k;
}

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
  if (idx >= p->total || ix[IX_ACCUMULATE] == 0 || ix[IX_APPEND] != p->blocks) return;
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
