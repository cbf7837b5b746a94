#version 450
// The device KV cache's append (kernels/sparse_kv_device.h), run by
// vdrt.PBSAttention / vdrt.HSAttention in every pass before the flash kernel:
// this call's keys and values (the chunk's present_key / present_value) cut
// into blocks (tile order, as BlockLayout) and written to the slots the
// owner reserved for them, with each block's mean key and mean value in row
// R. The flash kernels read this chunk's keys from there, so that every key
// comes from the pools; the reserved slots are in no block table until the
// chunk ends, and the cache-filling pass writes them last. Rows are summed
// in block order and divided by their count, as the host cache does. One
// invocation per (lane, block, dim). The OpenCL twin is
// kernels/opencl/sparse_append.cl.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer K { float k[]; };
layout(std430, binding = 1) readonly buffer V { float v[]; };
layout(std430, binding = 2) readonly buffer IX { uint ix[]; };
layout(std430, binding = 3) buffer PK { float pool_k[]; };  // [slots, R1, D]
layout(std430, binding = 4) buffer PV { float pool_v[]; };  // [slots, R1, Dv]
#define SPARSE_INDEX
#include "sparse_common.glsl"
layout(push_constant) uniform Pc {
  SparseGeom g;
  uint Sk, Hkv, D, Dv;
  uint blocks;  // blocks per lane this call appends (Sk / P * tiles)
  uint lanes;
  uint R1;      // rows of a slot
  uint dmax;    // max(D, Dv)
  uint total;   // lanes * blocks * dmax
} p;

void main() {
  const uint idx = flat_group() * 256 + gl_LocalInvocationID.x;
  if (idx >= p.total || ix[IX_APPEND] != p.blocks) return;
  const uint d = idx % p.dmax;
  const uint j = (idx / p.dmax) % p.blocks;
  const uint lane = idx / (p.dmax * p.blocks);
  const uint b = lane / p.Hkv, hk = lane - b * p.Hkv;
  const uint frame = j / p.g.tiles, t = j - frame * p.g.tiles;
  const uint rows = sparse_rows(p.g, t);
  const uint slot = ix[ix_append(p.lanes, lane, j)];
  if (d < p.D) {
    float s = 0.0;
    for (uint r = 0; r < rows; ++r) {
      const uint tok = b * p.Sk + frame * p.g.P + sparse_token(p.g, t, r);
      const float x = k[(tok * p.Hkv + hk) * p.D + d];
      pool_k[(slot * p.R1 + r) * p.D + d] = x;
      s += x;
    }
    pool_k[(slot * p.R1 + p.R1 - 1) * p.D + d] = s / float(rows);
  }
  if (d < p.Dv) {
    float s = 0.0;
    for (uint r = 0; r < rows; ++r) {
      const uint tok = b * p.Sk + frame * p.g.P + sparse_token(p.g, t, r);
      const float x = v[(tok * p.Hkv + hk) * p.Dv + d];
      pool_v[(slot * p.R1 + r) * p.Dv + d] = x;
      s += x;
    }
    pool_v[(slot * p.R1 + p.R1 - 1) * p.Dv + d] = s / float(rows);
  }
}
