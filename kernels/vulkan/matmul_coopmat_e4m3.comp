#version 450
// vdrt.QMatMul on tensor cores (GL_NV_cooperative_matrix, 16x16x16 f16 x f16
// -> f32): y = (A16 W) * 256 S[n] (* R[m]) (+ bias[n]), W the [K][N] float8
// e4m3 weight codes as stored (one byte each, never expanded in memory).
// A16 is a dense [Mp][Kp] f16 matrix, zero-padded (Mp, Kp multiples of BM,
// BK): the activations converted by matmul_to_f16.comp, or with ROW_SCALES
// their e4m3 snaps written by quantize_rows_e4m3_f16.comp, whose per-row
// scales R the epilogue applies.
// The main loop is matmul_coopmat_f16.glsl's (BM x BN tile per work group,
// WM x WN per subgroup, BK-deep steps double-buffered in shared memory, one
// barrier per step), except that each invocation reads W as 16-byte vectors
// of 16 codes and decodes them into f16 when it stages the next step in
// shared memory (e4m3.glsl: bit moves, exact, 1/256 of the value); 256 S[n]
// restores the scale in the epilogue. The decode pairs every other byte, so
// within each group of 4 columns the staged (and accumulated) order is
// n, n+2, n+1, n+3; the epilogue swaps them back. e4m3 values fit f16
// exactly, so the products of decoded weights are exact; the activations
// are rounded to f16 (ROW_SCALES: exact too). W needs no padding: rows past
// K and columns past N read as zero, with 16-byte loads where N % 16 == 0
// (W_VEC16), byte by byte otherwise.
// Epilogue: per subgroup, one row of FN accumulators at a time is stored to
// shared memory and written out as vec4 rows with the scales and bias, then
// a folded GELU (ACT, activation.glsl) and residual (HAS_RES).
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#include "common.glsl"
#include "e4m3.glsl"
#include "activation.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint NT = 128;
layout(constant_id = 1) const uint BM = 128;
layout(constant_id = 2) const uint BN = 128;
layout(constant_id = 3) const uint BK = 32;
layout(constant_id = 4) const uint WM = 64;
layout(constant_id = 5) const uint WN = 64;
layout(constant_id = 6) const bool HAS_BIAS = false;
layout(constant_id = 7) const bool ROW_SCALES = false;  // A16 holds e4m3 snaps, R their row scales
layout(constant_id = 8) const bool W_VEC16 = false;     // N % 16 == 0: W rows are whole 16-byte vectors
layout(constant_id = 9) const uint ACT = 0;             // epilogue_act after the bias: 0 none, 1 gelu, 2 gelu (tanh)
layout(constant_id = 10) const bool HAS_RES = false;    // add Res (a residual laid out as Y) last

