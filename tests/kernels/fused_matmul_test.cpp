// vdrt.FusedMatMul and the GEMM epilogue under it: against a float64
// reference of act(X W + bias) + residual for every micro-kernel (tiles cut
// at the edges, several K blocks, outputs split inside a tile), and the op
// against the unfused MatMul -> Add -> Gelu -> Add chain run through the
// CPU kernels of those ops.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_microkernel.h"
#include "math_test_util.h"

namespace vdrt::test {
namespace {

using cpu::GemmActivation;

double gelu_ref(double v, GemmActivation act) {
  if (act == GemmActivation::Gelu) return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
  if (act == GemmActivation::GeluTanh)
    return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
  return v;
}

struct EpilogueCase {
  int64_t M, N, K;
  std::vector<int64_t> split;  // empty: one output
  bool bias, residual;
  GemmActivation act;
};

void check_epilogue(const EpilogueCase& c, const cpu::GemmMicroKernel* mk, bool parallel) {
  auto A = random_floats(c.M * c.K, 11), B = random_floats(c.K * c.N, 12);
  auto bias = random_floats(c.N, 13), res = random_floats(c.M * c.N, 14);
  std::vector<int64_t> split = c.split.empty() ? std::vector<int64_t>{c.N} : c.split;
  // Each output padded by 3 columns that must stay untouched.
  std::vector<std::vector<float>> outs;
  std::vector<cpu::GemmColumns> cols;
  int64_t begin = 0;
  for (int64_t w : split) {
    outs.emplace_back(c.M * (w + 3), 7.0f);
    cols.push_back({begin, w, nullptr, w + 3});
    begin += w;
  }
  for (size_t s = 0; s < outs.size(); ++s) cols[s].c = outs[s].data();
  cpu::GemmEpilogue e;
  e.bias = c.bias ? bias.data() : nullptr;
  e.activation = c.act;
  e.residual = c.residual ? res.data() : nullptr;
  e.residual_ld = c.N;
  cpu::GemmOptions o;
  o.kernel = mk;
  o.parallel = parallel;
  cpu::gemm_f32_epilogue(c.M, c.N, c.K, A.data(), c.K, 1, B.data(), c.N, 1, cols, e, o);

  double err = 0;
  for (size_t s = 0; s < outs.size(); ++s)
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < cols[s].ldc; ++j) {
        const float got = outs[s][i * cols[s].ldc + j];
        if (j >= cols[s].width) {
          ASSERT_EQ(got, 7.0f) << "wrote outside output " << s << " at row " << i << " column " << j;
          continue;
        }
        const int64_t col = cols[s].begin + j;
        double v = 0;
        for (int64_t k = 0; k < c.K; ++k) v += double(A[i * c.K + k]) * B[k * c.N + col];
        if (c.bias) v += bias[col];
        v = gelu_ref(v, c.act);
        if (c.residual) v += res[i * c.N + col];
        err = std::max(err, std::fabs(got - v));
      }
  EXPECT_LT(err, 2e-5 * std::sqrt(double(c.K) + 1))
      << mk->isa << " M=" << c.M << " N=" << c.N << " K=" << c.K << " outputs=" << split.size()
      << " parallel=" << parallel;
}

TEST(GemmEpilogue, MatchesFloat64ReferenceForEveryMicroKernel) {
  const GemmActivation none = GemmActivation::None, gelu = GemmActivation::Gelu, tanh = GemmActivation::GeluTanh;
  const EpilogueCase cases[] = {
      {48, 192, 64, {64, 64, 64}, true, false, none},    // the tiny model's fused Q/K/V
      {15, 33, 257, {}, true, true, tanh},               // partial tiles everywhere
      {37, 100, 700, {13, 50, 37}, true, false, gelu},   // splits inside tiles, two K blocks
      {200, 96, 1100, {48, 48}, false, true, none},      // three K blocks, residual only
      {29, 3100, 64, {1000, 2100}, true, false, tanh},   // two column blocks of B
      {1, 77, 50, {7, 70}, true, true, gelu},            // row vector
      {77, 1, 50, {}, true, true, tanh},                 // column vector
      {9, 5, 0, {2, 3}, true, true, gelu},               // empty sums: act(bias) + residual
  };
  for (const cpu::GemmMicroKernel* mk : cpu::available_gemm_microkernels())
    for (const auto& c : cases)
      for (bool parallel : {false, true}) check_epilogue(c, mk, parallel);
}

// The fused op against the ops it replaces, each run by its own CPU kernel.
std::vector<Tensor> unfused(const Tensor& x, const Tensor& w, const Tensor& bias, const std::string& gelu,
                            const Tensor& residual) {
  Tensor y = run_op1({"MatMul"}, {x, w});
  if (bias.defined()) y = run_op1({"Add"}, {y, bias});
  if (!gelu.empty()) {
    OpCall g{"Gelu"};
    g.opset = 20;
    g.attrs.set("approximate", gelu);
    y = run_op1(g, {y});
  }
  if (residual.defined()) y = run_op1({"Add"}, {residual, y});
  return {y};
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dims(), b.dims());
  auto x = a.as_double(), y = b.as_double();
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

TEST(FusedMatMul, EqualsTheUnfusedChain) {
  const Tensor x = random_tensor({2, 45, 96}, 21), w = random_tensor({96, 160}, 22);
  const Tensor bias = random_tensor({160}, 23), residual = random_tensor({2, 45, 160}, 24);
  struct Form {
    bool bias;
    std::string act;  // "" none, else Gelu's approximate
    bool residual;
  };
  for (const Form& f : {Form{true, "", false}, Form{true, "tanh", false}, Form{true, "none", false},
                        Form{true, "", true}, Form{false, "tanh", true}, Form{false, "", false}}) {
    OpCall call{"FusedMatMul", "vdrt"};
    if (!f.act.empty()) call.attrs.set("activation", std::string(f.act == "tanh" ? "gelu_tanh" : "gelu"));
    const Tensor got = run_op1(call, {x, w, f.bias ? bias : Tensor(), f.residual ? residual : Tensor()});
    const Tensor want = unfused(x, w, f.bias ? bias : Tensor(), f.act, f.residual ? residual : Tensor())[0];
    // Same products in the same order; the activation may differ by an ulp
    // where the compiler contracted differently.
    EXPECT_LT(max_abs_diff(got, want), 1e-6) << "bias " << f.bias << " act '" << f.act << "' residual " << f.residual;
  }
}

TEST(FusedMatMul, SplitOutputsAreTheColumnsOfTheProduct) {
  const Tensor x = random_tensor({3, 16, 64}, 31), w = random_tensor({64, 192}, 32), bias = random_tensor({192}, 33);
  OpCall call{"FusedMatMul", "vdrt"};
  call.num_outputs = 3;
  call.attrs.set("split", std::vector<int64_t>{64, 100, 28});
  const std::vector<Tensor> got = run_op(call, {x, w, bias});
  OpCall split{"Split"};
  split.num_outputs = 3;
  split.attrs.set("axis", int64_t{-1});
  const Tensor whole = unfused(x, w, bias, "", Tensor())[0];
  const std::vector<Tensor> want = run_op(split, {whole, Tensor::from_vector<int64_t>({3}, {64, 100, 28})});
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].dims(), (std::vector<int64_t>{3, 16, std::vector<int64_t>{64, 100, 28}[i]}));
    EXPECT_EQ(max_abs_diff(got[i], want[i]), 0.0) << "output " << i;
  }
}

TEST(FusedMatMul, ShapeInferenceRefusesMismatches) {
  const Tensor x = random_tensor({4, 8}, 41), w = random_tensor({8, 6}, 42);
  OpCall call{"FusedMatMul", "vdrt"};
  EXPECT_THROW(run_op1(call, {x, random_tensor({7, 6}, 43)}), Error);                // inner dims
  EXPECT_THROW(run_op1(call, {x, w, random_tensor({5}, 44)}), Error);                // bias length
  EXPECT_THROW(run_op1(call, {x, w, Tensor(), random_tensor({4, 5}, 45)}), Error);   // residual shape
  call.attrs.set("activation", std::string("relu"));
  EXPECT_THROW(run_op1(call, {x, w}), Error);
  OpCall split{"FusedMatMul", "vdrt"};
  split.num_outputs = 2;
  split.attrs.set("split", std::vector<int64_t>{2, 3});  // 5 of 6 columns
  EXPECT_THROW(run_op(split, {x, w}), Error);
}

}  // namespace
}  // namespace vdrt::test
