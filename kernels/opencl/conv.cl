// Conv as an implicit GEMM, fp32: the OpenCL twin of kernels/vulkan/conv.comp
// (same constants, parameters, tiles and grid: x = pixel tiles, y = output-
// channel tiles, z = image * group; 1-D/2-D arrive as 3-D with unit axes).
// Where it departs from the GLSL, it is for speed on OpenCL compilers:
//  - each invocation walks its k rows of the im2col gather incrementally
//    (carrying kx -> ky -> kz -> c) instead of three integer divisions per
//    element, which would cost as much as the multiply itself;
//  - the next slice is fetched into registers while this one is multiplied;
//  - weight rows are fetched as float4 where K % 4 == 0 and aligned, laid out
//    so the transposing stores are conflict-free, and the weight tile is
//    padded (BM + 4) so scalar stores are too (the GLSL's [k][m] tile with BM
//    a multiple of 32 puts a warp's stores in two banks);
//  - with TN a multiple of 4 an invocation owns runs of 4 adjacent pixels,
//    read from local memory and written to Y as float4.
// Summation over k keeps the GLSL order; the bias is added last.

#ifndef SPEC0
#define SPEC0 64
#endif
#ifndef SPEC1
#define SPEC1 64
#endif
#ifndef SPEC2
#define SPEC2 16
#endif
#ifndef SPEC3
#define SPEC3 4
#endif
#ifndef SPEC4
#define SPEC4 4
#endif
#ifndef SPEC5
#define SPEC5 1
#endif
#ifndef SPEC6
#define SPEC6 256
#endif

#define BM SPEC0        // output channels per tile
#define BN SPEC1        // output pixels per tile
#define BK SPEC2        // reduction slice
#define TM SPEC3        // channels per invocation
#define TN SPEC4        // pixels per invocation
#define HAS_BIAS SPEC5
#define WG SPEC6        // (BM / TM) * (BN / TN); the host keeps WG % BN == 0 and (BK * BN) % WG == 0

struct conv_params {
  uint cg, mg, group, K;  // channels per group (in, out), groups, cg * taps
  uint id, ih, iw;        // input spatial sizes
  uint od, oh, ow;        // output spatial sizes
  uint kd, kh, kw;        // kernel
  uint sd, sh, sw;        // strides
  uint dd, dh, dw;        // dilations
  int pd, ph, pw;         // leading pads
};

#define APAD (BM + 4)
#define NTH (BN / TN)                 // invocations along pixels
#define KSTEP (WG / BN)               // k rows between one invocation's gathered elements
#define LBX (BK / KSTEP)              // gathered elements per invocation per slice
#define NA (BM * BK)                  // weights per slice
#define LAS ((NA + WG - 1) / WG)      // per invocation, scalar
#define LA4 ((NA / 4 + WG - 1) / WG)  // float4s per invocation
#define LAMAX (4 * LA4 > LAS ? 4 * LA4 : LAS)
#define W_VEC_OK (BK % 8 == 0)
#define VM (TM % 4 == 0)
#define VN (TN % 4 == 0)

#define ALIGNED16(ptr) ((((size_t)(ptr)) & 15) == 0)

#if VN
#define PIX(tn, j) ((tn) * 4 + ((j) / 4) * (NTH * 4) + ((j) % 4))
#else
#define PIX(tn, j) ((tn) + (j) * NTH)
#endif

// Weight slice into registers. Vector layout: pairs of float4 along k, then
// rows m, then the other k pairs (whole 32-byte sectors per pair of
// invocations, 32 banks per warp on the transposing store).
inline void load_w(global const float* W, uint mg, uint K, uint tid, uint m0, uint k0, int vec, private float* la) {
#if W_VEC_OK
  if (vec) {
#pragma unroll
    for (uint r = 0; r < LA4; ++r) {
      const uint e4 = tid + r * WG;
      const uint rest = e4 >> 1;
      const uint m = rest % BM, k = ((rest / BM) * 2 + (e4 & 1)) * 4;
      const uint gm = m0 + m, gk = k0 + k;
      float4 v = (float4)(0.0f);
      if (e4 < NA / 4) {
        if (gm < mg && gk + 3 < K) {
          v = *(global const float4*)(W + gm * K + gk);
        } else if (gm < mg) {
          const global float* row = W + gm * K;
          v.x = gk < K ? row[gk] : 0.0f;
          v.y = gk + 1 < K ? row[gk + 1] : 0.0f;
          v.z = gk + 2 < K ? row[gk + 2] : 0.0f;
          v.w = gk + 3 < K ? row[gk + 3] : 0.0f;
        }
      }
      la[4 * r] = v.x;
      la[4 * r + 1] = v.y;
      la[4 * r + 2] = v.z;
      la[4 * r + 3] = v.w;
    }
    return;
  }
#endif
#pragma unroll
  for (uint r = 0; r < LAS; ++r) {
    const uint e = tid + r * WG;
    const uint m = e / BK, k = e - m * BK;
    const uint gm = m0 + m, gk = k0 + k;
    la[r] = (e < NA && gm < mg && gk < K) ? W[gm * K + gk] : 0.0f;
  }
}

