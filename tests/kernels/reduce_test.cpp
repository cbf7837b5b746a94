// Reduce* ops against a float64 reference that visits every element and
// adds it to its output, for all axis subsets of a 4-D tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "math_test_util.h"

namespace vdrt::test {
namespace {

struct RefOp {
  const char* name;
  double init;
  std::function<double(double, double)> step;
  std::function<double(double, int64_t)> finish;
};

const RefOp kOps[] = {
    {"ReduceSum", 0, [](double a, double x) { return a + x; }, [](double a, int64_t) { return a; }},
    {"ReduceMean", 0, [](double a, double x) { return a + x; }, [](double a, int64_t n) { return a / double(n); }},
    {"ReduceMax", -INFINITY, [](double a, double x) { return std::max(a, x); }, [](double a, int64_t) { return a; }},
    {"ReduceMin", INFINITY, [](double a, double x) { return std::min(a, x); }, [](double a, int64_t) { return a; }},
    {"ReduceProd", 1, [](double a, double x) { return a * x; }, [](double a, int64_t) { return a; }},
    {"ReduceSumSquare", 0, [](double a, double x) { return a + x * x; }, [](double a, int64_t) { return a; }},
    {"ReduceL1", 0, [](double a, double x) { return a + std::fabs(x); }, [](double a, int64_t) { return a; }},
    {"ReduceL2", 0, [](double a, double x) { return a + x * x; }, [](double a, int64_t) { return std::sqrt(a); }},
    {"ReduceLogSum", 0, [](double a, double x) { return a + x; }, [](double a, int64_t) { return std::log(a); }},
    {"ReduceLogSumExp", 0, [](double a, double x) { return a + std::exp(x); }, [](double a, int64_t) { return std::log(a); }},
};

std::vector<double> ref_reduce(const Tensor& x, const std::vector<bool>& red, const RefOp& op) {
  const auto& d = x.dims();
  std::vector<int64_t> od;
  int64_t count = 1;
  for (size_t i = 0; i < d.size(); ++i) {
    od.push_back(red[i] ? 1 : d[i]);
    if (red[i]) count *= d[i];
  }
  std::vector<double> acc(static_cast<size_t>(numel(od)), op.init);
  auto v = x.as_double();
  for (int64_t i = 0; i < x.numel(); ++i) {
    auto c = unravel(i, d);
    for (size_t k = 0; k < c.size(); ++k)
      if (red[k]) c[k] = 0;
    int64_t o = 0;
    for (size_t k = 0; k < c.size(); ++k) o = o * od[k] + c[k];
    acc[o] = op.step(acc[o], v[i]);
  }
  for (auto& a : acc) a = op.finish(a, count);
  return acc;
}

TEST(Reduce, AllAxisSubsetsKeepdimsAndOpsetForms) {
  Tensor x = random_tensor({3, 4, 5, 6}, 1, 0.5f, 1.5f);  // positive: LogSum, Prod stay tame
  for (const RefOp& op : kOps)
    for (int mask = 0; mask < 16; ++mask)
      for (int keep = 0; keep < 2; ++keep) {
        std::vector<int64_t> axes;
        std::vector<bool> red(4);
        for (int a = 0; a < 4; ++a)
          if (mask & (1 << a)) axes.push_back(a - (a % 2 ? 4 : 0)), red[a] = true;  // mix negative axes in
        if (axes.empty()) red.assign(4, true);  // no axes = all axes
        std::vector<int64_t> out_dims;
        for (int a = 0; a < 4; ++a)
          if (!red[a]) out_dims.push_back(x.dims()[a]);
          else if (keep) out_dims.push_back(1);
        auto ref = ref_reduce(x, red, op);
        double scale = 1;
        for (double r : ref) scale = std::max(scale, std::fabs(r));
        const double tol = (std::string(op.name) == "ReduceProd" ? 1e-5 : 2e-6) * scale;
        // Opset 18: axes as an input.
        OpCall call{op.name, "", 18};
        call.attrs.set("keepdims", int64_t{keep});
        Tensor y = run_op1(call, {x, Tensor::from_vector<int64_t>({int64_t(axes.size())}, axes)});
        EXPECT_EQ(y.dims(), out_dims) << op.name << " mask " << mask;
        EXPECT_LT(max_error(y, ref), tol) << op.name << " mask " << mask << " keep " << keep;
        // Opset 13 (attribute) for all but ReduceSum, which took the input from 13.
        if (std::string(op.name) != "ReduceSum") {
          OpCall old{op.name, "", 13};
          old.attrs.set("keepdims", int64_t{keep});
          if (!axes.empty()) old.attrs.set("axes", axes);
          EXPECT_LT(max_error(run_op1(old, {x}), ref), tol) << op.name << " attr mask " << mask;
        }
      }
}

TEST(Reduce, NoopWithEmptyAxesKeepsEveryElement) {
  Tensor x = random_tensor({2, 3}, 2, 0.5f, 2.0f);
  OpCall call{"ReduceSum", "", 18};
  call.attrs.set("noop_with_empty_axes", int64_t{1});
  Tensor y = run_op1(call, {x, Tensor::from_vector<int64_t>({0}, {})});
  EXPECT_EQ(y.dims(), x.dims());
  EXPECT_LT(max_error(y, x.as_double()), 1e-7);
  call.op = "ReduceSumSquare";  // still squares each element
  std::vector<double> sq;
  for (double v : x.as_double()) sq.push_back(v * v);
  EXPECT_LT(max_error(run_op1(call, {x}), sq), 1e-6);
}

TEST(Reduce, EmptySetsGiveTheIdentity) {
  Tensor x(DType::F32, {2, 0, 4});
  auto reduce = [&](const char* op) {
    OpCall call{op, "", 18};
    return run_op1(call, {x, Tensor::from_vector<int64_t>({1}, {1})});
  };
  EXPECT_EQ(reduce("ReduceSum").dims(), (std::vector<int64_t>{2, 1, 4}));
  EXPECT_EQ(reduce("ReduceSum").as_double()[0], 0.0);
  EXPECT_EQ(reduce("ReduceProd").as_double()[0], 1.0);
  EXPECT_EQ(reduce("ReduceMax").as_double()[0], -INFINITY);
  EXPECT_EQ(reduce("ReduceMin").as_double()[0], INFINITY);
  EXPECT_EQ(reduce("ReduceLogSumExp").as_double()[0], -INFINITY);
}

TEST(Reduce, IntegerBoolAndLargeInputs) {
  Tensor xi = Tensor::from_vector<int32_t>({2, 3}, {1, 5, -2, 7, 0, 3});
  OpCall call{"ReduceMax", "", 18};
  call.attrs.set("keepdims", int64_t{0});
  EXPECT_EQ(run_op1(call, {xi, Tensor::from_vector<int64_t>({1}, {1})}).as_int64(), (std::vector<int64_t>{5, 7}));
  call.op = "ReduceSum";
  EXPECT_EQ(run_op1(call, {xi, Tensor::from_vector<int64_t>({1}, {0})}).as_int64(), (std::vector<int64_t>{8, 5, 1}));
  Tensor xb = Tensor::from_vector<bool>({2, 2}, {true, false, false, false});
  call.op = "ReduceMax";
  EXPECT_EQ(run_op1(call, {xb, Tensor::from_vector<int64_t>({1}, {1})}).as_int64(), (std::vector<int64_t>{1, 0}));
  // Big enough for several threads along both loop shapes.
  Tensor big = random_tensor({64, 3000}, 3);
  for (int64_t axis : {0, 1}) {
    std::vector<bool> red{axis == 0, axis == 1};
    OpCall mean{"ReduceMean", "", 18};
    EXPECT_LT(max_error(run_op1(mean, {big, Tensor::from_vector<int64_t>({1}, {axis})}), ref_reduce(big, red, kOps[1])), 1e-6);
  }
}

TEST(Reduce, NanPropagatesThroughMax) {
  Tensor x = Tensor::from_vector<float>({1, 20}, std::vector<float>(20, 1.0f));
  x.data<float>()[7] = NAN;
  OpCall call{"ReduceMax", "", 18};
  EXPECT_TRUE(std::isnan(run_op1(call, {x}).as_double()[0]));
}

TEST(Reduce, ShapeErrors) {
  OpCall call{"ReduceSum", "", 18};
  Tensor x = random_tensor({2, 3}, 1);
  EXPECT_THROW(run_op1(call, {x, Tensor::from_vector<int64_t>({1}, {2})}), Error);
  EXPECT_THROW(run_op1(call, {x, Tensor::from_vector<int64_t>({2}, {1, -1})}), Error);
}

TEST(Reduce, UnknownAxesGiveUnknownDims) {
  Graph g;
  Node* n = g.add_node("ReduceMean", {g.value("x"), g.value("axes")}, {g.value("y")});
  std::vector<ValueInfo> ins{{DType::F32, Shape({Dim::symbol("B"), Dim(8)}), nullptr, true},
                             {DType::I64, Shape({Dim(1)}), nullptr, true}};
  EXPECT_EQ(infer_node(*n, ins, 18)[0].shape.str(), "[?, ?]");
  Tensor axes = Tensor::from_vector<int64_t>({1}, {-1});
  ins[1].value = &axes;
  EXPECT_EQ(infer_node(*n, ins, 18)[0].shape.str(), "[B, 1]");
}

}  // namespace
}  // namespace vdrt::test
