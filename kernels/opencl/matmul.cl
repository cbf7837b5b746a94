// Tiled fp32 GEMM behind MatMul and Gemm, the OpenCL twin of
// kernels/vulkan/matmul.comp (same constants, parameters and tiles; y[z] =
// alpha * A[z] B[z] (+ beta * C)). It departs from the GLSL only where
// OpenCL compilers need the help to reach the same speed: where the tile
// allows (TM, TN multiples of 4), each invocation owns runs of 4 adjacent
// rows and columns so the inner loop reads local memory as float4 (a
// quarter of the scalar loads, which otherwise bound the loop); and where
// an operand's fast stride is 1 and its rows are 16-byte aligned (checked
// at run time, once per work group) slices are fetched as float4, with the
// k-contiguous case laid out so its transposing stores are conflict-free
// (pairs of float4 along k, rows of the tile across a warp; rows padded to
// 4 (mod 8) floats). Everything else takes the GLSL's scalar paths.
// Summation over k keeps the GLSL order (one fma per k, k ascending).
// B_E4M3 (vdrt.QMatMul): B holds float8 e4m3fn codes, one byte each
// (strides count bytes), decoded and multiplied by the column's scale s[n]
// as the slice is loaded (scalar path only), so a weight never exists in
// f32 in memory. vdrt.FusedMatMul adds its epilogue to each output: the bias
// as C, then the activation ACT (activation.cl), then the residual r (laid
// out as y).
#include "activation.cl"

#ifndef SPEC0
#define SPEC0 256
#endif
#ifndef SPEC1
#define SPEC1 64
#endif
#ifndef SPEC2
#define SPEC2 64
#endif
#ifndef SPEC3
#define SPEC3 16
#endif
#ifndef SPEC4
#define SPEC4 4
#endif
#ifndef SPEC5
#define SPEC5 4
#endif
#ifndef SPEC6
#define SPEC6 1
#endif
#ifndef SPEC7
#define SPEC7 1
#endif
#ifndef SPEC8
#define SPEC8 0
#endif
#ifndef SPEC9
#define SPEC9 0
#endif
#ifndef SPEC10
#define SPEC10 0
#endif
#ifndef SPEC11
#define SPEC11 0
#endif

#define NT SPEC0       // invocations = (BM / TM) * (BN / TN)
#define BM SPEC1
#define BN SPEC2
#define BK SPEC3
#define TM SPEC4
#define TN SPEC5
#define A_KFAST SPEC6  // A's k stride is 1 (or K == 1)
#define B_NFAST SPEC7  // B's n stride is 1 (or N == 1)
#define HAS_C SPEC8    // add beta * C (broadcast through its strides)
#define B_E4M3 SPEC9   // B is e4m3 codes scaled per column by s
#define ACT SPEC10     // epilogue_act after C: 0 none, 1 gelu, 2 gelu (tanh)
#define HAS_R SPEC11   // add the residual r (laid out as y) last

struct matmul_params {
  uint M, N, K;
  uint sam, sak;  // A element strides along m and k
  uint sbk, sbn;  // B element strides along k and n
  uint scm, scn;  // C element strides along m and n (0 where it broadcasts)
  float alpha, beta;
  uint bdim[3];   // batch dims (collapsed, outermost first); z walks them
  uint sab[3];    // A element stride per batch dim
  uint sbb[3];    // B element stride per batch dim
  uint zbase;     // first batch of this dispatch
};

#define APAD (BM + 4)
#define BPAD (BN + 4)
#define LA (BM * BK / NT)  // A elements each invocation moves per slice
#define LB (BN * BK / NT)
#define TX (BN / TN)
#define TY (BM / TM)
// Outputs in runs of 4 (float4 local reads) where the tile allows.
#define VOUT (TM % 4 == 0 && TN % 4 == 0)
// float4 staging of a slice is possible for this tile shape (the operand's
// strides and alignment are checked at run time).
#define A_VEC_OK (LA % 4 == 0 && (A_KFAST ? BK % 8 == 0 : BM % 4 == 0))
#define B_VEC_OK (LB % 4 == 0 && (B_NFAST ? BN % 4 == 0 : BK % 8 == 0))

