// Pad in all four modes against a reference that maps each output coordinate
// to an input coordinate with numpy.pad's rules written out here.
#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

// numpy.pad semantics per axis; -1 means the constant.
int64_t ref_source(int64_t i, int64_t n, const std::string& mode) {
  if (i >= 0 && i < n) return i;
  if (mode == "constant") return -1;
  if (mode == "edge") return i < 0 ? 0 : n - 1;
  if (mode == "wrap") return ((i % n) + n) % n;
  // reflect: bounce between 0 and n-1 without repeating the edge.
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

void check_pad(const Tensor& x, const std::vector<int64_t>& pads, const std::string& mode, float value = 0) {
  const size_t r = x.dims().size();
  std::vector<Tensor> in{x, ints(pads)};
  if (mode == "constant") in.push_back(Tensor::from_vector<float>({}, {value}));
  Tensor y = run_op1({"Pad", "", 19, 1, attrs({{"mode", mode}})}, in);
  std::vector<int64_t> od(r);
  for (size_t a = 0; a < r; ++a) od[a] = x.dims()[a] + pads[a] + pads[r + a];
  ASSERT_EQ(y.dims(), od) << mode;
  auto xv = x.as_double(), yv = y.as_double();
  for (int64_t i = 0; i < y.numel(); ++i) {
    auto c = unravel(i, od);
    bool constant = false;
    for (size_t a = 0; a < r; ++a) {
      c[a] = ref_source(c[a] - pads[a], x.dims()[a], mode);
      constant |= c[a] < 0;
    }
    ASSERT_EQ(yv[i], constant ? value : xv[ravel(c, x.dims())]) << mode << " element " << i;
  }
}

TEST(Pad, AllModesIncludingLargePadsAndCrops) {
  Tensor x = iota_f32({3, 4});
  for (std::string mode : {"constant", "reflect", "edge", "wrap"}) {
    check_pad(x, {1, 2, 0, 3}, mode, 9.5f);
    check_pad(x, {0, 0, 0, 0}, mode);
    check_pad(x, {-1, 1, 1, -2}, mode, -1.0f);  // negative pads crop
    check_pad(x, {5, 7, 4, 9}, mode);           // wider than the input
  }
  Tensor v = iota_f32({2, 3, 4, 5});
  for (std::string mode : {"constant", "reflect", "edge", "wrap"}) check_pad(v, {0, 1, 2, 0, 1, 0, 3, 2}, mode, 1);
}

TEST(Pad, AxesInputAndOpset2Attributes) {
  Tensor x = iota_f32({2, 3, 4});
  Tensor y = run_op1({"Pad", "", 18}, {x, ints({1, 2}), Tensor::from_vector<float>({}, {7}), ints({-1})});
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{2, 3, 7}));
  EXPECT_EQ(y.as_double()[0], 7);
  EXPECT_EQ(y.as_double()[1], 0);
  Tensor z = run_op1({"Pad", "", 2, 1, attrs({{"pads", std::vector<int64_t>{0, 1, 0, 0, 0, 0}}, {"value", 3.0f}})}, {x});
  ASSERT_EQ(z.dims(), (std::vector<int64_t>{2, 4, 4}));
  EXPECT_EQ(z.as_double()[0], 3);
}

TEST(Pad, IntegerDataAndErrors) {
  Tensor x = Tensor::from_vector<int64_t>({3}, {1, 2, 3});
  EXPECT_EQ(run_op1({"Pad", "", 19, 1, attrs({{"mode", std::string("reflect")}})}, {x, ints({2, 2})}).as_int64(),
            (std::vector<int64_t>{3, 2, 1, 2, 3, 2, 1}));
  expect_error([&] { run_op1({"Pad", "", 19}, {x, ints({1})}); }, {"expects 2 pad values"});
  expect_error([&] { run_op1({"Pad", "", 19}, {x, ints({-2, -2})}); }, {"negative size"});
  expect_error([&] { run_op1({"Pad", "", 19, 1, attrs({{"mode", std::string("mirror")}})}, {x, ints({1, 1})}); },
               {"mode"});
  expect_error([&] { run_op1({"Pad", "", 19, 1, attrs({{"mode", std::string("edge")}})}, {Tensor(DType::F32, {0}), ints({1, 1})}); },
               {"empty axis"});
}

TEST(Pad, HostileAmountsAreErrors) {
  Tensor x = iota_f32({2});
  expect_error([&] { run_op1({"Pad", "", 19}, {x, ints({INT64_MAX, 1})}); }, {"out of range"});
}

}  // namespace
}  // namespace vdrt::test
