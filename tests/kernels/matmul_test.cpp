// MatMul and Gemm against naive float64 references.
#include <gtest/gtest.h>

#include "math_test_util.h"

namespace vdrt::test {
namespace {

// numpy.matmul in double, written with explicit loops.
std::vector<double> ref_matmul(const Tensor& a, const Tensor& b, std::vector<int64_t>* out_dims) {
  auto ad = a.dims(), bd = b.dims();
  const bool a1 = ad.size() == 1, b1 = bd.size() == 1;
  if (a1) ad.insert(ad.begin(), 1);
  if (b1) bd.push_back(1);
  const int64_t M = ad[ad.size() - 2], K = ad.back(), N = bd.back();
  std::vector<int64_t> ab(ad.begin(), ad.end() - 2), bb(bd.begin(), bd.end() - 2);
  auto ob = broadcast_dims(ab, bb);
  auto av = a.as_double(), bv = b.as_double();
  std::vector<double> out;
  for (int64_t t = 0; t < numel(ob); ++t) {
    auto c = unravel(t, ob);
    const int64_t oa = broadcast_index(ab, c) * M * K, obb = broadcast_index(bb, c) * K * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += av[oa + i * K + k] * bv[obb + k * N + j];
        out.push_back(s);
      }
  }
  *out_dims = ob;
  if (!a1) out_dims->push_back(M);
  if (!b1) out_dims->push_back(N);
  return out;
}

struct MatMulCase {
  std::vector<int64_t> a, b;
};

class MatMulShapes : public ::testing::TestWithParam<MatMulCase> {};

TEST_P(MatMulShapes, MatchesReference) {
  Tensor a = random_tensor(GetParam().a, 1), b = random_tensor(GetParam().b, 2);
  std::vector<int64_t> dims;
  auto ref = ref_matmul(a, b, &dims);
  Tensor y = run_op1({"MatMul"}, {a, b});
  EXPECT_EQ(y.dims(), dims);
  EXPECT_LT(max_error(y, ref), 2e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MatMulShapes,
    ::testing::Values(MatMulCase{{3, 4}, {4, 5}}, MatMulCase{{4}, {4, 5}}, MatMulCase{{3, 4}, {4}},
                      MatMulCase{{4}, {4}}, MatMulCase{{2, 3, 4}, {4, 5}}, MatMulCase{{2, 3, 4}, {2, 4, 5}},
                      MatMulCase{{2, 1, 3, 4}, {5, 4, 6}}, MatMulCase{{3, 4}, {7, 4, 2}}, MatMulCase{{4}, {3, 4, 2}},
                      MatMulCase{{2, 3, 4}, {4}}, MatMulCase{{1, 64, 96}, {1, 96, 80}},
                      MatMulCase{{4, 100, 200}, {200, 150}}, MatMulCase{{6, 64, 32}, {6, 32, 64}},
                      MatMulCase{{2, 0, 4}, {4, 3}}));

TEST(MatMul, IntegerAndDoubleInputs) {
  Tensor a = Tensor::from_vector<int64_t>({2, 3}, {1, -2, 3, 4, 5, -6});
  Tensor b = Tensor::from_vector<int64_t>({3, 2}, {7, 8, 9, 10, -11, 12});
  EXPECT_EQ(run_op1({"MatMul"}, {a, b}).as_int64(), (std::vector<int64_t>{-44, 24, 139, 10}));
  Tensor ad = random_tensor({2, 4, 5}, 3).to(DType::F64), bd = random_tensor({5, 3}, 4).to(DType::F64);
  std::vector<int64_t> dims;
  auto ref = ref_matmul(ad, bd, &dims);
  Tensor y = run_op1({"MatMul"}, {ad, bd});
  EXPECT_EQ(y.dtype(), DType::F64);
  EXPECT_LT(max_error(y, ref), 1e-12);
}

TEST(MatMul, ShapeErrors) {
  EXPECT_THROW(run_op1({"MatMul"}, {random_tensor({3, 4}, 1), random_tensor({5, 6}, 2)}), Error);
  EXPECT_THROW(run_op1({"MatMul"}, {random_tensor({2, 3, 4}, 1), random_tensor({3, 4, 6}, 2)}), Error);
  EXPECT_THROW(run_op1({"MatMul"}, {Tensor::scalar(1.0f), random_tensor({3}, 2)}), Error);
}

TEST(MatMul, SymbolicShape) {
  Graph g;
  Node* n = g.add_node("MatMul", {g.value("a"), g.value("b")}, {g.value("y")});
  std::vector<ValueInfo> ins{{DType::F32, Shape({Dim::symbol("B"), Dim::symbol("S"), Dim(64)}), nullptr, true},
                             {DType::F32, Shape({Dim(64), Dim(128)}), nullptr, true}};
  EXPECT_EQ(infer_node(*n, ins, 17)[0].shape.str(), "[B, S, 128]");
}

struct GemmOpCase {
  int64_t M, N, K;
  bool ta, tb;
  float alpha, beta;
  std::vector<int64_t> c;  // empty dims with has_c=false means no C
  bool has_c;
};

class GemmOp : public ::testing::TestWithParam<GemmOpCase> {};

TEST_P(GemmOp, MatchesReference) {
  const auto& p = GetParam();
  Tensor a = random_tensor(p.ta ? std::vector<int64_t>{p.K, p.M} : std::vector<int64_t>{p.M, p.K}, 1);
  Tensor b = random_tensor(p.tb ? std::vector<int64_t>{p.N, p.K} : std::vector<int64_t>{p.K, p.N}, 2);
  Tensor c = p.has_c ? random_tensor(p.c, 3) : Tensor();
  OpCall call{"Gemm"};
  call.attrs.set("transA", int64_t{p.ta});
  call.attrs.set("transB", int64_t{p.tb});
  call.attrs.set("alpha", p.alpha);
  call.attrs.set("beta", p.beta);
  std::vector<Tensor> ins{a, b};
  if (p.has_c) ins.push_back(c);
  Tensor y = run_op1(call, ins);
  auto av = a.as_double(), bv = b.as_double();
  std::vector<double> cv = p.has_c ? c.as_double() : std::vector<double>{};
  std::vector<double> ref;
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < p.K; ++k) s += av[p.ta ? k * p.M + i : i * p.K + k] * bv[p.tb ? j * p.K + k : k * p.N + j];
      double r = p.alpha * s;
      if (p.has_c) r += p.beta * cv[broadcast_index(p.c, {i, j})];
      ref.push_back(r);
    }
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{p.M, p.N}));
  EXPECT_LT(max_error(y, ref), 2e-5);
}

