#version 450
// A strided copy of 4-byte elements, the one kernel behind Transpose, Slice,
// Expand, Concat, Split, Reshape and their kin: element k of the (collapsed,
// at most 6-dim) iteration space is read at in_off + sum(idx * si) and
// written at out_off + sum(idx * so). WORDS = 2 copies 8-byte elements.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint WORDS = 1;
layout(std430, binding = 0) readonly buffer X { uint x[]; };
layout(std430, binding = 1) writeonly buffer Y { uint y[]; };
layout(push_constant) uniform P {
  uint n;
  uint in_off;
  uint out_off;
  uint dims[6];
  uint si[6];
  uint so[6];
} p;

void main() {
  uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (i >= p.n) return;
  uint r = i, src = p.in_off, dst = p.out_off;
  [[unroll]] for (int d = 5; d >= 0; --d) {
    uint q = r / p.dims[d];
    uint k = r - q * p.dims[d];
    r = q;
    src += k * p.si[d];
    dst += k * p.so[d];
  }
  if (WORDS == 1) {
    y[dst] = x[src];
  } else {
    y[2 * dst] = x[2 * src];
    y[2 * dst + 1] = x[2 * src + 1];
  }
}
