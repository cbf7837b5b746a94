// GEMM micro-kernels written once with GCC vector extensions and compiled
// per instruction set through target attributes. Each keeps an MR x NR
// accumulator tile in registers: per k it loads NR/W vectors of B and
// broadcasts MR scalars of A (outer-product update, one FMA per vector).
//   AVX-512: 32 zmm, tile 14 x 32 -> 28 accumulators + 2 B + 1 broadcast;
//            for attention also 8 x 48 -> 24 accumulators + 3 B + 1 broadcast
//            (8 rows divide the head dims 64 and 128, which 14 would pad)
//   AVX2:    16 ymm, tile  6 x 16 -> 12 accumulators + 2 B + 1 broadcast
//   SSE2:    16 xmm, tile  6 x  8
#include "kernels/cpu/gemm_microkernel.h"

#include <cstring>

#pragma GCC diagnostic ignored "-Wpsabi"

namespace vdrt::cpu {
namespace {

template <int MR, int NV, int W>
__attribute__((always_inline)) inline void tile_body(int64_t kc, const float* __restrict a, const float* __restrict b,
                                                     float* c, int64_t ldc, float alpha, float beta, int m, int n) {
  typedef float V __attribute__((vector_size(W * 4)));
  typedef float VU __attribute__((vector_size(W * 4), aligned(4)));  // unaligned loads/stores
  constexpr int NR = NV * W;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = V{};
  for (int64_t k = 0; k < kc; ++k) {
    V bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = *reinterpret_cast<const VU*>(b + v * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const float ai = a[i];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += bv[v] * ai;
    }
    a += MR;
    b += NR;
  }
  if (m == MR && n == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        VU* cp = reinterpret_cast<VU*>(c + i * ldc + v * W);
        if (beta == 0.0f) *cp = acc[i][v] * alpha;
        else *cp = acc[i][v] * alpha + *cp * beta;
      }
    return;
  }
  // Edge tile: spill the accumulators and copy the valid part.
  float tmp[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) std::memcpy(&tmp[i][v * W], &acc[i][v], sizeof(V));
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float& dst = c[i * ldc + j];
      dst = beta == 0.0f ? alpha * tmp[i][j] : alpha * tmp[i][j] + beta * dst;
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target("avx512f,avx512vl,avx2,fma"))) void tile_avx512(int64_t kc, const float* a, const float* b,
                                                                       float* c, int64_t ldc, float alpha, float beta,
                                                                       int m, int n) {
  tile_body<14, 2, 16>(kc, a, b, c, ldc, alpha, beta, m, n);
}
__attribute__((target("avx512f,avx512vl,avx2,fma"))) void tile_avx512_8x48(int64_t kc, const float* a, const float* b,
                                                                            float* c, int64_t ldc, float alpha,
                                                                            float beta, int m, int n) {
  tile_body<8, 3, 16>(kc, a, b, c, ldc, alpha, beta, m, n);
}
__attribute__((target("avx2,fma"))) void tile_avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                                    float alpha, float beta, int m, int n) {
  tile_body<6, 2, 8>(kc, a, b, c, ldc, alpha, beta, m, n);
}
#define VDRT_HAVE_X86_VARIANTS 1
#endif

void tile_baseline(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta, int m,
                   int n) {
  tile_body<6, 2, 4>(kc, a, b, c, ldc, alpha, beta, m, n);
}

const GemmMicroKernel kBaseline{"sse2", 6, 8, tile_baseline};
#ifdef VDRT_HAVE_X86_VARIANTS
const GemmMicroKernel kAvx2{"avx2", 6, 16, tile_avx2};
const GemmMicroKernel kAvx512{"avx512", 14, 32, tile_avx512};
const GemmMicroKernel kAvx512Rows8{"avx512-8x48", 8, 48, tile_avx512_8x48};
#endif

}  // namespace

std::vector<const GemmMicroKernel*> available_gemm_microkernels() {
  std::vector<const GemmMicroKernel*> out;
#ifdef VDRT_HAVE_X86_VARIANTS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) {
    out.push_back(&kAvx512);
    out.push_back(&kAvx512Rows8);
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out.push_back(&kAvx2);
#endif
  out.push_back(&kBaseline);
  return out;
}

const GemmMicroKernel& best_gemm_microkernel() {
  static const GemmMicroKernel* best = available_gemm_microkernels().front();
  return *best;
}

const GemmMicroKernel& best_attention_microkernel() {
  static const GemmMicroKernel* best = [] {
    for (const GemmMicroKernel* mk : available_gemm_microkernels())
      if (mk->mr == 8 && mk->nr == 48) return mk;
    return &best_gemm_microkernel();
  }();
  return *best;
}

}  // namespace vdrt::cpu
