#version 450
// Cast between f32, i32, i64 (as two 32-bit words, little-endian) and f16.
// f16 goes to and from f32 only, two elements an invocation (a 32-bit word
// of packed halves: no 16-bit storage needed, and no two invocations write
// one word); the other casts take one element an invocation.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint FROM = 0;  // 0 f32, 1 i32, 2 i64, 3 f16
layout(constant_id = 1) const uint TO = 0;
layout(std430, binding = 0) readonly buffer X { uint x[]; };
layout(std430, binding = 1) writeonly buffer Y { uint y[]; };
layout(push_constant) uniform P { uint n; } p;

void main() {
  uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (FROM == 3 || TO == 3) {
    // Element pair i; an odd count's last word holds one element (and a zero
    // half written into the buffer's padding, which backends round to 4 bytes).
    if (2 * i >= p.n) return;
    const bool two = 2 * i + 1 < p.n;
    if (FROM == 3) {
      const vec2 f = unpackHalf2x16(x[i]);
      y[2 * i] = floatBitsToUint(f.x);
      if (two) y[2 * i + 1] = floatBitsToUint(f.y);
    } else {
      y[i] = packHalf2x16(vec2(uintBitsToFloat(x[2 * i]), two ? uintBitsToFloat(x[2 * i + 1]) : 0.0));
    }
    return;
  }
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
