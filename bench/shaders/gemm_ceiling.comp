#version 450
// Where the fp16 cooperative-matrix GEMM's time goes on a device: a stand-in
// for matmul_coopmat_f16 (same bindings, push constants, specialization
// constants and grid, so bench_gpu_gemm times it through VDRT_VK_SPV_DIR)
// with parts of its main loop taken away. Its products are wrong on purpose;
// only the time means something. bench/gemm_ceiling.sh builds and runs it.
//   PROBE 1: multiply-adds only: every K step multiplies fragments loaded
//            once before the loop (the tensor cores' ceiling through
//            GL_NV_cooperative_matrix at this tile);
//   PROBE 2: fragments from shared memory + multiply-adds, one barrier per
//            K step, no global loads (the shared-memory path's ceiling);
//   PROBE 3: global loads and shared stores with their barriers, no
//            fragment loads or multiply-adds (the staging's cost alone);
//   PROBE 4: global -> shared -> fragments, no multiply-adds.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint NT = 256;
layout(constant_id = 1) const uint BM = 128;
layout(constant_id = 2) const uint BN = 128;
layout(constant_id = 3) const uint BK = 32;
layout(constant_id = 4) const uint WM = 64;
layout(constant_id = 5) const uint WN = 32;
layout(constant_id = 6) const bool A_T = false;
layout(constant_id = 7) const bool B_T = false;
layout(constant_id = 8) const bool HAS_C = false;
layout(constant_id = 9) const bool DIRECT = false;
layout(constant_id = 10) const uint ACT = 0;
layout(constant_id = 11) const bool HAS_R = false;
layout(constant_id = 12) const uint NBUF = 2;  // as the real shader: 1 = one shared buffer, a second barrier a step

