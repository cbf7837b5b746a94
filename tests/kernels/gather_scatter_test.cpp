// Gather, GatherElements, GatherND, ScatterND, ScatterElements against naive
// references, plus the out-of-range index errors.
#include <random>

#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

TEST(Gather, EveryAxisWithNegativeAndNdIndices) {
  Tensor x = random_tensor({3, 4, 5}, 1);
  auto xv = x.as_double();
  Tensor idx = Tensor::from_vector<int64_t>({2, 2}, {0, -1, 2, 1});
  for (int64_t axis = -3; axis < 3; ++axis) {
    const int64_t ax = axis < 0 ? axis + 3 : axis;
    Tensor y = run_op1({"Gather", "", 13, 1, attrs({{"axis", axis}})}, {x, idx});
    std::vector<int64_t> od(x.dims().begin(), x.dims().begin() + ax);
    od.insert(od.end(), {2, 2});
    od.insert(od.end(), x.dims().begin() + ax + 1, x.dims().end());
    ASSERT_EQ(y.dims(), od);
    auto yv = y.as_double();
    auto iv = idx.as_int64();
    for (int64_t i = 0; i < y.numel(); ++i) {
      auto c = unravel(i, od);
      int64_t k = iv[c[ax] * 2 + c[ax + 1]];
      if (k < 0) k += x.dims()[ax];
      std::vector<int64_t> xc(c.begin(), c.begin() + ax);
      xc.push_back(k);
      xc.insert(xc.end(), c.begin() + ax + 2, c.end());
      ASSERT_EQ(yv[i], xv[ravel(xc, x.dims())]);
    }
  }
}

TEST(Gather, ShapeTensorsAndScalarIndex) {
  // The runtime's host-side shape arithmetic: Gather(Shape(x), 1) -> scalar.
  Tensor shape = ints({2, 5, 7});
  Tensor y = run_op1({"Gather"}, {shape, Tensor::scalar<int64_t>(1)});
  EXPECT_TRUE(y.dims().empty());
  EXPECT_EQ(y.as_int64(), (std::vector<int64_t>{5}));
  Tensor i32 = Tensor::from_vector<int32_t>({2}, {2, 0});
  EXPECT_EQ(run_op1({"Gather"}, {shape, i32}).as_int64(), (std::vector<int64_t>{7, 2}));
}

TEST(Gather, OutOfRangeIndexIsAnError) {
  Tensor x = iota_f32({5, 2});
  expect_error([&] { run_op1({"Gather"}, {x, ints({7})}); }, {"index 7", "axis 0", "size 5"});
  expect_error([&] { run_op1({"Gather"}, {x, ints({-6})}); }, {"index -6"});
  expect_error([&] { run_op1({"Gather"}, {x, Tensor::from_vector<float>({1}, {0})}); }, {"int32 or int64"});
}

TEST(GatherElements, AlongEachAxis) {
  Tensor x = random_tensor({3, 4}, 2);
  auto xv = x.as_double();
  Tensor idx = Tensor::from_vector<int64_t>({2, 3}, {0, -1, 2, 1, 0, 0});
  for (int64_t axis : {0, 1, -1}) {
    Tensor y = run_op1({"GatherElements", "", 13, 1, attrs({{"axis", axis}})}, {x, idx});
    ASSERT_EQ(y.dims(), idx.dims());
    const int64_t ax = axis < 0 ? axis + 2 : axis;
    auto yv = y.as_double();
    auto iv = idx.as_int64();
    for (int64_t i = 0; i < y.numel(); ++i) {
      auto c = unravel(i, idx.dims());
      c[ax] = iv[i] < 0 ? iv[i] + x.dims()[ax] : iv[i];
      ASSERT_EQ(yv[i], xv[ravel(c, x.dims())]);
    }
  }
  expect_error([&] { run_op1({"GatherElements"}, {x, Tensor::from_vector<int64_t>({1, 1}, {3})}); }, {"index 3"});
}

