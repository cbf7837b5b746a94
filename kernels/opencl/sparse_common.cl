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

#endif
