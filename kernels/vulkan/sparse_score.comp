#version 450
// Block scores of vdrt.PBSAttention / vdrt.HSAttention
// (kernels/gpu/sparse_attention.cpp): one work group per query block (one
// tile of one frame of this chunk, for one batch and query head) pools its
// queries (mean over the block's rows) and scores every block of its lane
// (batch, KV head): scores[qb, i] = scale * mean(q) . mean(k of block i),
// the cached blocks first, then (current_chunk = compete) this chunk's.
// Cached mean keys come from sparse_pool_keys (stateless) or from row R of
// the block's slot in the device cache (STATEFUL, kernels/sparse_kv_device.h;
// the cache-filling pass also keeps the mean queries for PBSA's
// pooled_refresh, WRITE_PQ). Sums run in the CPU kernel's order without
// contraction (precise), so the scores, and the selection made from them,
// equal the CPU's on devices with IEEE float arithmetic. The OpenCL twin is
// kernels/opencl/sparse_score.cl.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint D = 16;         // key head dim
layout(constant_id = 1) const uint STATEFUL = 0;   // 1: the blocks come from the device cache
layout(constant_id = 2) const uint WRITE_PQ = 0;   // 1: keep the mean queries of the cache-filling pass
layout(constant_id = 3) const uint HALF = 0;       // 1: f16 pools; binding 1 is the f32 mean keys [slots, D]
const uint NT = 256;
layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer PA { float pooled_cached[]; };  // [lanes, nb, D]; STATEFUL: the key pool
layout(std430, binding = 2) readonly buffer PB { float pooled_chunk[]; };   // [lanes, nc, D]
layout(std430, binding = 3) writeonly buffer S { float scores[]; };         // [query blocks, stride]
layout(std430, binding = 4) writeonly buffer PQ { float pooled_q[]; };      // [query blocks, D]
layout(std430, binding = 5) readonly buffer IX { uint ix[]; };             // STATEFUL: the cache's index
#define SPARSE_INDEX
#include "sparse_common.glsl"
layout(push_constant) uniform Pc {
  SparseGeom g;
  uint S, Hq, Hkv, F, group;
  uint nb;     // cached blocks per lane (stateless)
  uint nc;     // this chunk's blocks per lane (compete), else 0
  uint cap;    // scores per query block (row stride; stateless)
  uint nqb;    // query blocks
  uint lanes;  // batch * KV heads
  uint R1;     // rows of a cache slot (tile rows + the mean row)
  float scale;
} p;

shared float pq[D];

void main() {
  const uint qb = flat_group();
  if (qb >= p.nqb || (STATEFUL != 0 && qb >= ix[IX_QUERY_BLOCKS])) return;
  const uint tid = gl_LocalInvocationID.x;
  const uint t = qb % p.g.tiles;
  uint rest = qb / p.g.tiles;
  const uint f = rest % p.F;
  rest /= p.F;
  const uint h = rest % p.Hq, b = rest / p.Hq;
  const uint lane = b * p.Hkv + h / p.group;
  const uint rows = sparse_rows(p.g, t);
  const bool keep_pq = WRITE_PQ != 0 && ix[IX_ACCUMULATE] != 0;
  for (uint d = tid; d < D; d += NT) {
    float s = 0.0;
    for (uint r = 0; r < rows; ++r) {
      const uint tok = b * p.S + f * p.g.P + sparse_token(p.g, t, r);
      s += q[(tok * p.Hq + h) * D + d];
    }
    const float m = s / float(rows);
    pq[d] = m;
    if (keep_pq) pooled_q[qb * D + d] = m;
  }
  barrier();
  const uint nb = STATEFUL != 0 ? ix_blocks(lane) : p.nb;
  const uint stride = STATEFUL != 0 ? ix[IX_STRIDE] : p.cap;
  for (uint i = tid; i < nb + p.nc; i += NT) {
    precise float s = 0.0;
    if (i < nb) {
      uint base = (lane * p.nb + i) * D;
      if (STATEFUL != 0) {
        const uint slot = ix[ix_entry(p.lanes, lane, i)] & IX_SLOT;
        base = HALF != 0 ? slot * D : (slot * p.R1 + p.R1 - 1) * D;
      }
      for (uint d = 0; d < D; ++d) s += pooled_cached[base + d] * pq[d];
    } else {
      const uint base = (lane * p.nc + i - nb) * D;
      for (uint d = 0; d < D; ++d) s += pooled_chunk[base + d] * pq[d];
    }
    scores[qb * stride + i] = p.scale * s;
  }
}