#define ALIGNED16(ptr) ((((size_t)(ptr)) & 15) == 0)

// Slice loads into registers. Vector layout (vec): e4 walks float4s; with
// k fastest in memory, pairs of float4 along k, then rows m (n), then the
// remaining k pairs, so a warp reads whole 32-byte sectors of 16 rows and
// its transposing stores hit 32 distinct banks.
inline void load_a(global const float* a, constant const struct matmul_params* p, uint tid, uint m0, uint k0, int vec,
                   private float* la) {
#if A_VEC_OK
  if (vec) {
#pragma unroll
    for (uint r = 0; r < LA / 4; ++r) {
      const uint e4 = tid + r * NT;
      uint m, k;
#if A_KFAST
      const uint rest = e4 >> 1;
      m = rest % BM;
      k = ((rest / BM) * 2 + (e4 & 1)) * 4;
      const uint gm = m0 + m, gk = k0 + k;
      float4 v;
      if (gm < p->M && gk + 3 < p->K) {
        v = *(global const float4*)(a + gm * p->sam + gk);
      } else {
        const bool mok = gm < p->M;
        const global float* row = a + gm * p->sam;
        v.x = (mok && gk < p->K) ? row[gk] : 0.0f;
        v.y = (mok && gk + 1 < p->K) ? row[gk + 1] : 0.0f;
        v.z = (mok && gk + 2 < p->K) ? row[gk + 2] : 0.0f;
        v.w = (mok && gk + 3 < p->K) ? row[gk + 3] : 0.0f;
      }
#else
      m = (e4 % (BM / 4)) * 4;
      k = e4 / (BM / 4);
      const uint gm = m0 + m, gk = k0 + k;
      float4 v;
      if (gk < p->K && gm + 3 < p->M) {
        v = *(global const float4*)(a + gk * p->sak + gm);
      } else {
        const bool kok = gk < p->K;
        const global float* col = a + gk * p->sak;
        v.x = (kok && gm < p->M) ? col[gm] : 0.0f;
        v.y = (kok && gm + 1 < p->M) ? col[gm + 1] : 0.0f;
        v.z = (kok && gm + 2 < p->M) ? col[gm + 2] : 0.0f;
        v.w = (kok && gm + 3 < p->M) ? col[gm + 3] : 0.0f;
      }
#endif
      la[4 * r] = v.x;
      la[4 * r + 1] = v.y;
      la[4 * r + 2] = v.z;
      la[4 * r + 3] = v.w;
    }
    return;
  }
#endif
#pragma unroll
  for (uint r = 0; r < LA; ++r) {
    const uint e = tid + r * NT;
    uint m, k;
#if A_KFAST
    m = e / BK;
    k = e - m * BK;
#else
    k = e / BM;
    m = e - k * BM;
#endif
    const uint gm = m0 + m, gk = k0 + k;
    la[r] = (gm < p->M && gk < p->K) ? a[gm * p->sam + gk * p->sak] : 0.0f;
  }
}

inline void stage_a(local float* As, uint tid, int vec, const private float* la) {
#if A_VEC_OK
  if (vec) {
#pragma unroll
    for (uint r = 0; r < LA / 4; ++r) {
      const uint e4 = tid + r * NT;
#if A_KFAST
      const uint rest = e4 >> 1;
      const uint m = rest % BM;
      const uint k = ((rest / BM) * 2 + (e4 & 1)) * 4;
      As[k * APAD + m] = la[4 * r];
      As[(k + 1) * APAD + m] = la[4 * r + 1];
      As[(k + 2) * APAD + m] = la[4 * r + 2];
      As[(k + 3) * APAD + m] = la[4 * r + 3];
#else
      const uint m = (e4 % (BM / 4)) * 4;
      const uint k = e4 / (BM / 4);
      *(local float4*)(As + k * APAD + m) = (float4)(la[4 * r], la[4 * r + 1], la[4 * r + 2], la[4 * r + 3]);
#endif
    }
    return;
  }
#endif
#pragma unroll
  for (uint r = 0; r < LA; ++r) {
    const uint e = tid + r * NT;
    uint m, k;
#if A_KFAST
    m = e / BK;
    k = e - m * BK;
#else
    k = e / BM;
    m = e - k * BM;
#endif
    As[k * APAD + m] = la[r];
  }
}

