// Concat and Split against references that walk every coordinate.
#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

TEST(Concat, EveryAxisIncludingNegative) {
  Tensor a = iota_f32({2, 3, 4}), b = random_tensor({2, 3, 4}, 9);
  for (int64_t axis = -3; axis < 3; ++axis) {
    const int64_t ax = axis < 0 ? axis + 3 : axis;
    std::vector<int64_t> bd = a.dims();
    bd[ax] = 1 + ax;  // a different extent per axis
    Tensor c = random_tensor(bd, 11 + static_cast<uint32_t>(ax));
    Tensor y = run_op1({"Concat", "", 13, 1, attrs({{"axis", axis}})}, {a, c, b});
    std::vector<int64_t> od = a.dims();
    od[ax] = a.dims()[ax] + c.dims()[ax] + b.dims()[ax];
    ASSERT_EQ(y.dims(), od);
    auto av = a.as_double(), bv = b.as_double(), cv = c.as_double(), yv = y.as_double();
    for (int64_t i = 0; i < y.numel(); ++i) {
      auto co = unravel(i, od);
      int64_t k = co[ax];
      double want;
      if (k < a.dims()[ax]) want = av[ravel(co, a.dims())];
      else if ((k -= a.dims()[ax]) < c.dims()[ax]) { co[ax] = k; want = cv[ravel(co, c.dims())]; }
      else { co[ax] = k - c.dims()[ax]; want = bv[ravel(co, b.dims())]; }
      ASSERT_EQ(yv[i], want) << "axis " << axis << " element " << i;
    }
  }
}

TEST(Concat, EmptyInputsAndLargeRows) {
  Tensor a = iota_f32({3, 0}), b = iota_f32({3, 2});
  EXPECT_EQ(run_op1({"Concat", "", 13, 1, attrs({{"axis", int64_t{1}}})}, {a, b}).as_double(), b.as_double());
  Tensor big = random_tensor({600, 300}, 2);
  Tensor y = run_op1({"Concat", "", 13, 1, attrs({{"axis", int64_t{1}}})}, {big, big});
  auto bv = big.as_double(), yv = y.as_double();
  for (int64_t r = 0; r < 600; r += 37)
    for (int64_t c = 0; c < 600; c += 13) ASSERT_EQ(yv[r * 600 + c], bv[r * 300 + c % 300]);
}

TEST(Concat, MismatchesAreErrors) {
  expect_error([] { run_op1({"Concat", "", 13, 1, attrs({{"axis", int64_t{0}}})}, {iota_f32({2, 3}), iota_f32({2, 4})}); },
               {"equal other dims"});
  expect_error([] { run_op1({"Concat", "", 13, 1, attrs({{"axis", int64_t{0}}})}, {iota_f32({2, 3}), iota_f32({3})}); },
               {"different ranks"});
  expect_error([] { run_op1({"Concat", "", 13, 1, attrs({{"axis", int64_t{2}}})}, {iota_f32({2, 3})}); },
               {"out of range"});
  // Symbolic: sums along the axis, keeps the rest.
  auto out = infer_op({"Concat", "", 13, 1, attrs({{"axis", int64_t{1}}})},
                      {info(DType::F32, Shape({Dim::symbol("B"), Dim::symbol("past"), Dim(8)})),
                       info(DType::F32, Shape({Dim::symbol("B"), Dim(3), Dim(8)}))});
  EXPECT_EQ(out[0].shape[1].str(), "past+3");
  EXPECT_EQ(out[0].shape[2], Dim(8));
}

std::vector<Tensor> split(const Tensor& x, AttributeMap a, size_t n, int64_t opset, Tensor sizes = Tensor()) {
  std::vector<Tensor> in{x};
  if (sizes.defined()) in.push_back(sizes);
  return run_op({"Split", "", opset, n, a}, in);
}

// Reference: output k holds the slice [offset_k, offset_k + size_k) of the axis.
void check_split(const Tensor& x, int64_t axis, const std::vector<Tensor>& outs, const std::vector<int64_t>& sizes) {
  ASSERT_EQ(outs.size(), sizes.size());
  auto xv = x.as_double();
  int64_t off = 0;
  for (size_t k = 0; k < outs.size(); ++k) {
    std::vector<int64_t> d = x.dims();
    d[axis] = sizes[k];
    ASSERT_EQ(outs[k].dims(), d);
    auto ov = outs[k].as_double();
    for (int64_t i = 0; i < outs[k].numel(); ++i) {
      auto c = unravel(i, d);
      c[axis] += off;
      ASSERT_EQ(ov[i], xv[ravel(c, x.dims())]);
    }
    off += sizes[k];
  }
}

TEST(Split, SizesFromInputAttributeOrEqualParts) {
  Tensor x = iota_f32({4, 7});
  check_split(x, 1, split(x, attrs({{"axis", int64_t{1}}}), 3, 13, ints({2, 0, 5})), {2, 0, 5});
  check_split(x, 1, split(x, attrs({{"axis", int64_t{-1}}, {"split", std::vector<int64_t>{3, 4}}}), 2, 11), {3, 4});
  check_split(x, 0, split(x, attrs({}), 2, 13), {2, 2});
  // Opset 18 num_outputs: the last part takes the remainder.
  check_split(x, 1, split(x, attrs({{"axis", int64_t{1}}, {"num_outputs", int64_t{3}}}), 3, 18), {3, 3, 1});
}

TEST(Split, Errors) {
  Tensor x = iota_f32({4, 7});
  expect_error([&] { split(x, attrs({{"axis", int64_t{1}}}), 2, 13); }, {"7", "2 equal parts"});
  expect_error([&] { split(x, attrs({{"axis", int64_t{1}}}), 2, 13, ints({3, 3})); }, {"add up to 6", "size 7"});
  expect_error([&] { split(x, attrs({{"axis", int64_t{1}}}), 2, 13, ints({3, 3, 1})); }, {"2 outputs", "3 sizes"});
  expect_error([&] { split(x, attrs({{"axis", int64_t{1}}, {"num_outputs", int64_t{3}}}), 2, 18); }, {"num_outputs"});
}

}  // namespace
}  // namespace vdrt::test
