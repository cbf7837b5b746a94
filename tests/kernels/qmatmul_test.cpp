// vdrt.QMatMul and its parts against float64 references: the result must be
// the exact product of the dequantised operands up to f32 accumulation
// (1e-5 relative), for every micro-kernel variant this CPU runs, across tile
// edges, K blocks and the in-place (single row tile) path.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "data_movement_test_util.h"
#include "kernels/cpu/fp8_activation_quant.h"
#include "kernels/cpu/qgemm_f8.h"
#include "kernels/cpu/qgemm_f8_microkernel.h"

namespace vdrt::test {
namespace {

// Random e4m3 codes of N(0, 1)-ish weights (no NaN codes), as the pass makes them.
Tensor random_codes(int64_t K, int64_t N, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 120.0f);
  Tensor t(DType::F8E4M3, {K, N});
  auto* p = static_cast<uint8_t*>(t.raw());
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = float_to_f8e4m3(nd(rng), true);
  if (t.numel() > 2) p[0] = 0x01, p[1] = 0x81;  // a subnormal of each sign
  return t;
}

Tensor positive_scales(int64_t N, uint32_t seed) {
  std::vector<float> s = random_floats(static_cast<size_t>(N), seed, 1e-3f, 2e-2f);
  return Tensor::from_vector<float>({N}, s);
}

// Per-row e4m3 quantisation written out: scale absmax/448, codes by the
// graph/ codec (tested against ml_dtypes), values back in float.
void reference_row_quant(const std::vector<double>& a, int64_t M, int64_t K, std::vector<double>& q,
                         std::vector<double>& scale) {
  q.assign(a.size(), 0);
  scale.assign(M, 1);
  for (int64_t m = 0; m < M; ++m) {
    float absmax = 0;
    for (int64_t k = 0; k < K; ++k) absmax = std::max(absmax, std::fabs(static_cast<float>(a[m * K + k])));
    const float s = absmax == 0 ? 1.0f : absmax / 448.0f;
    scale[m] = s;
    for (int64_t k = 0; k < K; ++k)
      q[m * K + k] = f8e4m3_to_float(float_to_f8e4m3(static_cast<float>(a[m * K + k]) / s, true));
  }
}

struct Reference {
  std::vector<double> y;    // the exact product of the dequantised operands
  std::vector<double> mag;  // sum_k |a w| per output: the scale of f32 rounding errors
};

Reference reference(const Tensor& a, const Tensor& w, const Tensor& scale, const Tensor* bias, bool act_quant) {
  const int64_t K = w.dims()[0], N = w.dims()[1], M = a.numel() / K;
  std::vector<double> av = a.as_double(), wv = w.as_double(), sv = scale.as_double();
  std::vector<double> rs(M, 1.0);
  if (act_quant) reference_row_quant(std::vector<double>(av), M, K, av, rs);
  Reference r{std::vector<double>(M * N), std::vector<double>(M * N)};
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0, g = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double t = av[m * K + k] * rs[m] * wv[k * N + n] * sv[n];
        s += t;
        g += std::fabs(t);
      }
      const double b = bias ? bias->as_double()[n] : 0.0;
      r.y[m * N + n] = s + b;
      r.mag[m * N + n] = g + std::fabs(b);
    }
  return r;
}

void expect_close(const std::vector<float>& got, const Reference& ref, const std::string& what) {
  ASSERT_EQ(got.size(), ref.y.size());
  double err2 = 0, ref2 = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(got[i] - ref.y[i]);
    ASSERT_LE(e, 1e-5 * ref.mag[i] + 1e-30) << what << " element " << i << ": " << got[i] << " vs " << ref.y[i];
    err2 += e * e;
    ref2 += ref.y[i] * ref.y[i];
  }
  if (ref2 > 0) EXPECT_LE(std::sqrt(err2 / ref2), 1e-5) << what;
}

struct Dims {
  int64_t M, K, N;
};

class QGemmVariants : public ::testing::TestWithParam<Dims> {};

TEST_P(QGemmVariants, EveryMicroKernelMatchesFloat64) {
  const auto [M, K, N] = GetParam();
  Tensor a = random_tensor({M, K}, 11, -2.0f, 2.0f), w = random_codes(K, N, 12), s = positive_scales(N, 13);
  Tensor bias = random_tensor({N}, 14);
  for (const cpu::QGemmMicroKernel* mk : cpu::available_qgemm_microkernels()) {
    for (bool act : {false, true}) {
      for (bool with_bias : {false, true}) {
        std::vector<float> y(static_cast<size_t>(M * N), NAN);
        cpu::QGemmOptions o;
        o.kernel = mk;
        cpu::qmatmul_f8e4m3(M, N, K, a.data<float>(), static_cast<const uint8_t*>(w.raw()), s.data<float>(),
                            with_bias ? bias.data<float>() : nullptr, act, y.data(), o);
        expect_close(y, reference(a, w, s, with_bias ? &bias : nullptr, act),
                     std::string(mk->isa) + (act ? " act-quant" : "") + (with_bias ? " bias" : ""));
      }
    }
  }
}

