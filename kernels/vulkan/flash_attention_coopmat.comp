#version 450
// Flash attention on tensor cores (GL_NV_cooperative_matrix, 16x16x16
// f16 x f16 -> f32), used when the session precision is fp16, in two steps
// (attention.cpp issues both):
//
// KV_CONVERT (variant flash_attention_f16_rows): copies rows of a strided
//   f32 [B, H, S, D] view -- two consecutive key ranges, past then new --
//   into a packed f16 scratch [B, H, rows_pad, D], zero rows past the end.
//   Q, K and V are converted once per call instead of once per work group
//   and tile.
//
// Otherwise (flash_attention_coopmat[_d64], head dim HEAD_DIM = 64 or 128):
//   attention over the f16 scratch rows, the tile loop of
//   flash_coopmat_tile.glsl with contiguous key rows: the work group
//   (x, head, batch) takes query rows x * BQ .. of that head, and its keys are
//   rows kv_row0 .. kv_row0 + nkeys - 1 of its KV head.
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#include "common.glsl"

#ifdef KV_CONVERT
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(std430, binding = 2) writeonly buffer O2 { uvec2 o2[]; };
layout(push_constant) uniform P {
  uint total, d4, nh, rows_pad, T, S;
  uint ab, ah, as_, bb, bh, bs;
} p;
void main() {
  const uint idx = flat_group() * 256 + gl_LocalInvocationID.x;
  if (idx >= p.total) return;
  const uint c = idx % p.d4, r = idx / p.d4;
  const uint row = r % p.rows_pad, bhi = r / p.rows_pad;
  const uint hh = bhi % p.nh, b = bhi / p.nh;
  vec4 x = vec4(0.0);
  if (row < p.T)
    x = a4[(b * p.ab + hh * p.ah + row * p.as_) / 4 + c];
  else if (row - p.T < p.S)
    x = b4[(b * p.bb + hh * p.bh + (row - p.T) * p.bs) / 4 + c];
  o2[idx] = uvec2(packHalf2x16(x.xy), packHalf2x16(x.zw));
}
#else
#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
layout(std430, binding = 0) readonly buffer Q16 { uvec4 q16[]; };
layout(std430, binding = 1) readonly buffer K16 { uvec4 k16[]; };
layout(std430, binding = 2) readonly buffer V16 { uvec4 v16[]; };
layout(std430, binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform P {
  uint Sq, nkeys, qpad, kpad, group, H;
  float scale_log2;
  uint ob, oh, os;
} p;

#define FA_KV_CONTIGUOUS
#include "flash_coopmat_tile.glsl"

bool begin_group() {
  const uint h = gl_WorkGroupID.y, b = gl_WorkGroupID.z;
  nkeys = p.nkeys;
  scale_log2 = p.scale_log2;
  q_row0 = (b * p.H + h) * p.qpad + gl_WorkGroupID.x * BQ;
  kv_row0 = (b * (p.H / p.group) + h / p.group) * p.kpad;
  return true;
}

uvec4 key8(uint k0, uint j, uint c) { return k16[(kv_row0 + k0 + j) * D8 + c]; }
uvec4 value8(uint k0, uint j, uint c) { return v16[(kv_row0 + k0 + j) * D8 + c]; }

uint out_row(uint r) {
  const uint qi = gl_WorkGroupID.x * BQ + r;
  return qi < p.Sq ? gl_WorkGroupID.z * p.ob + gl_WorkGroupID.y * p.oh + qi * p.os : ~0u;
}

#endif