INSTANTIATE_TEST_SUITE_P(Cases, GemmOp,
                         ::testing::Values(GemmOpCase{3, 5, 4, false, false, 1, 1, {}, false},
                                           GemmOpCase{3, 5, 4, true, false, 0.5f, 2, {3, 5}, true},
                                           GemmOpCase{3, 5, 4, false, true, 1, 1, {5}, true},
                                           GemmOpCase{3, 5, 4, true, true, 1, 0.3f, {3, 1}, true},
                                           GemmOpCase{3, 5, 4, false, false, 1, 1, {}, true},
                                           GemmOpCase{3, 5, 4, false, false, 2, 0, {3, 5}, true},
                                           GemmOpCase{70, 90, 130, false, true, 1, 1, {90}, true}));

TEST(GemmOp, ShapeErrors) {
  EXPECT_THROW(run_op1({"Gemm"}, {random_tensor({3, 4}, 1), random_tensor({5, 6}, 2)}), Error);
  EXPECT_THROW(run_op1({"Gemm"}, {random_tensor({3, 4}, 1), random_tensor({4, 6}, 2), random_tensor({4}, 3)}), Error);
  EXPECT_THROW(run_op1({"Gemm"}, {random_tensor({2, 3, 4}, 1), random_tensor({4, 6}, 2)}), Error);
}

}  // namespace
}  // namespace vdrt::test
