#version 450
// Cast between f32, i32 and i64 (i64 as two 32-bit words, little-endian).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint FROM = 0;  // 0 f32, 1 i32, 2 i64
layout(constant_id = 1) const uint TO = 0;
layout(std430, binding = 0) readonly buffer X { uint x[]; };
layout(std430, binding = 1) writeonly buffer Y { uint y[]; };
layout(push_constant) uniform P { uint n; } p;

void main() {
  uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (i >= p.n) return;
  float f = 0.0;
  int v = 0;
  if (FROM == 0) { f = uintBitsToFloat(x[i]); v = int(trunc(clamp(f, -2147483648.0, 2147483520.0))); }
  if (FROM == 1) { v = int(x[i]); f = float(v); }
  // i64 values that reach the GPU are indices and positions: their high word
  // is the sign extension of the low one.
  if (FROM == 2) { v = int(x[2 * i]); f = float(v); }
  if (TO == 0) y[i] = floatBitsToUint(f);
  if (TO == 1) y[i] = uint(v);
  if (TO == 2) { y[2 * i] = uint(v); y[2 * i + 1] = v < 0 ? 0xffffffffu : 0u; }
}
