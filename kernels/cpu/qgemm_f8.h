#pragma once
// Matrix multiply with float8 e4m3 weights and per-output-channel scales,
// f32 activations and f32 accumulation: the CPU core of vdrt.QMatMul.
//   C[m, n] = row_scale[m] * sum_k A[m, k] * decode(W[k, n]) * col_scale[n] + bias[n]
// The weight is never widened as a whole: each K x NR panel is copied as
// bytes and decoded in registers inside the micro-kernel, so a GEMM reads one
// byte per weight instead of four.
#include <cstdint>

namespace vdrt::cpu {

struct QGemmMicroKernel;

struct QGemmF8Problem {
  int64_t M = 0, N = 0, K = 0;
  const float* A = nullptr;  // row-major, row stride lda
  int64_t lda = 0;
  const uint8_t* W = nullptr;  // e4m3 codes, [K, N] row-major, row stride ldw
  int64_t ldw = 0;
  const float* col_scale = nullptr;  // [N]
  const float* bias = nullptr;       // [N] or nullptr
  const float* row_scale = nullptr;  // [M] or nullptr
  float* C = nullptr;                // row-major, row stride ldc; never read
  int64_t ldc = 0;
};

struct QGemmOptions {
  bool parallel = true;                      // split over the tbb arena
  const QGemmMicroKernel* kernel = nullptr;  // forces a variant (tests, benchmarks); nullptr = best
};

void qgemm_f8e4m3(const QGemmF8Problem& p, const QGemmOptions& options = {});

// The whole vdrt.QMatMul on row-major A [M, K]: with `per_token_act_quant`
// each row of A is first quantised to e4m3 (scale absmax/448) and the row
// scales applied in the epilogue.
void qmatmul_f8e4m3(int64_t M, int64_t N, int64_t K, const float* A, const uint8_t* W, const float* scale,
                    const float* bias, bool per_token_act_quant, float* C, const QGemmOptions& options = {});

}  // namespace vdrt::cpu
