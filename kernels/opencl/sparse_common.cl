// What every sparse_*.cl kernel shares, as kernels/vulkan/sparse_common.glsl:
// the block geometry of BlockLayout and the device KV cache's index
// (kernels/sparse_kv_device.h). Kernels pull it in with
// #include "sparse_common.cl", which the OpenCL backend expands from the
// embedded sources before building (backends/opencl/opencl_programs.cpp).
#ifndef VDRT_SPARSE_COMMON_CL
#define VDRT_SPARSE_COMMON_CL

// Block geometry.
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

// Block t of a frame and row r inside it of the frame's jj-th row in tile
// order (sparse_common.glsl's sparse_tile_row).
static inline void sparse_tile_row(constant const struct sparse_geom* g, uint jj, uint* t, uint* r) {
  if (g->tile_w == 0) {
    *t = jj / g->bt;
    *r = jj - *t * g->bt;
    return;
  }
  const uint band = g->tile_h * g->grid_w;
  const uint ty = jj / band, rest = jj - ty * band;
  const uint h = min(g->tile_h, g->P / g->grid_w - ty * g->tile_h);
  const uint tx = rest / (h * g->tile_w);
  *t = ty * g->tiles_x + tx;
  *r = rest - tx * h * g->tile_w;
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
// The pool row of row r of this chunk's block c, and of this chunk's key j
// in tile order (sparse_common.glsl's ix_appended_row, ix_chunk_key_row).
static inline uint ix_appended_row(global const uint* ix, uint lanes, uint lane, uint R1, uint c, uint r) {
  return ix[ix_append(ix, lanes, lane, c)] * R1 + r;
}
static inline uint ix_chunk_key_row(constant const struct sparse_geom* g, global const uint* ix, uint lanes, uint lane,
                                    uint R1, uint j) {
  const uint fk = j / g->P;
  uint t, r;
  sparse_tile_row(g, j - fk * g->P, &t, &r);
  return ix_appended_row(ix, lanes, lane, R1, fk * g->tiles + t, r);
}

// The parameters of both sparse flash kernels (sparse_flash.cl,
// sparse_flash_coopmat.cl), as sparse_flash_group.glsl's push constants.
struct sparse_flash_params {
  struct sparse_geom g;
  uint S, Hq, Hkv, F, group;
  uint Sk;    // this chunk's keys
  uint T;     // past tokens
  uint nb;    // cached blocks per lane; selected ids >= nb are this chunk's blocks
  uint cap;   // selection capacity (sparse_select's layout)
  uint nsub;  // work groups per query block
  uint nqb;   // query blocks
  uint lanes; // batch * KV heads
  uint R1;    // rows of a cache slot (tile rows + the mean row)
  float scale;
};

// Which query block and rows work group grp of a sparse flash kernel takes
// (rows_per_group of them), as sparse_flash_group.glsl's sparse_group: query
// block qb is tile t of frame f of query head h, batch b; the group's rows are
// r0 .. of the block's `rows`. A group past the blocks (or, with a device
// cache, past its query blocks) is not live and reads block 0's selection,
// so that kernels need no early return before their barriers (PoCL
// mishandles one).
struct sparse_flash_group {
  uint live, qb, sub, t, f, h, b, hk, rows, r0;
  uint stride;               // the selection's stride (sparse_select's layout)
  global const uint* ids;    // the block's selected blocks
  global const uint* start;  // their row offsets; start[count]: the selected rows in all
  uint count;
};
static inline struct sparse_flash_group sparse_flash_group_of(constant const struct sparse_flash_params* p,
                                                              global const uint* ix, global const uint* sel, uint grp,
                                                              uint rows_per_group, uint stateful) {
  struct sparse_flash_group s;
  const bool in_range = grp / p->nsub < p->nqb && (stateful == 0 || grp / p->nsub < ix[IX_QUERY_BLOCKS]);
  s.qb = in_range ? grp / p->nsub : 0;
  s.sub = in_range ? grp - s.qb * p->nsub : 0;
  s.t = s.qb % p->g.tiles;
  uint rest = s.qb / p->g.tiles;
  s.f = rest % p->F;
  rest /= p->F;
  s.h = rest % p->Hq;
  s.b = rest / p->Hq;
  s.hk = s.h / p->group;
  s.rows = sparse_rows(&p->g, s.t);
  s.r0 = s.sub * rows_per_group;
  s.live = in_range && s.r0 < s.rows;
  s.stride = stateful != 0 ? ix[IX_STRIDE] : p->cap;
  s.ids = sel + (size_t)s.qb * (2 * s.stride + 2) + 1;
  s.start = s.ids + s.stride;
  s.count = s.ids[-1];
  return s;
}

#endif
