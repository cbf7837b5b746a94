#pragma once
// The register-blocked inner kernel of the f32 GEMM: multiplies an MR x kc
// panel of packed A by a kc x NR panel of packed B into an MR x NR tile of C.
// One variant per instruction set (AVX-512, AVX2+FMA, SSE2 baseline), chosen
// at run time from the CPU's features, so the library needs no -march flag.
#include <cstdint>
#include <vector>

namespace vdrt::cpu {

struct GemmMicroKernel {
  const char* isa;
  int mr, nr;
  // c[i*ldc + j] = alpha * sum_k a[k*mr + i] * b[k*nr + j] + beta * c[i*ldc + j]
  // for i < m, j < n (m <= mr, n <= nr); beta == 0 never reads c.
  void (*tile)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta, int m,
               int n);
};

// The fastest variant this CPU supports (decided once).
const GemmMicroKernel& best_gemm_microkernel();
// The variant the attention kernel multiplies with (attention_tiled.cpp),
// whose MR rows hold head and value dims: on AVX-512 an 8 x 48 tile, as 14
// rows would pad 128 to 140; elsewhere the fastest.
const GemmMicroKernel& best_attention_microkernel();
// Every variant this CPU can run, for tests and benchmarks.
std::vector<const GemmMicroKernel*> available_gemm_microkernels();

}  // namespace vdrt::cpu