layout(std430, binding = 0) readonly buffer A { uvec4 a[]; };
layout(std430, binding = 1) readonly buffer W16 { uvec4 w16[]; };
layout(std430, binding = 1) readonly buffer W4 { uint w4[]; };
layout(std430, binding = 2) readonly buffer S { float sc[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
layout(std430, binding = 4) readonly buffer R { float rs[]; };
layout(std430, binding = 5) writeonly buffer Y { float y[]; };
layout(std430, binding = 5) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 6) readonly buffer Res { float res[]; };
layout(std430, binding = 6) readonly buffer Res4 { vec4 res4[]; };
layout(push_constant) uniform P {
  uint M, N, K;  // valid output rows / columns, W's rows
  uint Kp;       // A16's padded K (a multiple of BK)
  uint lda;      // uvec4 per row of A16 (Kp / 8)
} p;

const uint FM = WM / 16, FN = WN / 16;
// Shared tiles in uvec4 (8 halves): A as BM rows of BK, W (decoded) as BK rows of BN.
const uint A_COLS = BK / 8, ASTR = A_COLS + 1;
const uint B_COLS = BN / 8, BSTR = B_COLS + 1;
const uint ABUF = BM * ASTR, BBUF = BK * BSTR;
const uint W_VECS = BN / 16;                              // 16-code vectors per row of a W step
const uint LA = BM * A_COLS / NT, LW = BK * W_VECS / NT;  // per invocation per step
shared uvec4 As[2 * ABUF];
shared uvec4 Bs[2 * BBUF];

uvec4 ra[LA], rw[LW];
uint m0, n0;

// Codes n .. n + 15 of W's row k, zero past K and N. The 16-byte load reads
// a clamped address and selects, so the main loop has no branch.
uvec4 load_codes(uint k, uint n) {
  if (W_VEC16) {
    const uvec4 v = w16[(min(k, p.K - 1u) * p.N + min(n, p.N - 16u)) / 16u];
    return k < p.K && n < p.N ? v : uvec4(0u);
  }
  if (k >= p.K) return uvec4(0u);
  uvec4 v = uvec4(0u);
  [[unroll]] for (uint j = 0; j < 16; ++j) {
    if (n + j < p.N) {
      uint i = k * p.N + n + j;
      v[j / 4] |= ((w4[i >> 2] >> ((i & 3u) * 8u)) & 0xffu) << ((j & 3u) * 8u);
    }
  }
  return v;
}

void load_step(uint k0) {
  const uint tid = gl_LocalInvocationID.x;
  [[unroll]] for (uint r = 0; r < LA; ++r) {
    uint e = tid + r * NT, row = e / A_COLS, col = e - row * A_COLS;
    ra[r] = a[(m0 + row) * p.lda + k0 / 8 + col];
  }
  [[unroll]] for (uint r = 0; r < LW; ++r) {
    uint e = tid + r * NT, row = e / W_VECS, col = e - row * W_VECS;
    rw[r] = load_codes(k0 + row, n0 + col * 16);
  }
}

void store_step(uint buf) {
  const uint tid = gl_LocalInvocationID.x;
  [[unroll]] for (uint r = 0; r < LA; ++r) {
    uint e = tid + r * NT, row = e / A_COLS, col = e - row * A_COLS;
    As[buf * ABUF + row * ASTR + col] = ra[r];
  }
  [[unroll]] for (uint r = 0; r < LW; ++r) {
    uint e = tid + r * NT, row = e / W_VECS, col = e - row * W_VECS;
    const uint at = buf * BBUF + row * BSTR + col * 2;
    Bs[at] = uvec4(e4m3x4_to_f16x4_div256_b0b2_b1b3(rw[r].x), e4m3x4_to_f16x4_div256_b0b2_b1b3(rw[r].y));
    Bs[at + 1] = uvec4(e4m3x4_to_f16x4_div256_b0b2_b1b3(rw[r].z), e4m3x4_to_f16x4_div256_b0b2_b1b3(rw[r].w));
  }
}

fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[FM * FN];
uint wm, wn;

// The subgroup's products of one BK step staged in buffer `cur`.
void multiply_step(uint cur) {
  [[unroll]] for (uint kk = 0; kk < BK; kk += 16) {
    fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fa[FM];
    fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fb[FN];
    [[unroll]] for (uint i = 0; i < FM; ++i)
      coopMatLoadNV(fa[i], As, cur * ABUF + (wm + i * 16) * ASTR + kk / 8, ASTR, false);
    [[unroll]] for (uint j = 0; j < FN; ++j)
      coopMatLoadNV(fb[j], Bs, cur * BBUF + kk * BSTR + (wn + j * 16) / 8, BSTR, false);
    [[unroll]] for (uint i = 0; i < FM; ++i)
      [[unroll]] for (uint j = 0; j < FN; ++j) acc[i * FN + j] = coopMatMulAddNV(fa[i], fb[j], acc[i * FN + j]);
  }
}

void main() {
  n0 = gl_WorkGroupID.x * BN;
  m0 = gl_WorkGroupID.y * BM;
  const uint sg = gl_SubgroupID;
  wm = (sg / (BN / WN)) * WM;
  wn = (sg % (BN / WN)) * WN;
  [[unroll]] for (uint i = 0; i < FM * FN; ++i) acc[i] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);

  // The last step is peeled off so that the loop body has no branch: the
  // compiler can then interleave the decoding of step s + 1 with the
  // tensor-core work of step s.
  const uint steps = p.Kp / BK;
  load_step(0);
  store_step(0);
  barrier();
  for (uint s = 0; s + 1 < steps; ++s) {
    load_step((s + 1) * BK);
    multiply_step(s & 1);
    store_step((s & 1) ^ 1);
    barrier();
  }
  multiply_step((steps - 1) & 1);
  barrier();

  // Epilogue. As is free now (the loop ended with a barrier): 16 x WN f32
  // (4 * WN uvec4) of it per subgroup. A lane's columns stay the same for
  // every row (32 is a multiple of WN / 4), so it reads its scales and bias once.
  const uint RV = WN / 4;  // vec4 per staged row
  const uint lane = gl_SubgroupInvocationID;
  const uint gn = n0 + wn + (lane % RV) * 4;
  if (n0 + wn >= p.N) return;  // uniform across the subgroup; no barrier follows
  vec4 cs = vec4(0.0), cb = vec4(0.0);
  [[unroll]] for (uint t = 0; t < 4; ++t) {
    if (gn + t < p.N) {
      cs[t] = 256.0 * sc[gn + t];
      if (HAS_BIAS) cb[t] = bias[gn + t];
    }
  }
  const bool vec_out = (p.N & 3u) == 0 && gn + 4 <= p.N;
  const uint base = sg * 4 * WN;
  [[unroll]] for (uint i = 0; i < FM; ++i) {
    const uint rm = m0 + wm + i * 16;
    if (rm >= p.M) break;  // uniform across the subgroup
    [[unroll]] for (uint j = 0; j < FN; ++j) coopMatStoreNV(acc[i * FN + j], As, base + j * 4, RV, false);
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    for (uint v = lane; v < 16 * RV; v += gl_SubgroupSize) {
      const uint gm = rm + v / RV;
      if (gm >= p.M) break;
      vec4 o = uintBitsToFloat(As[base + v]).xzyw * cs;  // staged as n, n+2, n+1, n+3
      if (ROW_SCALES) o *= rs[gm];
      if (HAS_BIAS) o += cb;
      if (ACT != 0) [[unroll]] for (uint t = 0; t < 4; ++t) o[t] = epilogue_act(o[t], ACT);
      if (HAS_RES) {
        if (vec_out) {
          o += res4[(gm * p.N + gn) / 4];
        } else {
          [[unroll]] for (uint t = 0; t < 4; ++t)
            if (gn + t < p.N) o[t] += res[gm * p.N + gn + t];
        }
      }
      if (vec_out) {
        y4[(gm * p.N + gn) / 4] = o;
      } else {
        [[unroll]] for (uint t = 0; t < 4; ++t)
          if (gn + t < p.N) y[gm * p.N + gn + t] = o[t];
      }
    }
    subgroupMemoryBarrierShared();
    subgroupBarrier();
  }
}
