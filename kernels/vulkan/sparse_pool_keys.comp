#version 450
// Mean key of every block of whole frames of a [B, T, H_kv, D] key tensor
// (vdrt.PBSAttention / vdrt.HSAttention, kernels/gpu/sparse_attention.cpp):
// out[lane, i, d] for lane = b * H_kv + h, block i = frame * tiles + tile.
// The stateless path pools past_key's blocks this way, and with HSA's
// current_chunk = compete this chunk's keys too. Rows are summed in block
// order and divided by their count, as the CPU kernel does, so both give
// the same bits. The OpenCL twin is kernels/opencl/sparse_pool_keys.cl.
#include "common.glsl"
#include "sparse_common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer K { float k[]; };
layout(std430, binding = 1) writeonly buffer O { float o[]; };
layout(push_constant) uniform Pc {
  SparseGeom g;
  uint T;       // tokens of the key tensor (whole frames)
  uint Hkv, D;
  uint blocks;  // blocks per lane: T / P * tiles
  uint total;   // lanes * blocks * D
} p;

void main() {
  const uint idx = flat_group() * 256 + gl_LocalInvocationID.x;
  if (idx >= p.total) return;
  const uint d = idx % p.D;
  const uint i = (idx / p.D) % p.blocks;
  const uint lane = idx / (p.D * p.blocks);
  const uint b = lane / p.Hkv, hk = lane - b * p.Hkv;
  const uint frame = i / p.g.tiles, t = i - frame * p.g.tiles;
  const uint rows = sparse_rows(p.g, t);
  float s = 0.0;
  for (uint r = 0; r < rows; ++r) {
    const uint tok = b * p.T + frame * p.g.P + sparse_token(p.g, t, r);
    s += k[(tok * p.Hkv + hk) * p.D + d];
  }
  o[idx] = s / float(rows);
}
