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
// The real shader's interface and staging, so that the probes stage exactly as it does.
#include "common.glsl"
#include "matmul_coopmat_f16_staging.glsl"

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
