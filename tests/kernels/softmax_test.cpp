// Softmax, LogSoftmax and Hardmax against float64 references, for every axis
// and both the opset-13 (single axis) and the older (coerce to 2-D) semantics.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "math_test_util.h"

namespace vdrt::test {
namespace {

// Reference over [outer, len, inner] groups.
std::vector<double> ref_softmax(const Tensor& x, int64_t axis, bool legacy, const std::string& op) {
  const auto& d = x.dims();
  const int64_t rank = static_cast<int64_t>(d.size());
  if (axis < 0) axis += rank;
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= d[i];
  if (legacy) {
    for (int64_t i = axis; i < rank; ++i) len *= d[i];
  } else {
    len = d[axis];
    for (int64_t i = axis + 1; i < rank; ++i) inner *= d[i];
  }
  auto v = x.as_double();
  std::vector<double> out(v.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < inner; ++c) {
      auto at = [&](int64_t l) { return (o * len + l) * inner + c; };
      double m = -INFINITY, s = 0;
      int64_t best = 0;
      for (int64_t l = 0; l < len; ++l) {
        if (v[at(l)] > m) best = l;
        m = std::max(m, v[at(l)]);
      }
      for (int64_t l = 0; l < len; ++l) s += std::exp(v[at(l)] - m);
      for (int64_t l = 0; l < len; ++l) {
        if (op == "Softmax") out[at(l)] = std::exp(v[at(l)] - m) / s;
        else if (op == "LogSoftmax") out[at(l)] = v[at(l)] - m - std::log(s);
        else out[at(l)] = l == best ? 1.0 : 0.0;
      }
    }
  return out;
}

TEST(Softmax, EveryAxisBothSemantics) {
  Tensor x = random_tensor({3, 4, 5, 6}, 1, -5, 5);
  for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"})
    for (int64_t opset : {11, 13})
      for (int64_t axis = -4; axis < 4; ++axis) {
        OpCall call{op, "", opset};
        call.attrs.set("axis", axis);
        Tensor y = run_op1(call, {x});
        EXPECT_LT(max_error(y, ref_softmax(x, axis, opset < 13, op)), 2e-6) << op << " opset " << opset << " axis " << axis;
      }
}

TEST(Softmax, DefaultAxisDependsOnOpset) {
  Tensor x = random_tensor({2, 3, 4}, 2);
  EXPECT_LT(max_error(run_op1({"Softmax", "", 13}, {x}), ref_softmax(x, -1, false, "Softmax")), 1e-6);
  EXPECT_LT(max_error(run_op1({"Softmax", "", 11}, {x}), ref_softmax(x, 1, true, "Softmax")), 1e-6);
}

TEST(Softmax, LargeRowsAndColumnsInParallel) {
  Tensor rows = random_tensor({300, 1000}, 3, -20, 20);
  EXPECT_LT(max_error(run_op1({"Softmax"}, {rows}), ref_softmax(rows, -1, false, "Softmax")), 1e-6);
  OpCall col{"Softmax"};
  col.attrs.set("axis", int64_t{1});
  Tensor cols = random_tensor({2, 50, 3000}, 4, -20, 20);
  EXPECT_LT(max_error(run_op1(col, {cols}), ref_softmax(cols, 1, false, "Softmax")), 1e-6);
}

TEST(Softmax, ExtremeValuesStayFinite) {
  Tensor x = Tensor::from_vector<float>({1, 4}, {1000.0f, -1000.0f, 999.0f, -INFINITY});
  auto y = run_op1({"Softmax"}, {x}).as_double();
  EXPECT_NEAR(y[0], 1 / (1 + std::exp(-1.0)), 1e-6);
  EXPECT_EQ(y[1], 0.0);
  EXPECT_EQ(y[3], 0.0);
  auto l = run_op1({"LogSoftmax"}, {x}).as_double();
  EXPECT_NEAR(l[2], -1 - std::log1p(std::exp(-1.0)), 1e-5);
}

TEST(Softmax, DoubleAndHalfInputs) {
  Tensor x = random_tensor({3, 7}, 5, -4, 4);
  for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) {
    Tensor y = run_op1({op}, {x.to(DType::F64)});
    EXPECT_EQ(y.dtype(), DType::F64);
    EXPECT_LT(max_error(y, ref_softmax(x, -1, false, op)), 1e-12) << op;
    Tensor h = run_op1({op}, {x.to(DType::F16)});
    EXPECT_EQ(h.dtype(), DType::F16);
    EXPECT_LT(max_error(h, ref_softmax(x.to(DType::F16), -1, false, op)), 5e-3) << op;
  }
}

TEST(Softmax, AxisOutOfRangeIsAnError) {
  OpCall call{"Softmax"};
  call.attrs.set("axis", int64_t{3});
  EXPECT_THROW(run_op1(call, {random_tensor({2, 3}, 1)}), Error);
}

}  // namespace
}  // namespace vdrt::test
