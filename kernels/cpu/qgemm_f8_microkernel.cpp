// e4m3 -> f32 in registers, the F16C way: an e4m3 byte s.eeee.mmm, sign-
// extended to 16 bits, shifted left by 7 and with bit 14 cleared, is the
// half float s.0eeee.mmm0000000, whose value is the e4m3 value times 2^-8
// (subnormals included: both formats' subnormals line up). vcvtph2ps then
// widens 8 or 16 halves to floats exactly. Three integer ops and one convert
// per vector, against MR FMAs that reuse it; the 2^8 goes into the column
// scales. The NaN codes 0x7f/0xff come out as +-480 (see docs/vdrt_ops.md:
// vdrt.QMatMul weights must not hold NaN codes).
//   AVX-512 28 x 16: 28 accumulators + 1 weight vector (+ broadcasts from
//                    memory): one decode per 28 FMAs. The default: the
//                    decode competes with the FMAs for the vector pipes, and
//                    the tall tile halves it against 14 x 32 (105 against 88
//                    GFLOPS per Zen 4 core at M = 1560, bench/RESULTS.md).
//   AVX-512 14 x 32: the f32 GEMM's shape, kept for comparison.
//   AVX2 12 x 8: 12 accumulators + 1 weight vector + broadcast, tall for the
//                same reason (49 against 42 GFLOPS per core for 6 x 16).
//   other:   tile  4 x 16 through a 256-entry table, plain C++
#include "kernels/cpu/qgemm_f8_microkernel.h"

#include <cstring>

#include "graph/dtype.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define VDRT_HAVE_X86_QGEMM 1
#endif

#pragma GCC diagnostic ignored "-Wpsabi"
// GCC 12 flags the deliberately undefined lanes inside _mm512_cvtph_ps.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace vdrt::cpu {
namespace {

// Stores the tile from spilled sums: the generic epilogue for edge tiles and
// the table-driven variant.
template <int MR, int NR>
void store_tile(const float (&sums)[MR][NR], float* c, int64_t ldc, const QGemmEpilogue& ep, int m, int n) {
  for (int i = 0; i < m; ++i) {
    const float rs = ep.row_scale ? ep.row_scale[i] : 1.0f;
    for (int j = 0; j < n; ++j) {
      float v = sums[i][j] * ep.col_scale[j];
      if (ep.row_scale) v *= rs;
      float& dst = c[i * ldc + j];
      if (ep.accumulate) dst += v;
      else dst = ep.bias ? v + ep.bias[j] : v;
    }
  }
}

#ifdef VDRT_HAVE_X86_QGEMM
#define VDRT_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx2,fma,f16c")))
#define VDRT_AVX2 __attribute__((target("avx2,fma,f16c")))

VDRT_AVX512 inline __attribute__((always_inline)) __m512 decode16(const uint8_t* p) {
  __m256i h = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  h = _mm256_and_si256(_mm256_slli_epi16(h, 7), _mm256_set1_epi16(static_cast<short>(0xbfff)));
  return _mm512_cvtph_ps(h);
}

template <int MR, int NV>
VDRT_AVX512 void tile_avx512(int64_t kc, const float* a, const uint8_t* b, int64_t ldb, float* c, int64_t ldc,
                             const QGemmEpilogue& ep, int m, int n) {
  constexpr int NR = 16 * NV;
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m512 bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = decode16(b + 16 * v);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += ldb;
  }
  if (m == MR && n == NR) {
    __m512 cs[NV], bias[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      cs[v] = _mm512_loadu_ps(ep.col_scale + 16 * v);
      bias[v] = ep.bias ? _mm512_loadu_ps(ep.bias + 16 * v) : _mm512_setzero_ps();
    }
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const __m512 rs = _mm512_set1_ps(ep.row_scale ? ep.row_scale[i] : 1.0f);
      float* ci = c + i * ldc;
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        __m512 r = _mm512_mul_ps(acc[i][v], cs[v]);
        if (ep.row_scale) r = _mm512_mul_ps(r, rs);
        r = ep.accumulate ? _mm512_add_ps(_mm512_loadu_ps(ci + 16 * v), r) : _mm512_add_ps(r, bias[v]);
        _mm512_storeu_ps(ci + 16 * v, r);
      }
    }
    return;
  }
  float sums[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(sums[i] + 16 * v, acc[i][v]);
  store_tile<MR, NR>(sums, c, ldc, ep, m, n);
}

