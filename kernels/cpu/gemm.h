#pragma once
// The shared f32 matrix multiply of the CPU kernels (MatMul, Gemm, Conv,
// attention). Operands are strided views, so transposed or sliced matrices
// need no copy: element (r, c) of A lives at a[r * a_rs + c * a_cs].
#include <cstdint>
#include <string>
#include <vector>

namespace vdrt::cpu {

struct GemmMicroKernel;

struct GemmOptions {
  // Split the work over the tbb arena. Callers that already run one GEMM
  // per task (attention heads, conv column blocks) pass false.
  bool parallel = true;
  // Forces a micro-kernel variant (tests, benchmarks); nullptr = best.
  const GemmMicroKernel* kernel = nullptr;
};

// C[M,N] = alpha * A[M,K] * B[K,N] + beta * C with C row-major (row stride
// ldc). beta == 0 never reads C, so C may be uninitialised.
void gemm_f32(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t a_rs, int64_t a_cs,
              const float* B, int64_t b_rs, int64_t b_cs, float beta, float* C, int64_t ldc,
              const GemmOptions& options = {});

// BLAS-style form for row-major A (M x K, or K x M when trans_a) and B
// (K x N, or N x K when trans_b) with leading dimensions lda and ldb.
inline void gemm_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                     const GemmOptions& options = {}) {
  gemm_f32(M, N, K, alpha, A, trans_a ? 1 : lda, trans_a ? lda : 1, B, trans_b ? 1 : ldb, trans_b ? ldb : 1, beta, C,
           ldc, options);
}

// The epilogue of a fused MatMul (vdrt.FusedMatMul): applied to each tile of
// C as soon as its last K block is stored, while the tile is still in L1,
// instead of as separate passes over the whole output:
//   C[i, j] = act(A * B [i, j] + bias[j]) + residual[i, j]
// The columns of C may go to separate outputs (a Q/K/V projection cut into
// q, k and v): `GemmColumns` says where each run of columns lives.
enum class GemmActivation { None, Gelu, GeluTanh };  // Gelu: erf form; GeluTanh: tanh approximation
struct GemmEpilogue {
  const float* bias = nullptr;      // [N], or nullptr
  GemmActivation activation = GemmActivation::None;
  const float* residual = nullptr;  // [M, N] with row stride residual_ld, or nullptr; must not alias C
  int64_t residual_ld = 0;
};
// The GemmActivation of vdrt's `activation` attribute ("none", "gelu",
// "gelu_tanh"); anything else is an error naming `op`.
GemmActivation gemm_activation(const std::string& name, const char* op);
// The epilogue over a finished M x N product C (row stride ldc), in place and
// parallel over rows: for products the fused GEMM did not compute
// (vdrt.QMatMul's float8 GEMM).
void apply_gemm_epilogue(int64_t M, int64_t N, float* C, int64_t ldc, const GemmEpilogue& epilogue);
struct GemmColumns {
  int64_t begin = 0, width = 0;  // columns [begin, begin + width) of the product
  float* c = nullptr;            // its column `begin` of row 0
  int64_t ldc = 0;               // row stride
};
// C = epilogue(A[M,K] * B[K,N]) with C's columns cut into `outputs`, which
// cover [0, N) in order. A tile that straddles two outputs goes through a
// small buffer; any split is exact, splits at multiples of the micro-kernel
// width (8, 16 or 32 columns) cost nothing.
void gemm_f32_epilogue(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_rs, int64_t a_cs, const float* B,
                       int64_t b_rs, int64_t b_cs, const std::vector<GemmColumns>& outputs,
                       const GemmEpilogue& epilogue, const GemmOptions& options = {});

// A operand packed once for several products with the same left matrix
// (convolution weights across column blocks, attention queries across key
// blocks). Holds its own copy, in the layout of the micro-kernel it was
// packed for.
struct PackedA {
  int64_t M = 0, K = 0, rows = 0;  // rows: M rounded up to the micro-kernel's MR
  const GemmMicroKernel* mk = nullptr;
  std::vector<float> data;
};
PackedA pack_a_f32(int64_t M, int64_t K, const float* A, int64_t a_rs, int64_t a_cs, const GemmOptions& options = {});
// Same, reusing `out`'s storage (hot loops repack into a thread's buffer).
void pack_a_f32(PackedA& out, int64_t M, int64_t K, const float* A, int64_t a_rs, int64_t a_cs,
                const GemmOptions& options = {});
// C[M,N] = alpha * A * B + beta * C with a packed A (options.kernel is
// ignored: the packing fixed the micro-kernel).
void gemm_f32_packed(const PackedA& A, int64_t N, float alpha, const float* B, int64_t b_rs, int64_t b_cs, float beta,
                     float* C, int64_t ldc, const GemmOptions& options = {});

}  // namespace vdrt::cpu