// Tile edges in M and N, K past one block (1536) so that later blocks add
// into C, the in-place path (M <= MR), several row blocks (M > 84).
INSTANTIATE_TEST_SUITE_P(Shapes, QGemmVariants,
                         ::testing::Values(Dims{1, 7, 5}, Dims{1, 300, 64}, Dims{4, 64, 32}, Dims{6, 17, 16},
                                           Dims{14, 513, 33}, Dims{15, 100, 70}, Dims{29, 256, 96},
                                           Dims{200, 600, 130}, Dims{3, 1, 40}, Dims{31, 1600, 40},
                                           Dims{5, 3100, 17}, Dims{100, 1537, 48}));

TEST(QMatMul, OpOverBatchedInput) {
  const int64_t K = 40, N = 24;
  Tensor a = random_tensor({2, 3, K}, 1), w = random_codes(K, N, 2), s = positive_scales(N, 3),
         b = random_tensor({N}, 4);
  for (const char* act : {"none", "per_token_e4m3"}) {
    AttributeMap at;
    at.set("act_quant", std::string(act));
    Tensor y = run_op1({"QMatMul", "vdrt", 1, 1, at}, {a, w, s, b});
    EXPECT_EQ(y.dims(), (std::vector<int64_t>{2, 3, N}));
    auto yv = y.as_double();
    expect_close(std::vector<float>(yv.begin(), yv.end()), reference(a, w, s, &b, std::string(act) != "none"), act);
  }
  Tensor y1 = run_op1({"QMatMul", "vdrt", 1}, {random_tensor({K}, 5), w, s});  // a vector A drops its row dim
  EXPECT_EQ(y1.dims(), (std::vector<int64_t>{N}));
}

// A folded GELU (erf and tanh forms) and residual (fuse-gemm-epilogue)
// against the float64 product put through the same functions in float64.
TEST(QMatMul, ActivationAndResidualEpilogue) {
  const int64_t K = 40, N = 24;
  Tensor a = random_tensor({2, 3, K}, 1), w = random_codes(K, N, 2), s = positive_scales(N, 3),
         b = random_tensor({N}, 4), r = random_tensor({2, 3, N}, 5);
  const std::vector<double> rv = r.as_double();
  for (const char* fn : {"none", "gelu", "gelu_tanh"})
    for (bool residual : {false, true}) {
      if (std::string(fn) == "none" && !residual) continue;
      AttributeMap at;
      at.set("act_quant", std::string("per_token_e4m3"));
      if (std::string(fn) != "none") at.set("activation", std::string(fn));
      std::vector<Tensor> ins{a, w, s, b};
      if (residual) ins.push_back(r);
      Tensor y = run_op1({"QMatMul", "vdrt", 1, 1, at}, ins);
      ASSERT_EQ(y.dims(), (std::vector<int64_t>{2, 3, N}));
      Reference want = reference(a, w, s, &b, true);
      for (size_t i = 0; i < want.y.size(); ++i) {
        double v = want.y[i];
        if (std::string(fn) == "gelu") v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
        if (std::string(fn) == "gelu_tanh")
          v = 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
        if (residual) v += rv[i];
        want.y[i] = v;
        // GELU's slope is below 1.13; its float erf / tanh are good to ~1e-7.
        want.mag[i] = 1.2 * want.mag[i] + std::fabs(residual ? rv[i] : 0.0) + 0.1;
      }
      auto yv = y.as_double();
      expect_close(std::vector<float>(yv.begin(), yv.end()), want, std::string(fn) + (residual ? " + residual" : ""));
    }
  // The residual must have Y's shape; the activation must be one of the three.
  expect_error([&] { run_op1({"QMatMul", "vdrt", 1}, {a, w, s, b, random_tensor({N}, 6)}); }, {"residual"});
  AttributeMap bad;
  bad.set("activation", std::string("relu"));
  expect_error([&] { run_op1({"QMatMul", "vdrt", 1, 1, bad}, {a, w, s}); }, {"activation"});
}

