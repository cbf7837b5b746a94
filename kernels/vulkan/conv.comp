#version 450
// Conv (1-D/2-D/3-D, any group) as an implicit GEMM, fp32:
//   Y[n, g*MG + m, o] = bias[g*MG + m] + sum_k W[g*MG + m, k] * col[k, o]
// with k = (c, kd, kh, kw) over Cin/group x kernel volume and o the output
// pixel. The im2col gather happens while a BK x BN tile of col is staged in
// shared memory; no column buffer exists. 1-D and 2-D convolutions arrive
// as 3-D ones with unit leading axes. Work groups: x = pixel tiles,
// y = output-channel tiles, z = image * group. Tile sizes are
// specialization constants; the host guarantees WG % BN == 0 and
// (BK * BN) % WG == 0 so each invocation stages one fixed pixel column.
#include "common.glsl"
layout(local_size_x_id = 6) in;
layout(constant_id = 0) const uint BM = 64;   // output channels per tile
layout(constant_id = 1) const uint BN = 64;   // output pixels per tile
layout(constant_id = 2) const uint BK = 16;   // reduction slice
layout(constant_id = 3) const uint TM = 4;    // channels per invocation
layout(constant_id = 4) const uint TN = 4;    // pixels per invocation
layout(constant_id = 5) const uint HAS_BIAS = 1;
layout(constant_id = 6) const uint WG = 256;  // (BM / TM) * (BN / TN)

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) readonly buffer B { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P {
  uint cg, mg, group, K;     // channels per group (in, out), groups, cg * taps
  uint id, ih, iw;           // input spatial sizes
  uint od, oh, ow;           // output spatial sizes
  uint kd, kh, kw;           // kernel
  uint sd, sh, sw;           // strides
  uint dd, dh, dw;           // dilations
  int pd, ph, pw;            // leading pads
} p;

shared float As[BK * BM];  // [k][m]
shared float Bs[BK * BN];  // [k][n]

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint O = p.od * p.oh * p.ow;
  const uint I = p.id * p.ih * p.iw;
  const uint taps = p.kd * p.kh * p.kw;
  const uint khw = p.kh * p.kw;
  const uint o0 = gl_WorkGroupID.x * BN;
  const uint m0 = gl_WorkGroupID.y * BM;
  const uint img = gl_WorkGroupID.z / p.group;
  const uint g = gl_WorkGroupID.z - img * p.group;
  const uint C = p.cg * p.group;
  const uint M = p.mg * p.group;

  // The pixel column this invocation stages, decoded once.
  const uint bn = tid % BN;
  const uint bk0 = tid / BN;
  const uint o = o0 + bn;
  const bool o_ok = o < O;
  int z0 = 0, y0 = 0, x0 = 0;
  if (o_ok) {
    uint ox = o % p.ow, rest = o / p.ow;
    uint oy = rest % p.oh, oz = rest / p.oh;
    z0 = int(oz * p.sd) - p.pd;
    y0 = int(oy * p.sh) - p.ph;
    x0 = int(ox * p.sw) - p.pw;
  }
  const uint xbase = (img * C + g * p.cg) * I;
  const uint wbase = (g * p.mg) * p.K;

  const uint NT = BN / TN;  // invocations along pixels
  const uint tn = tid % NT;
  const uint tm = tid / NT;

  float acc[TM][TN];
  [[unroll]] for (uint i = 0; i < TM; ++i)
    [[unroll]] for (uint j = 0; j < TN; ++j) acc[i][j] = 0.0;

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    // Weights: BM x BK, coalesced along k.
    [[unroll]] for (uint e = tid; e < BM * BK; e += WG) {
      uint m = e / BK, k = e - m * BK;
      uint gm = m0 + m, gk = k0 + k;
      As[k * BM + m] = (gm < p.mg && gk < p.K) ? w[wbase + gm * p.K + gk] : 0.0;
    }
    // Columns: BK x BN gathered from the image, one fixed pixel per invocation.
    [[unroll]] for (uint k = bk0; k < BK; k += WG / BN) {
      uint gk = k0 + k;
      float v = 0.0;
      if (o_ok && gk < p.K) {
        uint c = gk / taps, t = gk - c * taps;
        uint kz = t / khw;
        t -= kz * khw;
        uint ky = t / p.kw, kx = t - ky * p.kw;
        int iz = z0 + int(kz * p.dd), iy = y0 + int(ky * p.dh), ix = x0 + int(kx * p.dw);
        if (uint(iz) < p.id && uint(iy) < p.ih && uint(ix) < p.iw)
          v = x[xbase + c * I + (uint(iz) * p.ih + uint(iy)) * p.iw + uint(ix)];
      }
      Bs[k * BN + bn] = v;
    }
    barrier();
    [[unroll]] for (uint k = 0; k < BK; ++k) {
      float a[TM], b[TN];
      [[unroll]] for (uint i = 0; i < TM; ++i) a[i] = As[k * BM + tm * TM + i];
      [[unroll]] for (uint j = 0; j < TN; ++j) b[j] = Bs[k * BN + tn + j * NT];
      [[unroll]] for (uint i = 0; i < TM; ++i)
        [[unroll]] for (uint j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
    barrier();
  }

  // An if, not a continue: see docs/gpu_kernels.md (acc[] stays in registers).
  [[unroll]] for (uint i = 0; i < TM; ++i) {
    uint m = m0 + tm * TM + i;
    if (m < p.mg) {
      uint ch = g * p.mg + m;
      float bv = HAS_BIAS == 1 ? bias[ch] : 0.0;
      uint ybase = (img * M + ch) * O;
      [[unroll]] for (uint j = 0; j < TN; ++j) {
        uint oo = o0 + tn + j * NT;
        if (oo < O) y[ybase + oo] = acc[i][j] + bv;
      }
    }
  }
}
