#version 450
// An experiment: matmul_coopmat_f16's main pass on VK_NV_cooperative_matrix2
// (workgroup-scope matrices loaded by tensor addressing), so that the driver,
// not the shader, decides how operands reach the tensor cores (on Hopper it
// may use its own staging and warp-group products, which shaders cannot name).
// Same interface as kernels/vulkan/matmul_coopmat_f16.comp (specialization
// constants, bindings, push constants; WM, WN, DIRECT and NBUF are ignored),
// so a build of it in VDRT_VK_SPV_DIR replaces that shader, with
// VDRT_VULKAN_COOPMAT2=1 to enable the extension. Debian 12's glslang (11.13)
// cannot compile it: bench/build_coopmat2.sh builds it with a newer glslang.
// Plain products only (alpha, no C, activation or residual; see the end).
// H200 (bench/RESULTS.md): the same time as matmul_coopmat_f16 at the Wan
// shapes, so it stays an experiment.
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint NT = 256;
layout(constant_id = 1) const uint BM = 128;
layout(constant_id = 2) const uint BN = 128;
layout(constant_id = 3) const uint BK = 32;
layout(constant_id = 4) const uint WM = 64;
layout(constant_id = 5) const uint WN = 32;
layout(constant_id = 6) const bool A_T = false;   // A16 is [Kp][Mp]
layout(constant_id = 7) const bool B_T = false;   // B16 is [Np][Kp]
layout(constant_id = 8) const bool HAS_C = false;
layout(constant_id = 9) const bool DIRECT = false;
layout(constant_id = 10) const uint ACT = 0;
layout(constant_id = 11) const bool HAS_R = false;
layout(constant_id = 12) const uint NBUF = 2;

layout(std430, binding = 0) readonly buffer A { float16_t a[]; };
layout(std430, binding = 1) readonly buffer B { float16_t b[]; };
layout(std430, binding = 2) readonly buffer C { float c[]; };
layout(std430, binding = 3) buffer Y { float y[]; };
layout(std430, binding = 4) readonly buffer R { float r[]; };
layout(push_constant) uniform P {
  uint M, N, Kp;
  uint lda, ldb;    // uvec4 (8 halves) per row of A16 / B16
  uint scm, scn;
  float alpha, beta;
} p;

void main() {
  const uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM;
  // A16 and B16 are padded to whole tiles: every slice below is inside them.
  const uint Mp = gl_NumWorkGroups.y * BM, Np = gl_NumWorkGroups.x * BN;
  tensorLayoutNV<2> la = createTensorLayoutNV(2);
  la = A_T ? setTensorLayoutDimensionNV(la, p.Kp, Mp) : setTensorLayoutDimensionNV(la, Mp, p.Kp);
  la = setTensorLayoutStrideNV(la, p.lda * 8, 1);
  tensorLayoutNV<2> lb = createTensorLayoutNV(2);
  lb = B_T ? setTensorLayoutDimensionNV(lb, Np, p.Kp) : setTensorLayoutDimensionNV(lb, p.Kp, Np);
  lb = setTensorLayoutStrideNV(lb, p.ldb * 8, 1);
  tensorViewNV<2, false, 1, 0> transposed = createTensorViewNV(2, false, 1, 0);

  coopmat<float, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator> sum =
      coopmat<float, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator>(0.0);
  for (uint k = 0; k < p.Kp; k += BK) {
    coopmat<float16_t, gl_ScopeWorkgroup, BM, BK, gl_MatrixUseA> ma;
    coopmat<float16_t, gl_ScopeWorkgroup, BK, BN, gl_MatrixUseB> mb;
    if (A_T) coopMatLoadTensorNV(ma, a, 0, sliceTensorLayoutNV(la, k, BK, m0, BM), transposed);
    else coopMatLoadTensorNV(ma, a, 0, sliceTensorLayoutNV(la, m0, BM, k, BK));
    if (B_T) coopMatLoadTensorNV(mb, b, 0, sliceTensorLayoutNV(lb, n0, BN, k, BK), transposed);
    else coopMatLoadTensorNV(mb, b, 0, sliceTensorLayoutNV(lb, k, BK, n0, BN));
    sum = coopMatMulAdd(ma, mb, sum);
  }
  // The store clips to y's M x N.
  tensorLayoutNV<2> ly = createTensorLayoutNV(2);
  ly = setTensorLayoutDimensionNV(ly, p.M, p.N);
  coopmat<float, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator> o = sum * p.alpha;
  coopMatStoreTensorNV(o, y, 0, sliceTensorLayoutNV(ly, m0, BM, n0, BN));
  // No epilogue: read back after the tensor store, y held zeros on the H200
  // (memoryBarrierBuffer and barrier did not order them). A product that
  // needs one gets NaN, so that parity checks fail instead of passing wrong sums.
  if (HAS_C || ACT != 0 || HAS_R) {
    coopmat<float, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator> nan =
        coopmat<float, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator>(uintBitsToFloat(0x7fc00000u));
    coopMatStoreTensorNV(nan, y, 0, sliceTensorLayoutNV(ly, m0, BM, n0, BN));
  }
}