TEST(GatherND, BatchDimsZeroAndOne) {
  Tensor x = iota_f32({2, 3, 4});
  // batch_dims 0, tuples of 2: picks rows.
  Tensor idx = Tensor::from_vector<int64_t>({2, 2}, {1, 2, 0, -1});
  Tensor y = run_op1({"GatherND"}, {x, idx});
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(y.as_double(), (std::vector<double>{20, 21, 22, 23, 8, 9, 10, 11}));
  // batch_dims 1, one full tuple per batch.
  Tensor idx2 = Tensor::from_vector<int64_t>({2, 2}, {0, 3, 2, 1});
  Tensor z = run_op1({"GatherND", "", 13, 1, attrs({{"batch_dims", int64_t{1}}})}, {x, idx2});
  ASSERT_EQ(z.dims(), (std::vector<int64_t>{2}));
  EXPECT_EQ(z.as_double(), (std::vector<double>{3, 12 + 9}));
  expect_error([&] { run_op1({"GatherND"}, {x, Tensor::from_vector<int64_t>({1, 1}, {2})}); }, {"index 2", "size 2"});
  expect_error([&] { run_op1({"GatherND"}, {x, Tensor::from_vector<int64_t>({1, 4}, {0, 0, 0, 0})}); }, {"do not fit"});
}

TEST(ScatterND, Reductions) {
  Tensor data = Tensor::from_vector<float>({4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor idx = Tensor::from_vector<int64_t>({3, 1}, {1, -1, 1});
  Tensor upd = Tensor::from_vector<float>({3, 2}, {10, 20, 30, 40, 100, 200});
  EXPECT_EQ(run_op1({"ScatterND"}, {data, idx, upd}).as_double(), (std::vector<double>{1, 2, 100, 200, 5, 6, 30, 40}));
  EXPECT_EQ(run_op1({"ScatterND", "", 18, 1, attrs({{"reduction", std::string("add")}})}, {data, idx, upd}).as_double(),
            (std::vector<double>{1, 2, 113, 224, 5, 6, 37, 48}));
  EXPECT_EQ(run_op1({"ScatterND", "", 18, 1, attrs({{"reduction", std::string("mul")}})}, {data, idx, upd}).as_double(),
            (std::vector<double>{1, 2, 3000, 16000, 5, 6, 210, 320}));
  EXPECT_EQ(run_op1({"ScatterND", "", 18, 1, attrs({{"reduction", std::string("max")}})}, {data, idx, upd}).as_double(),
            (std::vector<double>{1, 2, 100, 200, 5, 6, 30, 40}));
  EXPECT_EQ(run_op1({"ScatterND", "", 18, 1, attrs({{"reduction", std::string("min")}})}, {data, idx, upd}).as_double(),
            (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}));
  expect_error([&] { run_op1({"ScatterND"}, {data, Tensor::from_vector<int64_t>({1, 1}, {4}), Tensor(DType::F32, {1, 2})}); },
               {"index 4"});
  expect_error([&] { run_op1({"ScatterND"}, {data, idx, Tensor(DType::F32, {3, 3})}); }, {"updates"});
}

TEST(ScatterElements, AxisAndReductions) {
  Tensor data(DType::F32, {3, 3});
  Tensor idx = Tensor::from_vector<int64_t>({2, 3}, {1, 0, 2, 0, 2, -2});
  Tensor upd = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y = run_op1({"ScatterElements", "", 13, 1, attrs({{"axis", int64_t{0}}})}, {data, idx, upd});
  // out[idx[i][j]][j] = upd[i][j]
  EXPECT_EQ(y.as_double(), (std::vector<double>{4, 2, 0, 1, 0, 6, 0, 5, 3}));
  Tensor dup = Tensor::from_vector<int64_t>({1, 2}, {1, 1});
  Tensor u2 = Tensor::from_vector<float>({1, 2}, {1.5f, 2.5f});
  Tensor base = Tensor::from_vector<float>({1, 3}, {1, 1, 1});
  EXPECT_EQ(run_op1({"ScatterElements", "", 18, 1, attrs({{"axis", int64_t{1}}, {"reduction", std::string("add")}})},
                    {base, dup, u2}).as_double(),
            (std::vector<double>{1, 5, 1}));
  expect_error([&] { run_op1({"ScatterElements"}, {data, Tensor::from_vector<int64_t>({1, 1}, {3}), Tensor(DType::F32, {1, 1})}); },
               {"index 3"});
  // The deprecated Scatter is the same op.
  EXPECT_EQ(run_op1({"Scatter", "", 10, 1, attrs({{"axis", int64_t{0}}})}, {data, idx, upd}).as_double(), y.as_double());
}

}  // namespace
}  // namespace vdrt::test
