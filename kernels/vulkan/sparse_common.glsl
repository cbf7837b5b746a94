// Block geometry of vdrt.PBSAttention / vdrt.HSAttention, shared by the
// sparse_*.comp shaders (kernels/gpu/sparse_attention.cpp plans them). A
// frame's P tokens form a raster of rows of grid_w; a block is a tile_h x
// tile_w tile of it (edge tiles smaller), or with tile_w == 0 a 1-D run of
// bt tokens (the last one of a frame short). Blocks are numbered in tile
// order and their rows in raster order inside the block, as
// BlockLayout::tile_order does on the host. Every push-constant block of
// these shaders starts with a SparseGeom, so the OpenCL structs mirror it.
struct SparseGeom {
  uint P;        // tokens per frame
  uint grid_w;   // tokens per grid row
  uint tile_h;   // tile rows (tile layout)
  uint tile_w;   // tile columns; 0: the 1-D token layout
  uint bt;       // tokens per 1-D block (token layout)
  uint tiles;    // blocks per frame
  uint tiles_x;  // tiles per grid row (tile layout)
};

// Rows (tokens) of block t of a frame.
uint sparse_rows(SparseGeom g, uint t) {
  if (g.tile_w == 0) return min(g.bt, g.P - t * g.bt);
  const uint ty = t / g.tiles_x, tx = t - ty * g.tiles_x;
  const uint grid_h = g.P / g.grid_w;
  return min(g.tile_h, grid_h - ty * g.tile_h) * min(g.tile_w, g.grid_w - tx * g.tile_w);
}

// Raster index, inside its frame, of row r of block t.
uint sparse_token(SparseGeom g, uint t, uint r) {
  if (g.tile_w == 0) return t * g.bt + r;
  const uint ty = t / g.tiles_x, tx = t - ty * g.tiles_x;
  const uint w = min(g.tile_w, g.grid_w - tx * g.tile_w);
  const uint y = r / w;
  return (ty * g.tile_h + y) * g.grid_w + tx * g.tile_w + (r - y * w);
}

// Block t of a frame and row r inside it of the frame's jj-th row in tile
// order (block 0's rows, then block 1's, ...): sparse_token's inverse order.
void sparse_tile_row(SparseGeom g, uint jj, out uint t, out uint r) {
  if (g.tile_w == 0) {
    t = jj / g.bt;
    r = jj - t * g.bt;
    return;
  }
  const uint band = g.tile_h * g.grid_w;  // tokens of a full row of tiles
  const uint ty = jj / band, rest = jj - ty * band;
  const uint h = min(g.tile_h, g.P / g.grid_w - ty * g.tile_h);
  const uint tx = rest / (h * g.tile_w);
  t = ty * g.tiles_x + tx;
  r = rest - tx * h * g.tile_w;
}

#ifdef SPARSE_INDEX
// The device KV cache's index (kernels/sparse_kv_device.h), for shaders that
// declare it as `uint ix[]` before including this file.
const uint IX_CAP = 0, IX_STRIDE = 1, IX_BUDGET = 2, IX_FRAMES = 3, IX_ACCUMULATE = 4, IX_APPEND = 5;
const uint IX_CANDIDATES = 6, IX_CANDIDATE_CAP = 7, IX_QUERY_GROUPS = 8, IX_QUERY_BLOCKS = 9, IX_HEADER = 16;
const uint IX_ENTRY = 4, IX_PERSISTENT = 0x80000000u, IX_COMPRESSED = 0x40000000u, IX_SLOT = 0x3fffffffu;

uint ix_blocks(uint lane) { return ix[IX_HEADER + lane]; }
// Word of block i's table entry: slot and flags, then rows, frame, log weight.
uint ix_entry(uint lanes, uint lane, uint i) { return IX_HEADER + lanes + (lane * ix[IX_CAP] + i) * IX_ENTRY; }
uint ix_append(uint lanes, uint lane, uint j) {
  return IX_HEADER + lanes + lanes * ix[IX_CAP] * IX_ENTRY + lane * ix[IX_APPEND] + j;
}
uint ix_candidate(uint lanes, uint lane, uint k) {
  return IX_HEADER + lanes + lanes * (ix[IX_CAP] * IX_ENTRY + ix[IX_APPEND]) + lane * ix[IX_CANDIDATE_CAP] + k;
}
// The pool row of row r of this chunk's block c: the slot reserved for the
// block, which sparse_append fills in every pass before the flash kernels.
uint ix_appended_row(uint lanes, uint lane, uint R1, uint c, uint r) { return ix[ix_append(lanes, lane, c)] * R1 + r; }
// The pool row of this chunk's key j, the chunk's keys taken in tile order
// (the order sparse_append writes them in; attention does not depend on it).
uint ix_chunk_key_row(SparseGeom g, uint lanes, uint lane, uint R1, uint j) {
  const uint fk = j / g.P;
  uint t, r;
  sparse_tile_row(g, j - fk * g.P, t, r);
  return ix_appended_row(lanes, lane, R1, fk * g.tiles + t, r);
}
#endif

#ifdef SPARSE_KEYS
// Row jj of the selected blocks' rows of a query block (its selection at
// sel[ob ..], sparse_select's layout: count, the block ids, then the row
// offsets), for shaders that declare `uint sel[]` (and, STATEFUL, the
// index). `cursor` is a selection index at or before the row's block: the
// caller's, moved forward (rows are visited in increasing order).
const uint SK_CHUNK = 0;  // row: token of this chunk (compete, without a device cache)
const uint SK_PAST = 1;   // row: token of past_key/past_value
const uint SK_SLOT = 2;   // row: row of the device cache's pools (this chunk's blocks too)
struct SparseKey {
  uint where;  // SK_*
  uint row;
  float lw2;   // log weight of the block (a compressed block's), log2 units
  uint k;      // selection index of the block
};

SparseKey sparse_selected_key(SparseGeom g, uint jj, uint ob, uint stride, uint count, uint nb, bool stateful,
                              uint lanes, uint lane, uint R1, inout uint cursor) {
  uint lo = cursor;
  while (lo + 1 < count && sel[ob + 1 + stride + lo + 1] <= jj) ++lo;
  cursor = lo;
  const uint blk = sel[ob + 1 + lo], r = jj - sel[ob + 1 + stride + lo];
  SparseKey key;
  key.k = lo;
  key.lw2 = 0.0;
  if (blk >= nb && stateful) {  // a block of this chunk (compete), in its reserved slot
    key.where = SK_SLOT;
    key.row = ix_appended_row(lanes, lane, R1, blk - nb, r);
  } else if (blk >= nb) {  // a block of this chunk (compete)
    const uint c = blk - nb, fk = c / g.tiles, t2 = c - fk * g.tiles;
    key.where = SK_CHUNK;
    key.row = fk * g.P + sparse_token(g, t2, r);
  } else if (stateful) {  // a slot of the device cache
    const uint e = ix_entry(lanes, lane, blk), slot = ix[e];
    key.where = SK_SLOT;
    key.row = (slot & IX_SLOT) * R1 + ((slot & IX_COMPRESSED) != 0 ? R1 - 1 : 0) + r;
    key.lw2 = uintBitsToFloat(ix[e + 3]) * 1.4426950408889634;
  } else {  // a cached block: a tile of a past frame
    const uint fr = blk / g.tiles, t2 = blk - fr * g.tiles;
    key.where = SK_PAST;
    key.row = fr * g.P + sparse_token(g, t2, r);
  }
  return key;
}
#endif
