#version 450
// RotaryEmbedding (ONNX opset 23), f32, one invocation per output element
// (kernels/gpu/rotary_embedding.cpp plans it). Rows of H channels are
// (b, n, s) for 4-D X [B, N, S, H] (FOUR = 1) and (b, s, n) for 3-D X
// [B, S, N*H]. Channel j < R of a row belongs to pair i: j = 2i, 2i+1
// (interleaved) or j = i, i + R/2; the first of a pair becomes
// cos*x1 - sin*x2, the second sin*x1 + cos*x2; channels >= R are copied.
// The cache row is b*S + s, or position_ids[b, s] (int64, low word, clamped
// to [0, P)) when POS = 1.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer C { float cs[]; };
layout(std430, binding = 2) readonly buffer S { float sn[]; };
layout(std430, binding = 3) readonly buffer I { int pos[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
  uint n;
  uint head;
  uint half_rot;
  uint heads;
  uint seq;
  uint four;
  uint interleaved;
  uint has_pos;
  uint cache_rows;
} p;

void main() {
  uint e = flat_group() * 256 + gl_LocalInvocationID.x;
  if (e >= p.n) return;
  uint row = e / p.head;
  uint j = e - row * p.head;
  if (j >= 2u * p.half_rot) {
    y[e] = x[e];
    return;
  }
  uint bs = p.four == 1u ? (row / (p.heads * p.seq)) * p.seq + row % p.seq : row / p.heads;
  uint c_row = bs;
  if (p.has_pos == 1u) c_row = uint(clamp(pos[2u * bs], 0, int(p.cache_rows) - 1));
  uint i, first, second;
  bool is_first;
  if (p.interleaved == 1u) {
    i = j >> 1;
    first = 2u * i;
    second = first + 1u;
    is_first = (j & 1u) == 0u;
  } else {
    is_first = j < p.half_rot;
    i = is_first ? j : j - p.half_rot;
    first = i;
    second = i + p.half_rot;
  }
  uint base = row * p.head;
  float x1 = x[base + first], x2 = x[base + second];
  float c = cs[c_row * p.half_rot + i], s = sn[c_row * p.half_rot + i];
  y[e] = is_first ? c * x1 - s * x2 : s * x1 + c * x2;
}
