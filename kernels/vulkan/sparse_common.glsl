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
