#version 450
// y = a * (b + offset) + c with NumPy broadcasting (vdrt.MulAdd: adaLN
// modulation, gated residual). The host (kernels/gpu/muladd.cpp) collapses
// the shapes to at most 6 dims and passes each operand's element strides
// (0 where it broadcasts); MODE 1 is the same-shape case without index math,
// MODE 2 the strided case by 4 (innermost dim a multiple of 4, innermost
// strides 1 or 0: one index computation for 4 outputs; ND collapsed dims,
// A1 / B1 / C1 whether each operand runs along the innermost dim).
// The OpenCL twin is kernels/opencl/muladd.cl.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint MODE = 0;  // 0 strided, 1 same shape, 2 strided by 4
layout(constant_id = 1) const int ND = 6;
layout(constant_id = 2) const uint A1 = 1;
layout(constant_id = 3) const uint B1 = 1;
layout(constant_id = 4) const uint C1 = 1;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) readonly buffer C { float c[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
  uint n;
  uint dims[6];  // output dims, outermost first
  uint sa[6];    // strides of a per output dim
  uint sb[6];
  uint sc[6];
  float offset;
} p;

void main() {
  if (MODE == 2) {
    const uint i = (flat_group() * 256 + gl_LocalInvocationID.x) * 4;
    if (i >= p.n) return;
    uint r = i, ia = 0, ib = 0, ic = 0;
    for (int d = 5; d > 6 - ND; --d) {
      uint q = r / p.dims[d];
      uint k = r - q * p.dims[d];
      r = q;
      ia += k * p.sa[d];
      ib += k * p.sb[d];
      ic += k * p.sc[d];
    }
    ia += r * p.sa[6 - ND];
    ib += r * p.sb[6 - ND];
    ic += r * p.sc[6 - ND];
    [[unroll]] for (uint e = 0; e < 4; ++e)
      y[i + e] = a[ia + e * A1] * (b[ib + e * B1] + p.offset) + c[ic + e * C1];
    return;
  }
  uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (i >= p.n) return;
  if (MODE == 1) { y[i] = a[i] * (b[i] + p.offset) + c[i]; return; }
  uint r = i, ia = 0, ib = 0, ic = 0;
  [[unroll]] for (int d = 5; d >= 0; --d) {
    uint q = r / p.dims[d];
    uint k = r - q * p.dims[d];
    r = q;
    ia += k * p.sa[d];
    ib += k * p.sb[d];
    ic += k * p.sc[d];
  }
  y[i] = a[ia] * (b[ib] + p.offset) + c[ic];
}
