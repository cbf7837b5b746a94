#version 450
// c = a (op) b with NumPy broadcasting. The host collapses the shapes to at
// most 6 dims and passes each operand's element strides (0 where it
// broadcasts); MODE 1 is the common same-shape case without index math.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;
layout(constant_id = 1) const uint MODE = 0;  // 0 strided, 1 same shape, 2 b is one element
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer C { float c[]; };
layout(push_constant) uniform P {
  uint n;
  uint dims[6];     // output dims, outermost first
  uint sa[6];       // strides of a per output dim
  uint sb[6];
} p;

float apply(float x, float y) {
  switch (OP) {
    case 0: return x + y;
    case 1: return x - y;
    case 2: return x * y;
    case 3: return x / y;
    case 4: {  // Pow: exact for the integer exponents exports use (x*x for 2)
      if (y == 2.0) return x * x;
      if (y == 1.0) return x;
      if (y == 0.5) return sqrt(x);
      if (y == floor(y)) { float r = pow(abs(x), y); return (x < 0.0 && mod(y, 2.0) == 1.0) ? -r : r; }
      return pow(x, y);
    }
    case 5: return max(x, y);
    case 6: return min(x, y);
    case 7: return x - y * floor(x / y);   // Mod, fmod = 0 (Python's sign convention)
    case 8: return x - y * trunc(x / y);   // Mod, fmod = 1 (C's)
    case 9: return x >= 0.0 ? x : x * y;   // PRelu
    default: return x;
  }
}

void main() {
  uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (i >= p.n) return;
  if (MODE == 1) { c[i] = apply(a[i], b[i]); return; }
  if (MODE == 2) { c[i] = apply(a[i], b[0]); return; }
  uint r = i, ia = 0, ib = 0;
  [[unroll]] for (int d = 5; d >= 0; --d) {
    uint q = r / p.dims[d];
    uint k = r - q * p.dims[d];
    r = q;
    ia += k * p.sa[d];
    ib += k * p.sb[d];
  }
  c[i] = apply(a[ia], b[ib]);
}
