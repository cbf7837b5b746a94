// Body of matmul_coopmat_f16.comp (built -O0) and matmul_tc16.comp (the
// same shader built with glslc -O); see matmul_coopmat_f16.comp.
#include "common.glsl"
#include "activation.glsl"
#include "matmul_coopmat_f16_staging.glsl"

void main() {
  n0 = gl_WorkGroupID.x * BN;
  m0 = gl_WorkGroupID.y * BM;
  const uint sg = gl_SubgroupID;
  const uint wm = (sg / (BN / WN)) * WM, wn = (sg % (BN / WN)) * WN;

  // A bias (C one row: m stride 0, n stride 1, alpha = beta = 1) starts the
  // accumulators of the column blocks wholly inside N, loaded as a fragment
  // with row stride 0; the epilogue then has nothing to add for them.
  const bool bias_init = HAS_C && p.scm == 0u && p.scn == 1u && p.alpha == 1.0 && p.beta == 1.0;
  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[FM * FN];
  [[unroll]] for (uint j = 0; j < FN; ++j) {
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> start = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
    if (bias_init && n0 + wn + j * 16 + 16 <= p.N) coopMatLoadNV(start, c, n0 + wn + j * 16, 0, false);
    [[unroll]] for (uint i = 0; i < FM; ++i) acc[i * FN + j] = start;
  }

  const uint steps = p.Kp / BK;
  if (DIRECT) {
    for (uint k0 = 0; k0 < p.Kp; k0 += 16) {
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fa[FM];
      fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fb[FN];
      [[unroll]] for (uint i = 0; i < FM; ++i) {
        if (A_T) coopMatLoadNV(fa[i], a, k0 * p.lda + (m0 + wm + i * 16) / 8, p.lda, true);
        else coopMatLoadNV(fa[i], a, (m0 + wm + i * 16) * p.lda + k0 / 8, p.lda, false);
      }
      [[unroll]] for (uint j = 0; j < FN; ++j) {
        if (B_T) coopMatLoadNV(fb[j], b, (n0 + wn + j * 16) * p.ldb + k0 / 8, p.ldb, true);
        else coopMatLoadNV(fb[j], b, k0 * p.ldb + (n0 + wn + j * 16) / 8, p.ldb, false);
      }
      [[unroll]] for (uint i = 0; i < FM; ++i)
        [[unroll]] for (uint j = 0; j < FN; ++j) acc[i * FN + j] = coopMatMulAddNV(fa[i], fb[j], acc[i * FN + j]);
    }
    barrier();
  } else {
  load_step(0);
  store_step(0);
  barrier();
  for (uint s = 0; s < steps; ++s) {
    const uint cur = NBUF == 2 ? s & 1 : 0;
    if (s + 1 < steps) load_step((s + 1) * BK);
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
      [[unroll]] for (uint i = 0; i < FM; ++i)
        [[unroll]] for (uint j = 0; j < FN; ++j) acc[i * FN + j] = coopMatMulAddNV(fa[i], fb[j], acc[i * FN + j]);
    }
    if (NBUF == 1) {
      if (s + 1 < steps) {
        barrier();
        store_step(0);
      }
    } else if (s + 1 < steps) {
      store_step(cur ^ 1);
    }
    barrier();
  }
  }

  // Epilogue. A 16 x 16 block wholly inside y takes it in registers: C's
  // rows (n stride 1) and R load as fragments of the accumulator's type,
  // and the activation is element-wise. Other blocks go through shared
  // memory: As is free now (the loop ended with a barrier), 64 uvec4 (a
  // 16 x 16 f32 block) of it per subgroup.
  const uint lane = gl_SubgroupInvocationID;
  const bool c_fragment = !HAS_C || (p.scn == 1u && (p.scm & 3u) == 0);
  const bool direct_ok = c_fragment && (p.N & 3u) == 0;
  [[unroll]] for (uint i = 0; i < FM; ++i) {
    [[unroll]] for (uint j = 0; j < FN; ++j) {
      const uint rm = m0 + wm + i * 16, rn = n0 + wn + j * 16;
      if (rm >= p.M || rn >= p.N) continue;   // uniform across the subgroup
      const bool add_c = HAS_C && !(bias_init && rn + 16 <= p.N);
      if (direct_ok && rm + 16 <= p.M && rn + 16 <= p.N) {
        // Element-wise over the components an invocation owns (the same
        // positions in every fragment of one type): glslc -O crashes on a
        // fragment + fragment expression.
        fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> o = acc[i * FN + j] * p.alpha;
        if (add_c) {
          fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> cf;
          coopMatLoadNV(cf, c, rm * p.scm + rn, p.scm, false);
          for (int e = 0; e < o.length(); ++e) o[e] += p.beta * cf[e];
        }
        if (ACT != 0)
          for (int e = 0; e < o.length(); ++e) o[e] = epilogue_act(o[e], ACT);
        if (HAS_R) {
          fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> rf;
          coopMatLoadNV(rf, r, rm * p.N + rn, p.N, false);
          for (int e = 0; e < o.length(); ++e) o[e] += rf[e];
        }
        coopMatStoreNV(o, y, rm * p.N + rn, p.N, false);
        continue;
      }
      coopMatStoreNV(acc[i * FN + j], As, sg * 64, 4, false);
      subgroupMemoryBarrierShared();
      subgroupBarrier();
      for (uint v = lane; v < 64; v += gl_SubgroupSize) {
        const vec4 q = uintBitsToFloat(As[sg * 64 + v]);
        const uint gm = rm + v / 4;
        [[unroll]] for (uint t = 0; t < 4; ++t) {
          const uint gn = rn + (v % 4) * 4 + t;
          if (gm < p.M && gn < p.N) {
            float o = p.alpha * q[t];
            if (add_c) o += p.beta * c[gm * p.scm + gn * p.scn];
            if (ACT != 0) o = epilogue_act(o, ACT);
            if (HAS_R) o += r[gm * p.N + gn];
            y[gm * p.N + gn] = o;
          }
        }
      }
      subgroupMemoryBarrierShared();
      subgroupBarrier();
    }
  }
}