inline void stage_w(local float* As, uint tid, int vec, const private float* la) {
#if W_VEC_OK
  if (vec) {
#pragma unroll
    for (uint r = 0; r < LA4; ++r) {
      const uint e4 = tid + r * WG;
      if (NA / 4 % WG == 0 || e4 < NA / 4) {
        const uint rest = e4 >> 1;
        const uint m = rest % BM, k = ((rest / BM) * 2 + (e4 & 1)) * 4;
        As[k * APAD + m] = la[4 * r];
        As[(k + 1) * APAD + m] = la[4 * r + 1];
        As[(k + 2) * APAD + m] = la[4 * r + 2];
        As[(k + 3) * APAD + m] = la[4 * r + 3];
      }
    }
    return;
  }
#endif
#pragma unroll
  for (uint r = 0; r < LAS; ++r) {
    const uint e = tid + r * WG;
    if (NA % WG == 0 || e < NA) {
      const uint m = e / BK, k = e - m * BK;
      As[k * APAD + m] = la[r];
    }
  }
}

// Where one invocation's gather stands: the next k it loads, decoded.
struct walk {
  uint gk, c, kz, ky, kx;
};

inline void advance(struct walk* w, constant const struct conv_params* p) {
  w->gk += KSTEP;
  w->kx += KSTEP;
  while (w->kx >= p->kw) {
    w->kx -= p->kw;
    if (++w->ky == p->kh) {
      w->ky = 0;
      if (++w->kz == p->kd) {
        w->kz = 0;
        ++w->c;
      }
    }
  }
}

// The im2col column slice this invocation stages (one fixed pixel, k rows
// KSTEP apart), continuing the walk.
inline void load_x(global const float* X, constant const struct conv_params* p, uint I, bool o_ok, int z0, int y0,
                   int x0, struct walk* w, private float* lb) {
#pragma unroll
  for (uint r = 0; r < LBX; ++r) {
    float v = 0.0f;
    if (o_ok && w->gk < p->K) {
      const int iz = z0 + (int)(w->kz * p->dd), iy = y0 + (int)(w->ky * p->dh), ix = x0 + (int)(w->kx * p->dw);
      if ((uint)iz < p->id && (uint)iy < p->ih && (uint)ix < p->iw)
        v = X[w->c * I + ((uint)iz * p->ih + (uint)iy) * p->iw + (uint)ix];
    }
    lb[r] = v;
    advance(w, p);
  }
}

kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void conv(BUF(float, x), BUF(float, w), BUF(float, bias),
                                                                  BUF(float, y), constant const struct conv_params* p) {
  local float As[BK * APAD] __attribute__((aligned(16)));  // [k][m]
  local float Bs[BK * BN] __attribute__((aligned(16)));    // [k][n]
  AT(float, x);
  AT(float, w);
  AT(float, bias);
  AT(float, y);

  const uint tid = (uint)get_local_id(0);
  const uint O = p->od * p->oh * p->ow;
  const uint I = p->id * p->ih * p->iw;
  const uint o0 = (uint)get_group_id(0) * BN;
  const uint m0 = (uint)get_group_id(1) * BM;
  const uint zg = (uint)get_group_id(2);
  const uint img = zg / p->group;
  const uint g = zg - img * p->group;
  const uint C = p->cg * p->group;
  const uint M = p->mg * p->group;
  const uint K = p->K;

  // The pixel column this invocation stages, decoded once.
  const uint bn = tid % BN;
  const uint bk0 = tid / BN;
  const uint o = o0 + bn;
  const bool o_ok = o < O;
  int z0 = 0, y0 = 0, x0 = 0;
  if (o_ok) {
    const uint ox = o % p->ow, rest = o / p->ow;
    const uint oy = rest % p->oh, oz = rest / p->oh;
    z0 = (int)(oz * p->sd) - p->pd;
    y0 = (int)(oy * p->sh) - p->ph;
    x0 = (int)(ox * p->sw) - p->pw;
  }
  global const float* X = x + (img * C + g * p->cg) * I;
  global const float* Wg = w + (g * p->mg) * K;
  const int wvec = K % 4 == 0 && ALIGNED16(Wg);

  struct walk wk;
  {
    const uint taps = p->kd * p->kh * p->kw, khw = p->kh * p->kw;
    uint t = bk0;
    wk.gk = bk0;
    wk.c = t / taps;
    t -= wk.c * taps;
    wk.kz = t / khw;
    t -= wk.kz * khw;
    wk.ky = t / p->kw;
    wk.kx = t - wk.ky * p->kw;
  }

  const uint tn = tid % NTH;
  const uint tm = tid / NTH;

  float acc[TM * TN];
#pragma unroll
  for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0f;

  float la[LAMAX], lb[LBX];
  load_w(Wg, p->mg, K, tid, m0, 0, wvec, la);
  load_x(X, p, I, o_ok, z0, y0, x0, &wk, lb);
  for (uint k0 = 0; k0 < K; k0 += BK) {
    barrier(CLK_LOCAL_MEM_FENCE);  // everyone is done reading the previous slice
    stage_w(As, tid, wvec, la);
#pragma unroll
    for (uint r = 0; r < LBX; ++r) Bs[(bk0 + r * KSTEP) * BN + bn] = lb[r];
    barrier(CLK_LOCAL_MEM_FENCE);
    if (k0 + BK < K) {
      load_w(Wg, p->mg, K, tid, m0, k0 + BK, wvec, la);
      load_x(X, p, I, o_ok, z0, y0, x0, &wk, lb);
    }
#pragma unroll
    for (uint k = 0; k < BK; ++k) {
      float a[TM], b[TN];
#if VM
#pragma unroll
      for (uint i = 0; i < TM / 4; ++i) {
        const float4 v = *(local const float4*)(As + k * APAD + tm * TM + 4 * i);
        a[4 * i] = v.x;
        a[4 * i + 1] = v.y;
        a[4 * i + 2] = v.z;
        a[4 * i + 3] = v.w;
      }
#else
#pragma unroll
      for (uint i = 0; i < TM; ++i) a[i] = As[k * APAD + tm * TM + i];
#endif
#if VN
#pragma unroll
      for (uint j = 0; j < TN / 4; ++j) {
        const float4 v = *(local const float4*)(Bs + k * BN + tn * 4 + j * (NTH * 4));
        b[4 * j] = v.x;
        b[4 * j + 1] = v.y;
        b[4 * j + 2] = v.z;
        b[4 * j + 3] = v.w;
      }
#else
#pragma unroll
      for (uint j = 0; j < TN; ++j) b[j] = Bs[k * BN + PIX(tn, j)];
#endif
#pragma unroll
      for (uint i = 0; i < TM; ++i)
#pragma unroll
        for (uint j = 0; j < TN; ++j) acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
    }
  }

#if VN
  const int yvec = O % 4 == 0 && ALIGNED16(y);
#endif
  // An if, not continue: see docs/gpu_kernels.md (acc[] stays in registers).
#pragma unroll
  for (uint i = 0; i < TM; ++i) {
    const uint m = m0 + tm * TM + i;
    if (m < p->mg) {
      const uint ch = g * p->mg + m;
      const float bv = HAS_BIAS == 1 ? bias[ch] : 0.0f;
      global float* Y = y + (img * M + ch) * O;
#if VN
#pragma unroll
      for (uint j = 0; j < TN; j += 4) {
        const uint oo = o0 + PIX(tn, j);
        const float4 v = (float4)(acc[i * TN + j], acc[i * TN + j + 1], acc[i * TN + j + 2], acc[i * TN + j + 3]) + bv;
        if (yvec && oo + 3 < O) {
          *(global float4*)(Y + oo) = v;
        } else {
          if (oo < O) Y[oo] = v.x;
          if (oo + 1 < O) Y[oo + 1] = v.y;
          if (oo + 2 < O) Y[oo + 2] = v.z;
          if (oo + 3 < O) Y[oo + 3] = v.w;
        }
      }
#else
#pragma unroll
      for (uint j = 0; j < TN; ++j) {
        const uint oo = o0 + PIX(tn, j);
        if (oo < O) Y[oo] = acc[i * TN + j] + bv;
      }
#endif
    }
  }
}
