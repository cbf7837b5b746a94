#version 450
// Sparse Forcing's memory refresh on the device (vdrt.PBSAttention with
// memory_rank = pooled_refresh; kernels/sparse_kv_device.h), in the
// cache-filling pass: for each mean query of a lane's query blocks (query
// heads of the lane, frames, tiles: the host cache's order),
// A[c] = softmax_c(scale * q . mean key of candidate c) over the candidates
// the owner listed (the memory and the blocks leaving the window), summed
// into importance[lane, c] for the owner to read back. One work group per
// lane. The OpenCL twin is kernels/opencl/sparse_importance.cl.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint D = 16;     // key head dim
layout(constant_id = 1) const uint MAXK = 1024; // candidates held in shared memory
layout(constant_id = 2) const uint HALF = 0;    // 1: f16 pools; binding 2 is the f32 mean keys [slots, D]
const uint NT = 256;
layout(std430, binding = 0) readonly buffer IX { uint ix[]; };
layout(std430, binding = 1) readonly buffer PQ { float pooled_q[]; };  // [query blocks, D]
layout(std430, binding = 2) readonly buffer PK { float pool_k[]; };    // [slots, R1, D]
layout(std430, binding = 3) writeonly buffer IM { float importance[]; };  // [lanes, candidate cap]
#define SPARSE_INDEX
#include "sparse_common.glsl"
layout(push_constant) uniform Pc {
  uint lanes, Hq, Hkv, F, tiles, group, R1;
  float scale;
} p;

shared float logit[MAXK];
shared float acc[MAXK];
shared float red[NT];

void main() {
  const uint lane = flat_group();
  if (lane >= p.lanes || ix[IX_ACCUMULATE] == 0) return;
  const uint tid = gl_LocalInvocationID.x;
  const uint n = min(ix[IX_CANDIDATES], MAXK);
  const uint b = lane / p.Hkv, hk = lane - b * p.Hkv;
  for (uint c = tid; c < n; c += NT) acc[c] = 0.0;
  for (uint h = hk * p.group; h < (hk + 1) * p.group; ++h)
    for (uint ft = 0; ft < p.F * p.tiles; ++ft) {
      const uint qb = (b * p.Hq + h) * p.F * p.tiles + ft;
      float top = -1.0 / 0.0;
      for (uint c = tid; c < n; c += NT) {
        const uint slot = ix[ix_candidate(p.lanes, lane, c)];
        const uint base = HALF != 0 ? slot * D : (slot * p.R1 + p.R1 - 1) * D;
        float s = 0.0;
        for (uint d = 0; d < D; ++d) s = fma(pooled_q[qb * D + d], pool_k[base + d], s);
        logit[c] = p.scale * s;
        top = max(top, p.scale * s);
      }
      red[tid] = top;
      barrier();
      for (uint w = NT / 2; w > 0; w /= 2) {
        if (tid < w) red[tid] = max(red[tid], red[tid + w]);
        barrier();
      }
      top = red[0];
      barrier();
      float sum = 0.0;
      for (uint c = tid; c < n; c += NT) {
        const float e = exp(logit[c] - top);
        logit[c] = e;
        sum += e;
      }
      red[tid] = sum;
      barrier();
      for (uint w = NT / 2; w > 0; w /= 2) {
        if (tid < w) red[tid] += red[tid + w];
        barrier();
      }
      sum = red[0];
      for (uint c = tid; c < n; c += NT) acc[c] += logit[c] / sum;
      barrier();
    }
  for (uint c = tid; c < n; c += NT) importance[lane * ix[IX_CANDIDATE_CAP] + c] = acc[c];
}
