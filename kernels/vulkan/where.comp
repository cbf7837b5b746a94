#version 450
// out = cond ? x : y with NumPy broadcasting of all three. The Bool
// condition is one byte per element, read as uint words. The host
// collapses the shapes to at most 4 dims and passes per-operand element
// strides (0 where an operand repeats).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer C { uint c[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer Y { float y[]; };
layout(std430, binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform P {
  uint n;
  uint dims[4];
  uint sc[4];
  uint sx[4];
  uint sy[4];
} p;

void main() {
  uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (i >= p.n) return;
  uint r = i, ic = 0, ix = 0, iy = 0;
  [[unroll]] for (int d = 3; d >= 0; --d) {
    uint q = r / p.dims[d];
    uint k = r - q * p.dims[d];
    r = q;
    ic += k * p.sc[d];
    ix += k * p.sx[d];
    iy += k * p.sy[d];
  }
  bool cond = ((c[ic >> 2] >> (8u * (ic & 3u))) & 0xffu) != 0u;
  o[i] = cond ? x[ix] : y[iy];
}