// float8 e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no
// infinities; the NaN codes read as +-480 like the CPU kernel's.
inline float e4m3_to_float(uint c) {
  const uint e = (c >> 3) & 15u, m = c & 7u;
  const float v = e == 0u ? (float)m * (1.0f / 512.0f) : as_float(((e + 120u) << 23) | (m << 20));
  return (c & 0x80u) ? -v : v;
}

inline void load_b_e4m3(global const uchar* b, global const float* scale, constant const struct matmul_params* p,
                        uint tid, uint n0, uint k0, private float* lb) {
#pragma unroll
  for (uint r = 0; r < LB; ++r) {
    const uint e = tid + r * NT;
    uint n, k;
#if B_NFAST
    k = e / BN;
    n = e - k * BN;
#else
    n = e / BK;
    k = e - n * BK;
#endif
    const uint gn = n0 + n, gk = k0 + k;
    lb[r] = (gn < p->N && gk < p->K) ? e4m3_to_float(b[gk * p->sbk + gn * p->sbn]) * scale[gn] : 0.0f;
  }
}

inline void load_b(global const float* b, constant const struct matmul_params* p, uint tid, uint n0, uint k0, int vec,
                   private float* lb) {
#if B_VEC_OK
  if (vec) {
#pragma unroll
    for (uint r = 0; r < LB / 4; ++r) {
      const uint e4 = tid + r * NT;
      uint n, k;
#if B_NFAST
      n = (e4 % (BN / 4)) * 4;
      k = e4 / (BN / 4);
      const uint gn = n0 + n, gk = k0 + k;
      float4 v;
      if (gk < p->K && gn + 3 < p->N) {
        v = *(global const float4*)(b + gk * p->sbk + gn);
      } else {
        const bool kok = gk < p->K;
        const global float* row = b + gk * p->sbk;
        v.x = (kok && gn < p->N) ? row[gn] : 0.0f;
        v.y = (kok && gn + 1 < p->N) ? row[gn + 1] : 0.0f;
        v.z = (kok && gn + 2 < p->N) ? row[gn + 2] : 0.0f;
        v.w = (kok && gn + 3 < p->N) ? row[gn + 3] : 0.0f;
      }
#else
      const uint rest = e4 >> 1;
      n = rest % BN;
      k = ((rest / BN) * 2 + (e4 & 1)) * 4;
      const uint gn = n0 + n, gk = k0 + k;
      float4 v;
      if (gn < p->N && gk + 3 < p->K) {
        v = *(global const float4*)(b + gn * p->sbn + gk);
      } else {
        const bool nok = gn < p->N;
        const global float* col = b + gn * p->sbn;
        v.x = (nok && gk < p->K) ? col[gk] : 0.0f;
        v.y = (nok && gk + 1 < p->K) ? col[gk + 1] : 0.0f;
        v.z = (nok && gk + 2 < p->K) ? col[gk + 2] : 0.0f;
        v.w = (nok && gk + 3 < p->K) ? col[gk + 3] : 0.0f;
      }
#endif
      lb[4 * r] = v.x;
      lb[4 * r + 1] = v.y;
      lb[4 * r + 2] = v.z;
      lb[4 * r + 3] = v.w;
    }
    return;
  }
#endif
#pragma unroll
  for (uint r = 0; r < LB; ++r) {
    const uint e = tid + r * NT;
    uint n, k;
#if B_NFAST
    k = e / BN;
    n = e - k * BN;
#else
    n = e / BK;
    k = e - n * BK;
#endif
    const uint gn = n0 + n, gk = k0 + k;
    lb[r] = (gn < p->N && gk < p->K) ? b[gk * p->sbk + gn * p->sbn] : 0.0f;
  }
}