layout(std430, binding = 0) readonly buffer A { uvec4 a[]; };
layout(std430, binding = 1) readonly buffer B { uvec4 b[]; };
layout(std430, binding = 2) readonly buffer C { float c[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(std430, binding = 4) readonly buffer R { float r[]; };
layout(push_constant) uniform P {
  uint M, N, Kp;
  uint lda, ldb;
  uint scm, scn;
  float alpha, beta;
} p;

const uint FM = WM / 16, FN = WN / 16;
const uint A_ROWS = A_T ? BK : BM, A_COLS = (A_T ? BM : BK) / 8, ASTR = A_COLS + 1;
const uint B_ROWS = B_T ? BN : BK, B_COLS = (B_T ? BK : BN) / 8, BSTR = B_COLS + 1;
const uint ABUF = A_ROWS * ASTR, BBUF = B_ROWS * BSTR;
const uint LA = A_ROWS * A_COLS / NT, LB = B_ROWS * B_COLS / NT;
shared uvec4 As[NBUF * ABUF];
shared uvec4 Bs[NBUF * BBUF];

uvec4 ra[LA], rb[LB];
uint m0, n0;

void load_step(uint k0) {
  const uint tid = gl_LocalInvocationID.x;
  [[unroll]] for (uint r = 0; r < LA; ++r) {
    uint e = tid + r * NT, row = e / A_COLS, col = e - row * A_COLS;
    ra[r] = A_T ? a[(k0 + row) * p.lda + m0 / 8 + col] : a[(m0 + row) * p.lda + k0 / 8 + col];
  }
  [[unroll]] for (uint r = 0; r < LB; ++r) {
    uint e = tid + r * NT, row = e / B_COLS, col = e - row * B_COLS;
    rb[r] = B_T ? b[(n0 + row) * p.ldb + k0 / 8 + col] : b[(k0 + row) * p.ldb + n0 / 8 + col];
  }
}

void store_step(uint buf) {
  const uint tid = gl_LocalInvocationID.x;
  [[unroll]] for (uint r = 0; r < LA; ++r) {
    uint e = tid + r * NT, row = e / A_COLS, col = e - row * A_COLS;
    As[buf * ABUF + row * ASTR + col] = ra[r];
  }
  [[unroll]] for (uint r = 0; r < LB; ++r) {
    uint e = tid + r * NT, row = e / B_COLS, col = e - row * B_COLS;
    Bs[buf * BBUF + row * BSTR + col] = rb[r];
  }
}

void main() {
  n0 = gl_WorkGroupID.x * BN;
  m0 = gl_WorkGroupID.y * BM;
  const uint sg = gl_SubgroupID;
  const uint wm = (sg / (BN / WN)) * WM, wn = (sg % (BN / WN)) * WN;
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[FM * FN];
  [[unroll]] for (uint i = 0; i < FM * FN; ++i) acc[i] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
  const uint steps = p.Kp / BK;

  load_step(0);
  store_step(0);
  barrier();
#if PROBE == 1
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fa[FM];
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fb[FN];
  [[unroll]] for (uint i = 0; i < FM; ++i) coopMatLoadNV(fa[i], As, (wm + i * 16) * ASTR, ASTR, A_T);
  [[unroll]] for (uint j = 0; j < FN; ++j) coopMatLoadNV(fb[j], Bs, (wn + j * 16) / 8, BSTR, B_T);
  for (uint s = 0; s < steps * (BK / 16); ++s) {
    [[unroll]] for (uint i = 0; i < FM; ++i)
      [[unroll]] for (uint j = 0; j < FN; ++j) acc[i * FN + j] = coopMatMulAddNV(fa[i], fb[j], acc[i * FN + j]);
  }
#else
  for (uint s = 0; s < steps; ++s) {
    const uint cur = NBUF == 2 ? s & 1 : 0;
#if PROBE == 3 || PROBE == 4
    if (s + 1 < steps) load_step((s + 1) * BK);
#endif
#if PROBE != 3
    [[unroll]] for (uint kk = 0; kk < BK; kk += 16) {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fa[FM];
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fb[FN];
      [[unroll]] for (uint i = 0; i < FM; ++i) {
        if (A_T) coopMatLoadNV(fa[i], As, cur * ABUF + kk * ASTR + (wm + i * 16) / 8, ASTR, true);
        else coopMatLoadNV(fa[i], As, cur * ABUF + (wm + i * 16) * ASTR + kk / 8, ASTR, false);
      }
      [[unroll]] for (uint j = 0; j < FN; ++j) {
        if (B_T) coopMatLoadNV(fb[j], Bs, cur * BBUF + (wn + j * 16) * BSTR + kk / 8, BSTR, true);
        else coopMatLoadNV(fb[j], Bs, cur * BBUF + kk * BSTR + (wn + j * 16) / 8, BSTR, false);
      }
#if PROBE == 2
      [[unroll]] for (uint i = 0; i < FM; ++i)
        [[unroll]] for (uint j = 0; j < FN; ++j) acc[i * FN + j] = coopMatMulAddNV(fa[i], fb[j], acc[i * FN + j]);
#else
      // Keep the loads: one cheap use of each fragment.
      [[unroll]] for (uint i = 0; i < FM; ++i)
        for (int e = 0; e < acc[i * FN].length(); ++e) acc[i * FN][e] += float(fa[i][e]);
      [[unroll]] for (uint j = 0; j < FN; ++j)
        for (int e = 0; e < acc[j].length(); ++e) acc[j][e] += float(fb[j][e]);
#endif
    }
#endif
#if PROBE == 3 || PROBE == 4
    if (s + 1 < steps) {
      if (NBUF == 1) barrier();
      store_step(NBUF == 2 ? cur ^ 1 : 0);
    }
#endif
    barrier();
  }
#if PROBE == 3
  // Keep the stores: read one fragment of the last buffer.
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> last;
  coopMatLoadNV(last, As, (NBUF == 2 ? steps & 1 : 0) * ABUF + wm * ASTR, ASTR, false);
  for (int e = 0; e < acc[0].length(); ++e) acc[0][e] += float(last[e]);
#endif
#endif
  [[unroll]] for (uint i = 0; i < FM; ++i)
    [[unroll]] for (uint j = 0; j < FN; ++j) {
      const uint rm = m0 + wm + i * 16, rn = n0 + wn + j * 16;
      if (rm + 16 <= p.M && rn + 16 <= p.N) coopMatStoreNV(acc[i * FN + j], y, rm * p.N + rn, p.N, false);
    }
}
