#version 450
// Tiled fp32 GEMM behind MatMul and Gemm: y[z] = alpha * A[z] B[z] (+ beta * C).
// Each work group computes a BM x BN tile of one batch matrix (z = batch),
// staging BK-deep slices of A and B in shared memory; each thread owns TM x TN
// outputs spread over the tile (rows ty + i * BM/TM, columns tx + j * BN/TN)
// so shared reads and global writes are conflict-free and coalesced. Every
// operand is addressed through element strides, so a transposed operand
// (Gemm transA / transB) needs no copy; A_KFAST / B_NFAST pick which index
// of a tile the threads walk fastest while loading, to coalesce global reads.
// Edges are bounds-checked: M, N and K can be anything.
// B_E4M3 (vdrt.QMatMul): B holds float8 e4m3fn codes, one byte each
// (strides count bytes), decoded and multiplied by the column's scale S[n]
// as the slice is loaded, so a weight never exists in f32 in memory.
// vdrt.FusedMatMul adds its epilogue to each output: the bias as C, then the
// activation ACT (activation.glsl), then the residual R (same layout as y).
#include "common.glsl"
#include "activation.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint NT = 256;  // threads = (BM / TM) * (BN / TN)
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
layout(constant_id = 6) const bool A_KFAST = true;   // A's k stride is 1
layout(constant_id = 7) const bool B_NFAST = true;   // B's n stride is 1
layout(constant_id = 8) const bool HAS_C = false;    // add beta * C (broadcast through its strides)
layout(constant_id = 9) const bool B_E4M3 = false;   // B is e4m3 codes scaled per column by S
layout(constant_id = 10) const uint ACT = 0;         // epilogue_act after C: 0 none, 1 gelu, 2 gelu (tanh)
layout(constant_id = 11) const bool HAS_R = false;   // add R (a residual laid out as y) last

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { uint bw[]; };  // f32 bits, or 4 e4m3 codes a word
layout(std430, binding = 2) readonly buffer C { float c[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(std430, binding = 4) readonly buffer S { float sc[]; };  // per-column scales (B_E4M3)
layout(std430, binding = 5) readonly buffer R { float r[]; };   // residual (HAS_R)
layout(push_constant) uniform P {
  uint M, N, K;
  uint sam, sak;    // A element strides along m and k
  uint sbk, sbn;    // B element strides along k and n
  uint scm, scn;    // C element strides along m and n (0 where it broadcasts)
  float alpha, beta;
  uint bdim[3];     // batch dims (collapsed, outermost first); z walks them
  uint sab[3];      // A element stride per batch dim
  uint sbb[3];      // B element stride per batch dim
  uint zbase;       // first batch of this dispatch (more batches than the z limit take more dispatches)
} p;

const uint APAD = BM + 4;
const uint BPAD = BN + 4;
shared float As[BK * APAD];   // As[k][m]
shared float Bs[BK * BPAD];   // Bs[k][n]

// Each invocation moves LA elements of the A slice and LB of the B slice
// (the host keeps BM * BK and BN * BK multiples of NT).
const uint LA = BM * BK / NT;
const uint LB = BN * BK / NT;
float la[LA], lb[LB];
uint aoff, boff, m0, n0;

void a_index(uint e, out uint m, out uint k) {
  if (A_KFAST) { m = e / BK; k = e - m * BK; } else { k = e / BM; m = e - k * BM; }
}
void b_index(uint e, out uint n, out uint k) {
  if (B_NFAST) { k = e / BN; n = e - k * BN; } else { n = e / BK; k = e - n * BK; }
}

// float8 e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no
// infinities; the NaN codes read as +-480 like the CPU kernel's.
float e4m3_to_float(uint c) {
  uint e = (c >> 3) & 15u, m = c & 7u;
  float v = e == 0u ? float(m) * (1.0 / 512.0) : uintBitsToFloat(((e + 120u) << 23) | (m << 20));
  return (c & 0x80u) != 0u ? -v : v;
}

void load_tile(uint k0) {
  const uint tid = gl_LocalInvocationID.x;
  [[unroll]] for (uint r = 0; r < LA; ++r) {
    uint m, k;
    a_index(tid + r * NT, m, k);
    uint gm = m0 + m, gk = k0 + k;
    la[r] = (gm < p.M && gk < p.K) ? a[aoff + gm * p.sam + gk * p.sak] : 0.0;
  }
  [[unroll]] for (uint r = 0; r < LB; ++r) {
    uint n, k;
    b_index(tid + r * NT, n, k);
    uint gn = n0 + n, gk = k0 + k;
    if (gn >= p.N || gk >= p.K) {
      lb[r] = 0.0;
    } else if (B_E4M3) {
      uint i = boff + gk * p.sbk + gn * p.sbn;
      lb[r] = e4m3_to_float((bw[i >> 2] >> ((i & 3u) * 8u)) & 0xffu) * sc[gn];
    } else {
      lb[r] = uintBitsToFloat(bw[boff + gk * p.sbk + gn * p.sbn]);
    }
  }
}

void stage_tile() {
  const uint tid = gl_LocalInvocationID.x;
  [[unroll]] for (uint r = 0; r < LA; ++r) {
    uint m, k;
    a_index(tid + r * NT, m, k);
    As[k * APAD + m] = la[r];
  }
  [[unroll]] for (uint r = 0; r < LB; ++r) {
    uint n, k;
    b_index(tid + r * NT, n, k);
    Bs[k * BPAD + n] = lb[r];
  }
}

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint TX = BN / TN, TY = BM / TM;
  const uint tx = tid % TX, ty = tid / TX;
  n0 = gl_WorkGroupID.x * BN;
  m0 = gl_WorkGroupID.y * BM;
  aoff = 0;
  boff = 0;
  uint z = gl_WorkGroupID.z + p.zbase;
  const uint yoff = z * p.M * p.N;
  [[unroll]] for (int d = 2; d >= 0; --d) {
    uint q = z / p.bdim[d];
    uint k = z - q * p.bdim[d];
    z = q;
    aoff += k * p.sab[d];
    boff += k * p.sbb[d];
  }

  float acc[TM * TN];
  [[unroll]] for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0;

  // The next K slice is read into registers while this one is multiplied.
  load_tile(0);
  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    barrier();  // everyone is done reading the previous slice
    stage_tile();
    barrier();
    if (k0 + BK < p.K) load_tile(k0 + BK);
    [[unroll]] for (uint k = 0; k < BK; ++k) {
      float ra[TM], rb[TN];
      [[unroll]] for (uint i = 0; i < TM; ++i) ra[i] = As[k * APAD + ty + i * TY];
      [[unroll]] for (uint j = 0; j < TN; ++j) rb[j] = Bs[k * BPAD + tx + j * TX];
      [[unroll]] for (uint i = 0; i < TM; ++i)
        [[unroll]] for (uint j = 0; j < TN; ++j) acc[i * TN + j] = fma(ra[i], rb[j], acc[i * TN + j]);
    }
  }

  // Ifs, not breaks: see docs/gpu_kernels.md (acc[] stays in registers).
  [[unroll]] for (uint i = 0; i < TM; ++i) {
    uint gm = m0 + ty + i * TY;
    [[unroll]] for (uint j = 0; j < TN; ++j) {
      uint gn = n0 + tx + j * TX;
      if (gm < p.M && gn < p.N) {
        float v = p.alpha * acc[i * TN + j];
        if (HAS_C) v += p.beta * c[gm * p.scm + gn * p.scn];
        if (ACT != 0) v = epilogue_act(v, ACT);
        if (HAS_R) v += r[yoff + gm * p.N + gn];
        y[yoff + gm * p.N + gn] = v;
      }
    }
  }
}
