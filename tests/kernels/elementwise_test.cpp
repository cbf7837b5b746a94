// Elementwise math ops against float64 references computed here.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "math_test_util.h"
#include "test_util.h"

namespace vdrt::test {
namespace {

// Reference broadcast binary op in double.
std::vector<double> ref_binary(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  const auto out_dims = broadcast_dims(a.dims(), b.dims());
  auto av = a.as_double(), bv = b.as_double();
  std::vector<double> out(static_cast<size_t>(numel(out_dims)));
  for (size_t i = 0; i < out.size(); ++i) {
    auto c = unravel(static_cast<int64_t>(i), out_dims);
    out[i] = f(av[broadcast_index(a.dims(), c)], bv[broadcast_index(b.dims(), c)]);
  }
  return out;
}

struct BroadcastCase {
  std::vector<int64_t> a, b;
};

class BinaryBroadcast : public ::testing::TestWithParam<BroadcastCase> {};

TEST_P(BinaryBroadcast, ArithmeticMatchesReference) {
  const auto& p = GetParam();
  Tensor a = random_tensor(p.a, 1), b = random_tensor(p.b, 2, 0.5f, 2.0f);
  struct Case {
    const char* op;
    std::function<double(double, double)> f;
  } cases[] = {{"Add", [](double x, double y) { return x + y; }},
               {"Sub", [](double x, double y) { return x - y; }},
               {"Mul", [](double x, double y) { return x * y; }},
               {"Div", [](double x, double y) { return x / y; }},
               {"Max", [](double x, double y) { return std::max(x, y); }},
               {"Min", [](double x, double y) { return std::min(x, y); }},
               {"PRelu", [](double x, double y) { return x < 0 ? x * y : x; }}};
  for (const auto& c : cases) {
    if (std::string(c.op) == "PRelu" && broadcast_dims(p.a, p.b) != p.a) continue;
    Tensor out = run_op1({c.op}, {a, b});
    EXPECT_EQ(out.dims(), broadcast_dims(p.a, p.b)) << c.op;
    EXPECT_LT(max_error(out, ref_binary(a, b, c.f)), 1e-6) << c.op;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, BinaryBroadcast,
                         ::testing::Values(BroadcastCase{{3, 4, 5}, {3, 4, 5}}, BroadcastCase{{3, 4, 5}, {}},
                                           BroadcastCase{{}, {3, 4, 5}}, BroadcastCase{{2, 3, 64}, {64}},
                                           BroadcastCase{{2, 3, 4, 5}, {3, 1, 5}}, BroadcastCase{{3, 1, 5}, {1, 4, 1}},
                                           BroadcastCase{{1}, {1}}, BroadcastCase{{5, 1}, {1, 7}},
                                           BroadcastCase{{2, 1, 3, 1}, {1, 4, 1, 5}},
                                           BroadcastCase{{300, 257}, {300, 257}},  // several threads
                                           BroadcastCase{{129, 300}, {129, 1}}, BroadcastCase{{0, 3}, {3}}));

TEST(Elementwise, LargeBiasAddRunsInParallelBlocks) {
  Tensor a = random_tensor({97, 1031}, 3), b = random_tensor({1031}, 4);
  Tensor out = run_op1({"Add"}, {a, b});
  EXPECT_LT(max_error(out, ref_binary(a, b, [](double x, double y) { return x + y; })), 1e-6);
}

TEST(Elementwise, IntegerArithmetic) {
  Tensor a = Tensor::from_vector<int32_t>({6}, {7, -7, 7, -7, 0, 9});
  Tensor b = Tensor::from_vector<int32_t>({6}, {2, 2, -2, -2, 3, 1});
  EXPECT_EQ(run_op1({"Div"}, {a, b}).as_int64(), (std::vector<int64_t>{3, -3, -3, 3, 0, 9}));
  EXPECT_EQ(run_op1({"Add"}, {a, b}).as_int64(), (std::vector<int64_t>{9, -5, 5, -9, 3, 10}));
  OpCall mod{"Mod"};
  EXPECT_EQ(run_op1(mod, {a, b}).as_int64(), (std::vector<int64_t>{1, 1, -1, -1, 0, 0}));
  mod.attrs.set("fmod", int64_t{1});
  EXPECT_EQ(run_op1(mod, {a, b}).as_int64(), (std::vector<int64_t>{1, -1, 1, -1, 0, 0}));
  Tensor i64 = Tensor::from_vector<int64_t>({2}, {INT64_MIN, 5});
  Tensor m1 = Tensor::from_vector<int64_t>({2}, {-1, -1});
  EXPECT_EQ(run_op1({"Div"}, {i64, m1}).as_int64()[1], -5);  // no trap on INT64_MIN / -1
}

TEST(Elementwise, IntegerDivisionByZeroIsAnError) {
  Tensor a = Tensor::from_vector<int32_t>({2}, {1, 2}), z = Tensor::from_vector<int32_t>({2}, {1, 0});
  EXPECT_THROW(run_op1({"Div"}, {a, z}), Error);
  EXPECT_THROW(run_op1({"Mod"}, {a, z}), Error);
}

TEST(Elementwise, FloatModFollowsFmodAttribute) {
  Tensor a = Tensor::from_vector<float>({4}, {5.5f, -5.5f, 5.5f, -5.5f});
  Tensor b = Tensor::from_vector<float>({4}, {2.0f, 2.0f, -2.0f, -2.0f});
  OpCall mod{"Mod"};
  mod.attrs.set("fmod", int64_t{1});
  EXPECT_LT(max_error(run_op1(mod, {a, b}), {1.5, -1.5, 1.5, -1.5}), 1e-7);
  mod.attrs.set("fmod", int64_t{0});
  EXPECT_LT(max_error(run_op1(mod, {a, b}), {1.5, 0.5, -0.5, -1.5}), 1e-7);
}

TEST(Elementwise, PowWithMixedDtypes) {
  Tensor base = Tensor::from_vector<float>({3}, {1.5f, 2.0f, -3.0f});
  Tensor e_int = Tensor::from_vector<int64_t>({3}, {2, 3, 3});
  EXPECT_LT(max_error(run_op1({"Pow"}, {base, e_int}), {2.25, 8.0, -27.0}), 1e-6);
  Tensor ibase = Tensor::from_vector<int32_t>({3}, {2, 3, 4});
  Tensor e_f = Tensor::from_vector<float>({3}, {2.0f, 0.5f, 1.5f});
  Tensor out = run_op1({"Pow"}, {ibase, e_f});
  EXPECT_EQ(out.dtype(), DType::I32);
  EXPECT_EQ(out.as_int64(), (std::vector<int64_t>{4, 1, 8}));
  Tensor x = random_tensor({100}, 5, 0.1f, 3.0f);
  for (float e : {2.0f, 0.5f, 3.0f, 1.0f, 1.7f}) {
    Tensor out2 = run_op1({"Pow"}, {x, Tensor::scalar(e)});
    auto xv = x.as_double();
    std::vector<double> ref;
    for (double v : xv) ref.push_back(std::pow(v, double(e)));
    EXPECT_LT(max_error(out2, ref), 1e-5) << e;
  }
}

TEST(Elementwise, ComparisonsAndLogic) {
  Tensor a = Tensor::from_vector<float>({2, 2}, {1, 2, 3, NAN});
  Tensor b = Tensor::from_vector<float>({2}, {2, 2});
  auto cmp = [&](const char* op) {
    Tensor t = run_op1({op}, {a, b});
    EXPECT_EQ(t.dtype(), DType::Bool);
    return t.as_int64();
  };
  EXPECT_EQ(cmp("Equal"), (std::vector<int64_t>{0, 1, 0, 0}));
  EXPECT_EQ(cmp("Less"), (std::vector<int64_t>{1, 0, 0, 0}));
  EXPECT_EQ(cmp("LessOrEqual"), (std::vector<int64_t>{1, 1, 0, 0}));
  EXPECT_EQ(cmp("Greater"), (std::vector<int64_t>{0, 0, 1, 0}));
  EXPECT_EQ(cmp("GreaterOrEqual"), (std::vector<int64_t>{0, 1, 1, 0}));
  Tensor p = Tensor::from_vector<bool>({4}, {true, true, false, false});
  Tensor q = Tensor::from_vector<bool>({4}, {true, false, true, false});
  EXPECT_EQ(run_op1({"And"}, {p, q}).as_int64(), (std::vector<int64_t>{1, 0, 0, 0}));
  EXPECT_EQ(run_op1({"Or"}, {p, q}).as_int64(), (std::vector<int64_t>{1, 1, 1, 0}));
  EXPECT_EQ(run_op1({"Xor"}, {p, q}).as_int64(), (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(run_op1({"Not"}, {p}).as_int64(), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(run_op1({"Equal"}, {p, q}).as_int64(), (std::vector<int64_t>{1, 0, 0, 1}));
}

TEST(Elementwise, VariadicSumMeanMaxMin) {
  Tensor a = random_tensor({2, 3}, 7), b = random_tensor({3}, 8), c = random_tensor({2, 1}, 9);
  auto av = a.as_double(), bv = b.as_double(), cv = c.as_double();
  std::vector<double> sum(6), mx(6);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      double x = av[i * 3 + j], y = bv[j], z = cv[i];
      sum[i * 3 + j] = x + y + z;
      mx[i * 3 + j] = std::max({x, y, z});
    }
  EXPECT_LT(max_error(run_op1({"Sum"}, {a, b, c}), sum), 1e-6);
  EXPECT_LT(max_error(run_op1({"Max"}, {a, b, c}), mx), 1e-7);
  std::vector<double> mean = sum;
  for (auto& v : mean) v /= 3;
  EXPECT_LT(max_error(run_op1({"Mean"}, {a, b, c}), mean), 1e-6);
  EXPECT_LT(max_error(run_op1({"Min"}, {a}), av), 0.0 + 1e-12);
  // Max propagates NaN like numpy.maximum.
  Tensor n = Tensor::from_vector<float>({2}, {NAN, 1.0f}), m = Tensor::from_vector<float>({2}, {0.0f, NAN});
  auto r = run_op1({"Max"}, {n, m}).as_double();
  EXPECT_TRUE(std::isnan(r[0]) && std::isnan(r[1]));
}

TEST(Elementwise, HalfFloatInputsComputeInF32) {
  Tensor a = Tensor::from_vector<float>({3}, {1.0f, -2.5f, 3.25f}).to(DType::F16);
  Tensor b = Tensor::from_vector<float>({3}, {0.5f, 4.0f, -1.0f}).to(DType::F16);
  Tensor out = run_op1({"Max"}, {a, b});
  EXPECT_EQ(out.dtype(), DType::F16);
  EXPECT_LT(max_error(out, {1.0, 4.0, 3.25}), 1e-6);
}

TEST(Elementwise, ShapeErrors) {
  EXPECT_THROW(run_op1({"Add"}, {random_tensor({3, 4}, 1), random_tensor({5}, 2)}), Error);
  EXPECT_THROW(run_op1({"Add"}, {random_tensor({3}, 1), Tensor::from_vector<int32_t>({3}, {1, 2, 3})}), Error);
  EXPECT_THROW(run_op1({"PRelu"}, {random_tensor({3}, 1), random_tensor({2, 3}, 2)}), Error);
  EXPECT_THROW(run_op1({"And"}, {random_tensor({3}, 1), random_tensor({3}, 2)}), Error);
}

TEST(Elementwise, SymbolicBroadcastShape) {
  Graph g;
  Value *a = g.value("a"), *b = g.value("b"), *y = g.value("y");
  Node* n = g.add_node("Add", {a, b}, {y});
  std::vector<ValueInfo> ins{{DType::F32, Shape({Dim::symbol("B"), Dim(1), Dim(64)}), nullptr, true},
                             {DType::F32, Shape({Dim(7), Dim(64)}), nullptr, true}};
  auto outs = infer_node(*n, ins, 17);
  EXPECT_EQ(outs[0].shape.str(), "[B, 7, 64]");
  EXPECT_EQ(outs[0].dtype, DType::F32);
}

// Unary ops against libm in double.
struct UnaryCase {
  const char* op;
  std::function<double(double)> f;
  float lo, hi;
  double tol;
};

TEST(Elementwise, UnaryOpsMatchLibm) {
  const double kSqrt2OverPi = std::sqrt(2.0 / M_PI);
  UnaryCase cases[] = {
      {"Abs", [](double v) { return std::fabs(v); }, -3, 3, 0},
      {"Neg", [](double v) { return -v; }, -3, 3, 0},
      {"Sqrt", [](double v) { return std::sqrt(v); }, 0, 9, 1e-6},
      {"Reciprocal", [](double v) { return 1 / v; }, 0.5, 3, 1e-6},
      {"Exp", [](double v) { return std::exp(v); }, -20, 20, 1e-7 * std::exp(20.0)},
      {"Log", [](double v) { return std::log(v); }, 0.01, 9, 1e-6},
      {"Cos", [](double v) { return std::cos(v); }, -6, 6, 1e-6},
      {"Sin", [](double v) { return std::sin(v); }, -6, 6, 1e-6},
      {"Tanh", [](double v) { return std::tanh(v); }, -6, 6, 3e-7},
      {"Sigmoid", [](double v) { return 1 / (1 + std::exp(-v)); }, -20, 20, 3e-7},
      {"Erf", [](double v) { return std::erf(v); }, -4, 4, 5e-7},
      {"Relu", [](double v) { return v < 0 ? 0 : v; }, -3, 3, 0},
      {"Floor", [](double v) { return std::floor(v); }, -3, 3, 0},
      {"Ceil", [](double v) { return std::ceil(v); }, -3, 3, 0},
      {"Round", [](double v) { return std::nearbyint(v); }, -3, 3, 0},
      {"Sign", [](double v) { return double((v > 0) - (v < 0)); }, -3, 3, 0},
      {"Softplus", [](double v) { return std::log1p(std::exp(v)); }, -20, 20, 2e-6},
      {"Softsign", [](double v) { return v / (1 + std::fabs(v)); }, -3, 3, 1e-6},
      {"HardSwish", [](double v) { return v * std::clamp(v / 6 + 0.5, 0.0, 1.0); }, -5, 5, 1e-6},
      {"Mish", [](double v) { return v * std::tanh(std::log1p(std::exp(v))); }, -5, 5, 1e-6},
      {"Gelu", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }, -5, 5, 1e-6},
      {"Elu", [](double v) { return v < 0 ? std::expm1(v) : v; }, -3, 3, 1e-6},
      {"LeakyRelu", [](double v) { return v < 0 ? 0.01 * v : v; }, -3, 3, 1e-7},
      {"Selu", [](double v) { return v <= 0 ? 1.0507009873554805 * 1.6732632423543772 * std::expm1(v) : 1.0507009873554805 * v; }, -3, 3, 1e-6},
      {"HardSigmoid", [](double v) { return std::clamp(0.2 * v + 0.5, 0.0, 1.0); }, -4, 4, 1e-7},
  };
  for (const auto& c : cases) {
    Tensor x = random_tensor({40000}, 11, c.lo, c.hi);  // big enough for several tbb blocks
    std::vector<double> ref;
    for (double v : x.as_double()) ref.push_back(c.f(v));
    EXPECT_LE(max_error(run_op1({c.op}, {x}), ref), c.tol + 1e-12) << c.op;
    Tensor xd = x.to(DType::F64);
    EXPECT_LE(max_error(run_op1({c.op}, {xd}), ref), c.tol + 1e-12) << c.op << " f64";
  }
  OpCall gelu_tanh{"Gelu"};
  gelu_tanh.attrs.set("approximate", std::string("tanh"));
  Tensor x = random_tensor({1000}, 12, -6, 6);
  std::vector<double> ref;
  for (double v : x.as_double()) ref.push_back(0.5 * v * (1 + std::tanh(kSqrt2OverPi * (v + 0.044715 * v * v * v))));
  EXPECT_LT(max_error(run_op1(gelu_tanh, {x}), ref), 2e-6);
  gelu_tanh.attrs.set("approximate", std::string("fast"));
  EXPECT_THROW(run_op1(gelu_tanh, {x}), Error);
}

TEST(Elementwise, SpecialValuesOfApproximations) {
  Tensor x = Tensor::from_vector<float>({5}, {INFINITY, -INFINITY, NAN, 100.0f, -100.0f});
  auto e = run_op1({"Exp"}, {x}).as_double();
  EXPECT_TRUE(std::isinf(e[0]) && e[1] == 0 && std::isnan(e[2]) && std::isinf(e[3]) && e[4] == 0);
  auto t = run_op1({"Tanh"}, {x}).as_double();
  EXPECT_TRUE(t[0] == 1 && t[1] == -1 && std::isnan(t[2]) && t[3] == 1 && t[4] == -1);
  auto s = run_op1({"Sigmoid"}, {x}).as_double();
  EXPECT_TRUE(s[0] == 1 && s[1] == 0 && std::isnan(s[2]));
}

TEST(Elementwise, ClipAttributesAndInputs) {
  Tensor x = Tensor::from_vector<float>({5}, {-2, -0.5f, 0, 0.5f, 2});
  EXPECT_LT(max_error(run_op1({"Clip"}, {x, Tensor::scalar(-1.0f), Tensor::scalar(1.0f)}), {-1, -0.5, 0, 0.5, 1}), 1e-7);
  EXPECT_LT(max_error(run_op1({"Clip"}, {x, Tensor(), Tensor::scalar(0.2f)}), {-2, -0.5, 0, 0.2, 0.2}), 1e-7);
  OpCall old{"Clip", "", 6};
  old.attrs.set("min", -0.4f);
  EXPECT_LT(max_error(run_op1(old, {x}), {-0.4, -0.4, 0, 0.5, 2}), 1e-7);
  Tensor xi = Tensor::from_vector<int8_t>({3}, {-100, 5, 100});
  EXPECT_EQ(run_op1({"Clip"}, {xi, Tensor::scalar<int8_t>(-10), Tensor::scalar<int8_t>(10)}).as_int64(),
            (std::vector<int64_t>{-10, 5, 10}));
  EXPECT_THROW(run_op1({"Clip"}, {x, Tensor::from_vector<float>({2}, {0, 1})}), Error);
}

TEST(Elementwise, IntegerUnaryAndBitwise) {
  Tensor x = Tensor::from_vector<int32_t>({4}, {-3, 0, 2, -1});
  EXPECT_EQ(run_op1({"Abs"}, {x}).as_int64(), (std::vector<int64_t>{3, 0, 2, 1}));
  EXPECT_EQ(run_op1({"Neg"}, {x}).as_int64(), (std::vector<int64_t>{3, 0, -2, 1}));
  EXPECT_EQ(run_op1({"Sign"}, {x}).as_int64(), (std::vector<int64_t>{-1, 0, 1, -1}));
  EXPECT_EQ(run_op1({"Relu"}, {x}).as_int64(), (std::vector<int64_t>{0, 0, 2, 0}));
  EXPECT_EQ(run_op1({"BitwiseNot"}, {x}).as_int64(), (std::vector<int64_t>{2, -1, -3, 0}));
  EXPECT_EQ(run_op1({"BitwiseAnd"}, {x, Tensor::scalar<int32_t>(6)}).as_int64(), (std::vector<int64_t>{4, 0, 2, 6}));
}

}  // namespace
}  // namespace vdrt::test