inline void stage_b(local float* Bs, uint tid, int vec, const private float* lb) {
#if B_VEC_OK
  if (vec) {
#pragma unroll
    for (uint r = 0; r < LB / 4; ++r) {
      const uint e4 = tid + r * NT;
#if B_NFAST
      const uint n = (e4 % (BN / 4)) * 4;
      const uint k = e4 / (BN / 4);
      *(local float4*)(Bs + k * BPAD + n) = (float4)(lb[4 * r], lb[4 * r + 1], lb[4 * r + 2], lb[4 * r + 3]);
#else
      const uint rest = e4 >> 1;
      const uint n = rest % BN;
      const uint k = ((rest / BN) * 2 + (e4 & 1)) * 4;
      Bs[k * BPAD + n] = lb[4 * r];
      Bs[(k + 1) * BPAD + n] = lb[4 * r + 1];
      Bs[(k + 2) * BPAD + n] = lb[4 * r + 2];
      Bs[(k + 3) * BPAD + n] = lb[4 * r + 3];
#endif
    }
    return;
  }
#endif
#pragma unroll
  for (uint r = 0; r < LB; ++r) {
    const uint e = tid + r * NT;
    uint n, k;
#if B_NFAST
    k = e / BN;
    n = e - k * BN;
#else
    n = e / BK;
    k = e - n * BK;
#endif
    Bs[k * BPAD + n] = lb[r];
  }
}

// Row (column) of the tile that output i (j) of an invocation lands on.
#if VOUT
#define ROW(ty, i) ((ty) * 4 + ((i) / 4) * (TY * 4) + ((i) % 4))
#define COL(tx, j) ((tx) * 4 + ((j) / 4) * (TX * 4) + ((j) % 4))
#else
#define ROW(ty, i) ((ty) + (i) * TY)
#define COL(tx, j) ((tx) + (j) * TX)
#endif