VDRT_AVX2 inline __attribute__((always_inline)) __m256 decode8(const uint8_t* p) {
  __m128i h = _mm_cvtepi8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  h = _mm_and_si128(_mm_slli_epi16(h, 7), _mm_set1_epi16(static_cast<short>(0xbfff)));
  return _mm256_cvtph_ps(h);
}

template <int MR, int NV>
VDRT_AVX2 void tile_avx2(int64_t kc, const float* a, const uint8_t* b, int64_t ldb, float* c, int64_t ldc,
                         const QGemmEpilogue& ep, int m, int n) {
  constexpr int NR = 8 * NV;
  __m256 acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m256 bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = decode8(b + 8 * v);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += ldb;
  }
  if (m == MR && n == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      float* ci = c + i * ldc;
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        __m256 r = _mm256_mul_ps(acc[i][v], _mm256_loadu_ps(ep.col_scale + 8 * v));
        if (ep.row_scale) r = _mm256_mul_ps(r, _mm256_set1_ps(ep.row_scale[i]));
        if (ep.accumulate) r = _mm256_add_ps(_mm256_loadu_ps(ci + 8 * v), r);
        else if (ep.bias) r = _mm256_add_ps(r, _mm256_loadu_ps(ep.bias + 8 * v));
        _mm256_storeu_ps(ci + 8 * v, r);
      }
    }
    return;
  }
  float sums[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) _mm256_storeu_ps(sums[i] + 8 * v, acc[i][v]);
  store_tile<MR, NR>(sums, c, ldc, ep, m, n);
}
#endif  // VDRT_HAVE_X86_QGEMM

// Portable variant: a 256-entry table of value * 2^-8, the same numbers the
// F16C route yields (NaN codes included), so every variant computes alike.
struct ScaledTable {
  float v[256];
  ScaledTable() {
    for (int i = 0; i < 256; ++i) {
      const uint8_t code = static_cast<uint8_t>(i);
      const float x = (code & 0x7f) == 0x7f ? ((code & 0x80) ? -480.0f : 480.0f) : f8e4m3_to_float(code);
      v[i] = x * (1.0f / 256.0f);
    }
  }
};

void tile_portable(int64_t kc, const float* a, const uint8_t* b, int64_t ldb, float* c, int64_t ldc,
                   const QGemmEpilogue& ep, int m, int n) {
  constexpr int MR = 4, NR = 16;
  static const ScaledTable table;
  float sums[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    float bk[NR];
    for (int j = 0; j < NR; ++j) bk[j] = table.v[b[j]];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) sums[i][j] += a[i] * bk[j];
    a += MR;
    b += ldb;
  }
  store_tile<MR, NR>(sums, c, ldc, ep, m, n);
}

const QGemmMicroKernel kPortable{"portable", 4, 16, 256.0f, tile_portable};
#ifdef VDRT_HAVE_X86_QGEMM
const QGemmMicroKernel kAvx2{"avx2", 12, 8, 256.0f, tile_avx2<12, 1>};
const QGemmMicroKernel kAvx512{"avx512", 14, 32, 256.0f, tile_avx512<14, 2>};
const QGemmMicroKernel kAvx512Tall{"avx512-28x16", 28, 16, 256.0f, tile_avx512<28, 1>};
#endif

}  // namespace

std::vector<const QGemmMicroKernel*> available_qgemm_microkernels() {
  std::vector<const QGemmMicroKernel*> out;
#ifdef VDRT_HAVE_X86_QGEMM
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("f16c"))
    out.push_back(&kAvx512Tall), out.push_back(&kAvx512);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
    out.push_back(&kAvx2);
#endif
  out.push_back(&kPortable);
  return out;
}

const QGemmMicroKernel& best_qgemm_microkernel() {
  static const QGemmMicroKernel* best = available_qgemm_microkernels().front();
  return *best;
}

}  // namespace vdrt::cpu
