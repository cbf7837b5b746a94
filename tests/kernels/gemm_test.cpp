// The GEMM core against a naive float64 triple loop, for every micro-kernel
// this CPU can run, over shapes that hit every edge (partial tiles, several
// K blocks, vector cases, strided and transposed operands).
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_microkernel.h"
#include "math_test_util.h"

namespace vdrt::test {
namespace {

using cpu::GemmOptions;

struct GemmCase {
  int64_t M, N, K;
  bool ta, tb;
  float alpha, beta;
};

void check_gemm(const GemmCase& c, const cpu::GemmMicroKernel* mk, bool parallel) {
  const int64_t lda = (c.ta ? c.M : c.K) + 3, ldb = (c.tb ? c.K : c.N) + 1, ldc = c.N + 2;  // padded rows
  auto A = random_floats(static_cast<size_t>((c.ta ? c.K : c.M) * lda), 1);
  auto B = random_floats(static_cast<size_t>((c.tb ? c.N : c.K) * ldb), 2);
  auto C = random_floats(static_cast<size_t>(c.M * ldc), 3);
  std::vector<double> ref(C.begin(), C.end());
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = 0; j < c.N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < c.K; ++k)
        s += double(c.ta ? A[k * lda + i] : A[i * lda + k]) * double(c.tb ? B[j * ldb + k] : B[k * ldb + j]);
      ref[i * ldc + j] = c.alpha * s + (c.beta == 0 ? 0.0 : c.beta * double(C[i * ldc + j]));
    }
  if (c.beta == 0)  // beta == 0 must not read C: poison it
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) C[i * ldc + j] = NAN;
  GemmOptions o;
  o.kernel = mk;
  o.parallel = parallel;
  cpu::gemm_f32(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc, o);
  double err = 0;
  for (size_t i = 0; i < C.size(); ++i) {
    const bool inside = static_cast<int64_t>(i % ldc) < c.N;
    if (!inside) {
      EXPECT_EQ(double(C[i]), ref[i]) << "wrote outside C at " << i;
      continue;
    }
    err = std::max(err, std::fabs(C[i] - ref[i]));
  }
  EXPECT_LT(err, 1e-5 * std::sqrt(double(c.K) + 1)) << mk->isa << " M=" << c.M << " N=" << c.N << " K=" << c.K
                                                 << " ta=" << c.ta << " tb=" << c.tb << " parallel=" << parallel;
}

TEST(Gemm, MatchesNaiveReferenceForEveryMicroKernel) {
  const GemmCase cases[] = {
      {1, 1, 1, false, false, 1, 0},     {7, 5, 3, false, false, 1, 0},    {14, 32, 256, false, false, 1, 0},
      {15, 33, 257, false, false, 1, 0}, {100, 70, 300, true, false, 1, 0}, {64, 48, 40, false, true, 0.5f, 1},
      {37, 129, 513, true, true, 2, 0.25f}, {1, 77, 50, false, false, 1, 0}, {1, 77, 50, false, true, 1, 1},
      {77, 1, 50, false, false, 1, 0},   {77, 1, 50, true, false, -1, 0.5f}, {5, 9, 0, false, false, 1, 0.5f},
      {200, 3100, 20, false, false, 1, 0}, {400, 40, 600, false, true, 1, 0},
  };
  for (const cpu::GemmMicroKernel* mk : cpu::available_gemm_microkernels())
    for (const auto& c : cases)
      for (bool parallel : {false, true}) check_gemm(c, mk, parallel);
}

TEST(Gemm, PackedLeftOperandMatchesUnpacked) {
  for (const cpu::GemmMicroKernel* mk : cpu::available_gemm_microkernels())
    for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 5, 7}, {15, 33, 600}, {170, 70, 1100}, {29, 3100, 64}}) {
      auto A = random_floats(M * K, 6), B = random_floats(K * N, 7), C = random_floats(M * N, 8);
      std::vector<double> ref(M * N);
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double s = 0;
          for (int64_t k = 0; k < K; ++k) s += double(A[i * K + k]) * B[k * N + j];
          ref[i * N + j] = 0.5 * s + 2.0 * C[i * N + j];
        }
      GemmOptions o;
      o.kernel = mk;
      const cpu::PackedA packed = cpu::pack_a_f32(M, K, A.data(), K, 1, o);
      cpu::gemm_f32_packed(packed, N, 0.5f, B.data(), N, 1, 2.0f, C.data(), N);
      double err = 0;
      for (size_t i = 0; i < C.size(); ++i) err = std::max(err, std::fabs(C[i] - ref[i]));
      EXPECT_LT(err, 1e-4) << mk->isa << " " << M << "x" << N << "x" << K;
    }
}

TEST(Gemm, StridedOperandViews) {
  // A as every second column of a wider matrix, B as a column-strided view.
  const int64_t M = 20, N = 30, K = 25;
  auto A = random_floats(M * K * 2, 4), B = random_floats(K * N * 3, 5);
  std::vector<float> C(M * N);
  cpu::gemm_f32(M, N, K, 1.0f, A.data(), 2 * K, 2, B.data(), 3 * N, 3, 0.0f, C.data(), N);
  double err = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += double(A[i * 2 * K + k * 2]) * B[k * 3 * N + j * 3];
      err = std::max(err, std::fabs(C[i * N + j] - s));
    }
  EXPECT_LT(err, 1e-5);
}

}  // namespace
}  // namespace vdrt::test
