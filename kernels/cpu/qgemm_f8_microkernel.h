#pragma once
// Register-blocked inner kernels of the float8-weight GEMM (qgemm_f8.cpp):
// C tile (MR x NR) from an MR x kc panel of packed f32 A and a kc x NR panel
// of e4m3 weight bytes. The bytes are decoded to floats in registers, right
// before the FMAs, so the weights travel through memory and cache at one
// byte each. Variants per instruction set, chosen at run time.
#include <cstdint>
#include <vector>

namespace vdrt::cpu {

// What the tile does with its f32 sums: scale columns (per output channel,
// with the decode factor folded in) and optionally rows (per-token
// activation scales), then store or add to C.
struct QGemmEpilogue {
  const float* col_scale = nullptr;  // NR entries for this tile
  const float* row_scale = nullptr;  // MR entries for this tile, or nullptr
  const float* bias = nullptr;       // NR entries, added when storing (not when accumulating), or nullptr
  bool accumulate = false;           // C += result (later K blocks) instead of C = result + bias
};

struct QGemmMicroKernel {
  const char* isa;
  int mr, nr;
  // A decoded code times decode_factor is its e4m3 value: the F16C route
  // decodes to value * 2^-8, and the factor goes into the column scales.
  float decode_factor;
  // sums[i][j] = sum_k a[k*mr + i] * decode(b[k*ldb + j]) for i < m, j < n
  // (m <= mr, n <= nr); ldb is nr for a packed panel, or the weight's row
  // stride when the tile reads the weight in place.
  void (*tile)(int64_t kc, const float* a, const uint8_t* b, int64_t ldb, float* c, int64_t ldc,
               const QGemmEpilogue& ep, int m, int n);
};

const QGemmMicroKernel& best_qgemm_microkernel();
std::vector<const QGemmMicroKernel*> available_qgemm_microkernels();

}  // namespace vdrt::cpu
