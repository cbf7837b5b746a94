#version 450
// Conv with few output channels per group (depthwise and kin): one
// invocation per output element sums over its Cin/group x kernel window.
// Same geometry as conv.comp (1-D/2-D arrive as 3-D with unit axes).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint HAS_BIAS = 1;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) readonly buffer B { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
  uint cg, mg, group, n;     // channels per group (in, out), groups, output elements
  uint id, ih, iw;
  uint od, oh, ow;
  uint kd, kh, kw;
  uint sd, sh, sw;
  uint dd, dh, dw;
  int pd, ph, pw;
} p;

void main() {
  uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (i >= p.n) return;
  const uint O = p.od * p.oh * p.ow, I = p.id * p.ih * p.iw;
  const uint M = p.mg * p.group, C = p.cg * p.group;
  uint o = i % O, nm = i / O;
  uint ch = nm % M, img = nm / M;
  uint g = ch / p.mg;
  uint ox = o % p.ow, rest = o / p.ow;
  uint oy = rest % p.oh, oz = rest / p.oh;
  int z0 = int(oz * p.sd) - p.pd, y0 = int(oy * p.sh) - p.ph, x0 = int(ox * p.sw) - p.pw;
  float acc = HAS_BIAS == 1 ? bias[ch] : 0.0;
  uint wi = ch * p.cg * p.kd * p.kh * p.kw;
  for (uint c = 0; c < p.cg; ++c) {
    uint xb = (img * C + g * p.cg + c) * I;
    for (uint kz = 0; kz < p.kd; ++kz) {
      int iz = z0 + int(kz * p.dd);
      bool zok = uint(iz) < p.id;
      for (uint ky = 0; ky < p.kh; ++ky) {
        int iy = y0 + int(ky * p.dh);
        bool yok = zok && uint(iy) < p.ih;
        for (uint kx = 0; kx < p.kw; ++kx, ++wi) {
          int ix = x0 + int(kx * p.dw);
          if (yok && uint(ix) < p.iw) acc = fma(w[wi], x[xb + (uint(iz) * p.ih + uint(iy)) * p.iw + uint(ix)], acc);
        }
      }
    }
  }
  y[i] = acc;
}
