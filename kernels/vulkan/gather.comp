#version 450
// Gather along one axis: out[o, j, i] = data[o, idx[j], i] with the data
// viewed as [outer, axis, inner] and the indices flattened to [count].
// Negative indices count from the end. WORDS = 2 gathers 8-byte elements;
// IDX64 = 1 reads int64 indices (low word, sign from the high word).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint WORDS = 1;
layout(constant_id = 1) const uint IDX64 = 1;
layout(std430, binding = 0) readonly buffer X { uint x[]; };
layout(std430, binding = 1) readonly buffer I { uint idx[]; };
layout(std430, binding = 2) writeonly buffer Y { uint y[]; };
layout(push_constant) uniform P { uint n; uint axis; uint inner; uint count; } p;

void main() {
  uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (i >= p.n) return;
  uint in_i = i % p.inner;
  uint rest = i / p.inner;
  uint j = rest % p.count;
  uint o = rest / p.count;
  int k = IDX64 == 1 ? int(idx[2 * j]) : int(idx[j]);
  if (k < 0) k += int(p.axis);
  k = clamp(k, 0, int(p.axis) - 1);
  uint src = (o * p.axis + uint(k)) * p.inner + in_i;
  if (WORDS == 1) {
    y[i] = x[src];
  } else {
    y[2 * i] = x[2 * src];
    y[2 * i + 1] = x[2 * src + 1];
  }
}
