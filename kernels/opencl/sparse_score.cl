// The OpenCL C port of kernels/vulkan/sparse_score.comp (read that file):
// per query block, its mean query and the scores of every block of its lane.
// FP_CONTRACT OFF keeps the CPU kernel's separate multiply and add in the
// dot products (the GLSL marks them precise), so the scores are the CPU's.
#pragma OPENCL FP_CONTRACT OFF

#ifndef SPEC0
#define SPEC0 16
#endif
#define D SPEC0  // key head dim
#define NT 256

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

struct sparse_score_params {
  struct sparse_geom g;
  uint S, Hq, Hkv, F, group;
  uint nb;  // cached blocks per lane
  uint nc;  // this chunk's blocks per lane (compete), else 0
  uint cap;  // scores per query block (row stride)
  uint nqb;  // query blocks
  uint write_pq;
  float scale;
};

kernel __attribute__((reqd_work_group_size(NT, 1, 1))) void sparse_score(
    BUF(const float, q), BUF(const float, pooled_cached), BUF(const float, pooled_chunk), BUF(float, scores),
    BUF(float, pooled_q), constant const struct sparse_score_params* p) {
  AT(const float, q);
  AT(const float, pooled_cached);
  AT(const float, pooled_chunk);
  AT(float, scores);
  AT(float, pooled_q);
  local float pq[D];
  // No early return past the end: PoCL mishandles a return before barriers.
  const bool live = flat_group() < p->nqb;
  const uint qb = live ? flat_group() : 0;
  const uint tid = get_local_id(0);
  const uint t = qb % p->g.tiles;
  uint rest = qb / p->g.tiles;
  const uint f = rest % p->F;
  rest /= p->F;
  const uint h = rest % p->Hq, b = rest / p->Hq;
  const uint lane = b * p->Hkv + h / p->group;
  const uint rows = sparse_rows(&p->g, t);
  for (uint d = tid; d < D; d += NT) {
    float s = 0.0f;
    for (uint r = 0; r < rows; ++r) {
      const uint tok = b * p->S + f * p->g.P + sparse_token(&p->g, t, r);
      s += q[(tok * p->Hq + h) * D + d];
    }
    const float m = s / (float)rows;
    pq[d] = m;
    if (p->write_pq != 0 && live) pooled_q[qb * D + d] = m;
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  const uint nall = p->nb + p->nc;
  for (uint i = tid; i < nall && live; i += NT) {
    float s = 0.0f;
    if (i < p->nb) {
      const uint base = (lane * p->nb + i) * D;
      for (uint d = 0; d < D; ++d) s += pooled_cached[base + d] * pq[d];
    } else {
      const uint base = (lane * p->nc + i - p->nb) * D;
      for (uint d = 0; d < D; ++d) s += pooled_chunk[base + d] * pq[d];
    }
    scores[qb * p->cap + i] = p->scale * s;
  }
}