kernel __attribute__((reqd_work_group_size(NT, 1, 1))) void matmul(BUF(float, a), BUF(float, b), BUF(float, c),
                                                                    BUF(float, y), BUF(float, s), BUF(float, r),
                                                                    constant const struct matmul_params* p) {
  local float As[BK * APAD] __attribute__((aligned(16)));  // As[k][m]
  local float Bs[BK * BPAD] __attribute__((aligned(16)));  // Bs[k][n]

  const uint tid = (uint)get_local_id(0);
  const uint tx = tid % TX, ty = tid / TX;
  const uint n0 = (uint)get_group_id(0) * BN;
  const uint m0 = (uint)get_group_id(1) * BM;
  uint z = (uint)get_group_id(2) + p->zbase;
  const uint yoff = z * p->M * p->N;
  uint aoff = 0, boff = 0;
#pragma unroll
  for (int d = 2; d >= 0; --d) {
    const uint q = z / p->bdim[d];
    const uint kk = z - q * p->bdim[d];
    z = q;
    aoff += kk * p->sab[d];
    boff += kk * p->sbb[d];
  }

  global const float* A = (global const float*)((global const char*)a_base + a_off) + aoff;
#if B_E4M3
  global const uchar* B8 = (global const uchar*)b_base + b_off + boff;
  global const float* S = (global const float*)((global const char*)s_base + s_off);
  global const float* B = 0;
#else
  global const float* B = (global const float*)((global const char*)b_base + b_off) + boff;
#endif
  global float* Y = (global float*)((global char*)y_base + y_off) + yoff;
#if HAS_C
  global const float* C = (global const float*)((global const char*)c_base + c_off);
#endif
#if HAS_R
  global const float* R = (global const float*)((global char*)r_base + r_off) + yoff;
#endif

  // float4 fetches: unit fast stride, 4-aligned slow stride, 16-byte aligned base.
  const int avec = (A_KFAST ? (p->sak == 1 && p->sam % 4 == 0) : (p->sam == 1 && p->sak % 4 == 0)) && ALIGNED16(A);
#if B_E4M3
  const int bvec = 0;
#else
  const int bvec = (B_NFAST ? (p->sbn == 1 && p->sbk % 4 == 0) : (p->sbk == 1 && p->sbn % 4 == 0)) && ALIGNED16(B);
#endif

  float acc[TM * TN];
#pragma unroll
  for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0f;

  float la[LA], lb[LB];
  // The next K slice is read into registers while this one is multiplied.
  load_a(A, p, tid, m0, 0, avec, la);
#if B_E4M3
  load_b_e4m3(B8, S, p, tid, n0, 0, lb);
#else
  load_b(B, p, tid, n0, 0, bvec, lb);
#endif
  for (uint k0 = 0; k0 < p->K; k0 += BK) {
    barrier(CLK_LOCAL_MEM_FENCE);  // everyone is done reading the previous slice
    stage_a(As, tid, avec, la);
    stage_b(Bs, tid, bvec, lb);
    barrier(CLK_LOCAL_MEM_FENCE);
    if (k0 + BK < p->K) {
      load_a(A, p, tid, m0, k0 + BK, avec, la);
#if B_E4M3
      load_b_e4m3(B8, S, p, tid, n0, k0 + BK, lb);
#else
      load_b(B, p, tid, n0, k0 + BK, bvec, lb);
#endif
    }
#pragma unroll
    for (uint k = 0; k < BK; ++k) {
      float ra[TM], rb[TN];
#if VOUT
#pragma unroll
      for (uint i = 0; i < TM / 4; ++i) {
        const float4 v = *(local const float4*)(As + k * APAD + ty * 4 + i * (TY * 4));
        ra[4 * i] = v.x;
        ra[4 * i + 1] = v.y;
        ra[4 * i + 2] = v.z;
        ra[4 * i + 3] = v.w;
      }
#pragma unroll
      for (uint j = 0; j < TN / 4; ++j) {
        const float4 v = *(local const float4*)(Bs + k * BPAD + tx * 4 + j * (TX * 4));
        rb[4 * j] = v.x;
        rb[4 * j + 1] = v.y;
        rb[4 * j + 2] = v.z;
        rb[4 * j + 3] = v.w;
      }
#else
#pragma unroll
      for (uint i = 0; i < TM; ++i) ra[i] = As[k * APAD + ROW(ty, i)];
#pragma unroll
      for (uint j = 0; j < TN; ++j) rb[j] = Bs[k * BPAD + COL(tx, j)];
#endif
#pragma unroll
      for (uint i = 0; i < TM; ++i)
#pragma unroll
        for (uint j = 0; j < TN; ++j) acc[i * TN + j] = fma(ra[i], rb[j], acc[i * TN + j]);
    }
  }

#if VOUT
  const int yvec = p->N % 4 == 0 && ALIGNED16(Y);
#endif
  // Ifs, not continue/break: see docs/gpu_kernels.md (acc[] stays in registers).
#pragma unroll
  for (uint i = 0; i < TM; ++i) {
    const uint gm = m0 + ROW(ty, i);
    if (gm < p->M) {
#if VOUT
#pragma unroll
      for (uint j = 0; j < TN; j += 4) {
        const uint gn = n0 + COL(tx, j);
        float v[4];
#pragma unroll
        for (uint jj = 0; jj < 4; ++jj) {
          v[jj] = p->alpha * acc[i * TN + j + jj];
#if HAS_C
          if (gn + jj < p->N) v[jj] += p->beta * C[gm * p->scm + (gn + jj) * p->scn];
#endif
#if ACT
          v[jj] = epilogue_act(v[jj], ACT);
#endif
#if HAS_R
          if (gn + jj < p->N) v[jj] += R[gm * p->N + gn + jj];
#endif
        }
        if (yvec && gn + 3 < p->N) {
          *(global float4*)(Y + gm * p->N + gn) = (float4)(v[0], v[1], v[2], v[3]);
        } else {
#pragma unroll
          for (uint jj = 0; jj < 4; ++jj)
            if (gn + jj < p->N) Y[gm * p->N + gn + jj] = v[jj];
        }
      }
#else
#pragma unroll
      for (uint j = 0; j < TN; ++j) {
        const uint gn = n0 + COL(tx, j);
        if (gn < p->N) {
          float v = p->alpha * acc[i * TN + j];
#if HAS_C
          v += p->beta * C[gm * p->scm + gn * p->scn];
#endif
#if ACT
          v = epilogue_act(v, ACT);
#endif
#if HAS_R
          v += R[gm * p->N + gn];
#endif
          Y[gm * p->N + gn] = v;
        }
      }
#endif
    }
  }
}
