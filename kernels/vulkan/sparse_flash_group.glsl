// The push constants of sparse_flash.comp and sparse_flash_coopmat.comp,
// and which query rows and selection a work group takes. The including
// shader declares the DENSE and STATEFUL specialization constants and the
// `sel` and (STATEFUL) `ix` buffers, and includes sparse_common.glsl with
// SPARSE_INDEX first.
layout(push_constant) uniform Pc {
  SparseGeom g;
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
} p;

struct SparseGroup {
  uint qb;                 // query block: tile t of frame f of query head h, batch b
  uint t, f, h, b;
  uint hk, lane;           // its KV head, and lane = b * Hkv + hk
  uint rows, r0;           // the block's rows, the group's first one
  uint stride, nb;         // selection stride (sparse_select's layout), cached blocks of the lane
  uint ob, count;          // the block's selection: at sel[ob], `count` blocks
  uint nd, keys;           // this chunk's keys taken first (DENSE), keys in all
};

// Work group `grp` of `rows_per_group` query rows; false: nothing to do.
bool sparse_group(uint grp, uint rows_per_group, out SparseGroup s) {
  s.qb = grp / p.nsub;
  const uint sub = grp - s.qb * p.nsub;
  if (s.qb >= p.nqb) return false;
  s.t = s.qb % p.g.tiles;
  uint rest = s.qb / p.g.tiles;
  s.f = rest % p.F;
  rest /= p.F;
  s.h = rest % p.Hq;
  s.b = rest / p.Hq;
  s.hk = s.h / p.group;
  s.lane = s.b * p.Hkv + s.hk;
  s.rows = sparse_rows(p.g, s.t);
  s.r0 = sub * rows_per_group;
  if (s.r0 >= s.rows || (STATEFUL != 0 && s.qb >= ix[IX_QUERY_BLOCKS])) return false;
  s.stride = STATEFUL != 0 ? ix[IX_STRIDE] : p.cap;
  s.nb = STATEFUL != 0 ? ix_blocks(s.lane) : p.nb;
  s.ob = s.qb * (2 * s.stride + 2);
  s.count = sel[s.ob];
  s.nd = DENSE != 0 ? p.Sk : 0;
  s.keys = s.nd + sel[s.ob + 1 + s.stride + s.count];
  return true;
}

// Index, in vec4 of q [B, S, Hq, D] (d4 = D / 4 a row), of the group's
// query row r (block row r0 + r); ~0u past the block's end.
uint sparse_query_row(SparseGroup s, uint r, uint d4) {
  const uint br = s.r0 + r;
  return br < s.rows ? ((s.b * p.S + s.f * p.g.P + sparse_token(p.g, s.t, br)) * p.Hq + s.h) * d4 : ~0u;
}
