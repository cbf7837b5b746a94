#version 450
// Block scores of vdrt.PBSAttention / vdrt.HSAttention
// (kernels/gpu/sparse_attention.cpp): one work group per query block (one
// tile of one frame of this chunk, for one batch and query head) pools its
// queries (mean over the block's rows) and scores every block of its lane
// (batch, KV head): scores[qb, i] = scale * mean(q) . mean(k of block i),
// the cached blocks first, then (current_chunk = compete) this chunk's.
// Sums run in the CPU kernel's order without contraction (precise), so the
// scores, and the selection made from them, equal the CPU's on devices with
// IEEE float arithmetic. The OpenCL twin is kernels/opencl/sparse_score.cl.
#include "common.glsl"
#include "sparse_common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint D = 16;  // key head dim
const uint NT = 256;
layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer PA { float pooled_cached[]; };  // [lanes, nb, D]
layout(std430, binding = 2) readonly buffer PB { float pooled_chunk[]; };   // [lanes, nc, D]
layout(std430, binding = 3) writeonly buffer S { float scores[]; };         // [query blocks, cap]
layout(std430, binding = 4) writeonly buffer PQ { float pooled_q[]; };      // [query blocks, D]
layout(push_constant) uniform Pc {
  SparseGeom g;
  uint S, Hq, Hkv, F, group;
  uint nb;    // cached blocks per lane
  uint nc;    // this chunk's blocks per lane (compete), else 0
  uint cap;   // scores per query block (row stride)
  uint nqb;   // query blocks
  uint write_pq;
  float scale;
} p;

shared float pq[D];

void main() {
  const uint qb = flat_group();
  if (qb >= p.nqb) return;
  const uint tid = gl_LocalInvocationID.x;
  const uint t = qb % p.g.tiles;
  uint rest = qb / p.g.tiles;
  const uint f = rest % p.F;
  rest /= p.F;
  const uint h = rest % p.Hq, b = rest / p.Hq;
  const uint lane = b * p.Hkv + h / p.group;
  const uint rows = sparse_rows(p.g, t);
  for (uint d = tid; d < D; d += NT) {
    float s = 0.0;
    for (uint r = 0; r < rows; ++r) {
      const uint tok = b * p.S + f * p.g.P + sparse_token(p.g, t, r);
      s += q[(tok * p.Hq + h) * D + d];
    }
    const float m = s / float(rows);
    pq[d] = m;
    if (p.write_pq != 0) pooled_q[qb * D + d] = m;
  }
  barrier();
  const uint nall = p.nb + p.nc;
  for (uint i = tid; i < nall; i += NT) {
    precise float s = 0.0;
    if (i < p.nb) {
      const uint base = (lane * p.nb + i) * D;
      for (uint d = 0; d < D; ++d) s += pooled_cached[base + d] * pq[d];
    } else {
      const uint base = (lane * p.nc + i - p.nb) * D;
      for (uint d = 0; d < D; ++d) s += pooled_chunk[base + d] * pq[d];
    }
    scores[qb * p.cap + i] = p.scale * s;
  }
}
