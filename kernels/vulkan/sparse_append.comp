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
// invocation per (lane, block, dim), or with HALF (pools of packed f16) per
// (lane, block, pair of dims), which also writes the f32 mean keys that
// scoring reads. The OpenCL twin is kernels/opencl/sparse_append.cl.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint HALF = 0;
layout(std430, binding = 0) readonly buffer K { float k[]; };
layout(std430, binding = 1) readonly buffer V { float v[]; };
layout(std430, binding = 2) readonly buffer IX { uint ix[]; };
layout(std430, binding = 3) buffer PK { float pool_k[]; };   // [slots, R1, D]
layout(std430, binding = 4) buffer PV { float pool_v[]; };   // [slots, R1, Dv]
layout(std430, binding = 3) buffer PKH { uint pool_kh[]; };  // HALF: [slots, R1, D / 2]
layout(std430, binding = 4) buffer PVH { uint pool_vh[]; };  // HALF: [slots, R1, Dv / 2]
layout(std430, binding = 5) buffer MK { float mean_k[]; };   // HALF: [slots, D]
#define SPARSE_INDEX
#include "sparse_common.glsl"
layout(push_constant) uniform Pc {
  SparseGeom g;
  uint Sk, Hkv, D, Dv;
  uint blocks;  // blocks per lane this call appends (Sk / P * tiles)
  uint lanes;
  uint R1;      // rows of a slot
  uint dims;    // max(D, Dv), halved with HALF
  uint total;   // lanes * blocks * dims
} p;

void main() {
  const uint idx = flat_group() * 256 + gl_LocalInvocationID.x;
  if (idx >= p.total || ix[IX_APPEND] != p.blocks) return;
  const uint d = idx % p.dims;
  const uint j = (idx / p.dims) % p.blocks;
  const uint lane = idx / (p.dims * p.blocks);
  const uint b = lane / p.Hkv, hk = lane - b * p.Hkv;
  const uint frame = j / p.g.tiles, t = j - frame * p.g.tiles;
  const uint rows = sparse_rows(p.g, t);
  const uint slot = ix[ix_append(p.lanes, lane, j)];
  if (HALF != 0) {
    // Dims 2d, 2d + 1: each sum in the same order as the f32 path's.
    if (2 * d < p.D) {
      vec2 s = vec2(0.0);
      for (uint r = 0; r < rows; ++r) {
        const uint tok = b * p.Sk + frame * p.g.P + sparse_token(p.g, t, r);
        const vec2 x = vec2(k[(tok * p.Hkv + hk) * p.D + 2 * d], k[(tok * p.Hkv + hk) * p.D + 2 * d + 1]);
        pool_kh[(slot * p.R1 + r) * (p.D / 2) + d] = packHalf2x16(x);
        s += x;
      }
      const vec2 m = s / float(rows);
      pool_kh[(slot * p.R1 + p.R1 - 1) * (p.D / 2) + d] = packHalf2x16(m);
      mean_k[slot * p.D + 2 * d] = m.x;
      mean_k[slot * p.D + 2 * d + 1] = m.y;
    }
    if (2 * d < p.Dv) {
      vec2 s = vec2(0.0);
      for (uint r = 0; r < rows; ++r) {
        const uint tok = b * p.Sk + frame * p.g.P + sparse_token(p.g, t, r);
        const vec2 x = vec2(v[(tok * p.Hkv + hk) * p.Dv + 2 * d], v[(tok * p.Hkv + hk) * p.Dv + 2 * d + 1]);
        pool_vh[(slot * p.R1 + r) * (p.Dv / 2) + d] = packHalf2x16(x);
        s += x;
      }
      pool_vh[(slot * p.R1 + p.R1 - 1) * (p.Dv / 2) + d] = packHalf2x16(s / float(rows));
    }
    return;
  }
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