TEST(QMatMul, EmptyDims) {
  Tensor s = positive_scales(4, 2), b = random_tensor({4}, 3);
  Tensor y = run_op1({"QMatMul", "vdrt", 1}, {Tensor(DType::F32, {3, 0}), random_codes(0, 4, 1), s, b});
  auto yv = y.as_double(), bv = b.as_double();
  ASSERT_EQ(yv.size(), 12u);
  for (size_t i = 0; i < yv.size(); ++i) EXPECT_EQ(yv[i], bv[i % 4]);  // K = 0: just the bias
  EXPECT_EQ(run_op1({"QMatMul", "vdrt", 1}, {Tensor(DType::F32, {0, 8}), random_codes(8, 4, 1), s}).numel(), 0);
}

TEST(QMatMul, RejectsBadOperands) {
  Tensor a = random_tensor({3, 8}, 1), w = random_codes(8, 4, 2), s = positive_scales(4, 3);
  expect_error([&] { run_op1({"QMatMul", "vdrt", 1}, {a, random_tensor({8, 4}, 4), s}); }, {"W must be f8e4m3"});
  expect_error([&] { run_op1({"QMatMul", "vdrt", 1}, {random_tensor({3, 9}, 1), w, s}); }, {"inner dimensions"});
  expect_error([&] { run_op1({"QMatMul", "vdrt", 1}, {a, w, positive_scales(5, 1)}); }, {"scale must be 1-D [N]"});
  expect_error([&] { run_op1({"QMatMul", "vdrt", 1}, {a, w, s, random_tensor({3}, 1)}); }, {"bias"});
  AttributeMap at;
  at.set("act_quant", std::string("per_channel"));
  expect_error([&] { run_op1({"QMatMul", "vdrt", 1, 1, at}, {a, w, s}); }, {"act_quant"});
}

// The branch-free activation rounding equals encode-then-decode everywhere.
TEST(Fp8ActivationQuant, SnapEqualsEncodeDecode) {
  std::vector<float> xs;
  for (int c = 0; c < 256; ++c) {
    const float v = f8e4m3_to_float(static_cast<uint8_t>(c));
    if (!std::isfinite(v)) continue;
    xs.push_back(v);
    const float next = c < 0x7e ? f8e4m3_to_float(static_cast<uint8_t>(c + 1)) : 480.0f;
    if ((c & 0x7f) < 0x7e) {
      const float tie = (v + next) / 2;  // exact in float
      xs.insert(xs.end(), {tie, std::nextafter(tie, 1e9f), std::nextafter(tie, -1e9f)});
    }
  }
  std::mt19937 rng(3);
  for (int i = 0; i < 20000; ++i)
    xs.push_back(std::ldexp(std::uniform_real_distribution<float>(-1, 1)(rng), static_cast<int>(rng() % 30) - 20));
  xs.insert(xs.end(), {0.0f, -0.0f, 464.0f, 470.0f, 1e30f, -1e30f, INFINITY, -INFINITY, 1e-40f});
  for (float x : xs) {
    const float want = f8e4m3_to_float(float_to_f8e4m3(x, true));
    ASSERT_EQ(std::bit_cast<uint32_t>(cpu::snap_to_e4m3(x)), std::bit_cast<uint32_t>(want)) << x;
  }
}

TEST(Fp8ActivationQuant, RowScalesAndZeroRows) {
  const int64_t K = 37;
  std::vector<float> a = random_floats(3 * K, 9, -5.0f, 5.0f);
  for (int64_t k = 0; k < K; ++k) a[K + k] = 0.0f;  // row 1 all zero
  std::vector<float> q(3 * K), s(3);
  cpu::quantize_rows_e4m3(a.data(), 3, K, K, q.data(), s.data());
  EXPECT_EQ(s[1], 1.0f);
  for (int64_t r : {0, 2}) {
    float absmax = 0;
    for (int64_t k = 0; k < K; ++k) absmax = std::max(absmax, std::fabs(a[r * K + k]));
    EXPECT_EQ(s[r], absmax / 448.0f);
    float qmax = 0;
    for (int64_t k = 0; k < K; ++k) {
      EXPECT_EQ(q[r * K + k], f8e4m3_to_float(float_to_f8e4m3(a[r * K + k] / s[r], true)));
      qmax = std::max(qmax, std::fabs(q[r * K + k]));
    }
    EXPECT_EQ(qmax, 448.0f);  // the largest element lands on the top code
  }
  for (int64_t k = 0; k < K; ++k) EXPECT_EQ(q[K + k], 0.0f);
}

}  // namespace
}  // namespace vdrt::test
