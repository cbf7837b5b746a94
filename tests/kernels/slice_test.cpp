// Slice against a reference that applies the ONNX clamping rules written out
// independently here, over random starts/ends/steps including negative ones.
#include <random>

#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

// Python-style slice indices of one axis, following the ONNX text.
std::vector<int64_t> ref_indices(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  std::vector<int64_t> out;
  if (step > 0) {
    start = std::max<int64_t>(0, std::min(start, dim));
    end = std::max<int64_t>(0, std::min(end, dim));
    for (int64_t i = start; i < end; i += step) out.push_back(i);
  } else {
    start = std::max<int64_t>(0, std::min(start, dim - 1));
    end = std::max<int64_t>(-1, std::min(end, dim - 1));
    for (int64_t i = start; i > end; i += step) out.push_back(i);
  }
  return out;
}

TEST(Slice, RandomArgumentsMatchReference) {
  std::mt19937 rng(5);
  Tensor x = iota_f32({5, 6, 7});
  auto xv = x.as_double();
  std::uniform_int_distribution<int> pos(-9, 9), stp(-3, 3);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<int64_t> axes, starts, ends, steps;
    std::vector<int64_t> all{0, 1, 2};
    std::shuffle(all.begin(), all.end(), rng);
    const int n = 1 + trial % 3;
    for (int i = 0; i < n; ++i) {
      axes.push_back(trial % 2 ? all[i] - 3 : all[i]);  // negative axes too
      starts.push_back(pos(rng));
      ends.push_back(trial % 7 == 0 ? INT64_MAX : trial % 11 == 0 ? INT64_MIN : pos(rng));
      int64_t s = stp(rng);
      steps.push_back(s == 0 ? 1 : s);
    }
    Tensor y = run_op1({"Slice", "", 13}, {x, ints(starts), ints(ends), ints(axes), ints(steps)});
    std::vector<std::vector<int64_t>> idx(3);
    for (int d = 0; d < 3; ++d) idx[d] = ref_indices(x.dims()[d], 0, x.dims()[d], 1);
    for (int i = 0; i < n; ++i) {
      int64_t a = axes[i] < 0 ? axes[i] + 3 : axes[i];
      idx[a] = ref_indices(x.dims()[a], starts[i], ends[i], steps[i]);
    }
    std::vector<int64_t> od{(int64_t)idx[0].size(), (int64_t)idx[1].size(), (int64_t)idx[2].size()};
    ASSERT_EQ(y.dims(), od) << "trial " << trial;
    auto yv = y.as_double();
    for (int64_t i = 0; i < y.numel(); ++i) {
      auto c = unravel(i, od);
      ASSERT_EQ(yv[i], xv[ravel({idx[0][c[0]], idx[1][c[1]], idx[2][c[2]]}, x.dims())]) << "trial " << trial;
    }
  }
}

TEST(Slice, DefaultsAndOpset1Attributes) {
  Tensor x = iota_f32({3, 4});
  EXPECT_EQ(run_op1({"Slice", "", 13}, {x, ints({1, 1}), ints({3, 3})}).as_double(), (std::vector<double>{5, 6, 9, 10}));
  Tensor y = run_op1({"Slice", "", 1, 1,
                      attrs({{"starts", std::vector<int64_t>{1}}, {"ends", std::vector<int64_t>{1000}},
                             {"axes", std::vector<int64_t>{1}}})},
                     {x});
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{3, 3}));
}

TEST(Slice, Errors) {
  Tensor x = iota_f32({3, 4});
  expect_error([&] { run_op1({"Slice", "", 13}, {x, ints({0}), ints({1}), ints({0}), ints({0})}); }, {"step must not be 0"});
  expect_error([&] { run_op1({"Slice", "", 13}, {x, ints({0}), ints({1}), ints({2})}); }, {"out of range"});
  expect_error([&] { run_op1({"Slice", "", 13}, {x, ints({0, 0}), ints({1})}); }, {"starts has 2", "ends has 1"});
}

TEST(Slice, SymbolicDims) {
  Shape in({Dim::symbol("B"), Dim::symbol("T"), Dim(64)});
  Tensor st = ints({0, 32}), en = ints({INT64_MAX, 64}), ax = ints({1, 2});
  auto out = infer_op({"Slice", "", 13}, {info(DType::F32, in), info_of(st), info_of(en), info_of(ax)});
  EXPECT_EQ(out[0].shape, Shape({Dim::symbol("B"), Dim::symbol("T"), Dim(32)}));
  Tensor st2 = ints({-1}), en2 = ints({INT64_MAX}), ax2 = ints({1});
  out = infer_op({"Slice", "", 13}, {info(DType::F32, in), info_of(st2), info_of(en2), info_of(ax2)});
  EXPECT_EQ(out[0].shape[0], Dim::symbol("B"));
  EXPECT_TRUE(out[0].shape[1].unknown());
  // Unknown starts: sliced axes unknown, the rest kept.
  out = infer_op({"Slice", "", 13}, {info(DType::F32, in), info(DType::I64, Shape{1}), info(DType::I64, Shape{1}), info_of(ax2)});
  EXPECT_EQ(out[0].shape[2], Dim(64));
  EXPECT_TRUE(out[0].shape[1].unknown());
}

}  // namespace
}  // namespace vdrt::test
