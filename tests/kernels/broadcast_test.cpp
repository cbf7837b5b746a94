// Expand, Tile, Where against references written with explicit coordinates.
#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

TEST(Expand, BroadcastsBothWays) {
  Tensor x = iota_f32({3, 1});
  Tensor y = run_op1({"Expand"}, {x, ints({2, 1, 4})});
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{2, 3, 4}));
  auto yv = y.as_double();
  for (int64_t i = 0; i < y.numel(); ++i) ASSERT_EQ(yv[i], static_cast<double>(unravel(i, y.dims())[1]));
  // A target smaller than the input keeps the input's dims.
  EXPECT_EQ(run_op1({"Expand"}, {iota_f32({2, 3}), ints({1})}).dims(), (std::vector<int64_t>{2, 3}));
  Tensor big = random_tensor({1, 64, 1}, 3);
  Tensor z = run_op1({"Expand"}, {big, ints({40, 64, 50})});
  auto bv = big.as_double(), zv = z.as_double();
  for (int64_t i = 0; i < z.numel(); i += 97) ASSERT_EQ(zv[i], bv[unravel(i, z.dims())[1]]);
  expect_error([] { run_op1({"Expand"}, {iota_f32({3}), ints({4})}); }, {"cannot expand"});
}

TEST(Tile, RepeatsEveryAxis) {
  Tensor x = iota_f32({2, 3});
  Tensor y = run_op1({"Tile"}, {x, ints({2, 3})});
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{4, 9}));
  auto xv = x.as_double(), yv = y.as_double();
  for (int64_t i = 0; i < y.numel(); ++i) {
    auto c = unravel(i, y.dims());
    ASSERT_EQ(yv[i], xv[(c[0] % 2) * 3 + c[1] % 3]);
  }
  EXPECT_EQ(run_op1({"Tile"}, {x, ints({0, 1})}).numel(), 0);
  expect_error([&] { run_op1({"Tile"}, {x, ints({2})}); }, {"one entry per dim"});
  expect_error([&] { run_op1({"Tile"}, {x, ints({2, -1})}); }, {"negative"});
}

TEST(Where, ThreeWayBroadcastAllElementSizes) {
  Tensor cond = Tensor::from_vector<bool>({2, 1, 3}, {true, false, true, false, false, true});
  for (DType t : {DType::F32, DType::I64, DType::F16, DType::U8}) {
    Tensor x = iota_f32({4, 3}).to(t == DType::U8 ? DType::I32 : t);
    if (t == DType::U8) {
      Tensor u(DType::U8, {4, 3});
      for (int i = 0; i < 12; ++i) static_cast<uint8_t*>(u.raw())[i] = static_cast<uint8_t>(i);
      x = u;
    }
    Tensor y(t, {});
    std::memset(y.raw(), 0, y.nbytes());
    Tensor out = run_op1({"Where"}, {cond, x, y});
    ASSERT_EQ(out.dims(), (std::vector<int64_t>{2, 4, 3}));
    auto ov = out.as_double();
    auto cv = cond.as_int64();
    for (int64_t i = 0; i < out.numel(); ++i) {
      auto c = unravel(i, out.dims());
      double want = cv[c[0] * 3 + c[2]] ? static_cast<double>(c[1] * 3 + c[2]) : 0.0;
      ASSERT_EQ(ov[i], want) << dtype_name(t) << " element " << i;
    }
  }
  expect_error([] { run_op1({"Where"}, {Tensor(DType::F32, {1}), iota_f32({1}), iota_f32({1})}); }, {"bool"});
  expect_error([] { run_op1({"Where"}, {Tensor(DType::Bool, {2}), iota_f32({3}), iota_f32({3})}); }, {"broadcast"});
}

TEST(Where, LargeSameShapeRuns) {
  const int64_t n = 1 << 19;
  std::vector<bool> c(n);
  for (int64_t i = 0; i < n; ++i) c[i] = (i * 7) % 3 == 0;
  Tensor cond = Tensor::from_vector<bool>({n}, c);
  Tensor x = random_tensor({n}, 4), y = random_tensor({n}, 5);
  auto ov = run_op1({"Where"}, {cond, x, y}).as_double();
  auto xv = x.as_double(), yv = y.as_double();
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(ov[i], c[i] ? xv[i] : yv[i]);
}

TEST(Broadcast, HostileSizesAreErrorsNotOverflows) {
  expect_error([] { run_op1({"Tile"}, {iota_f32({4, 4}), ints({int64_t{1} << 62, int64_t{1} << 62})}); }, {"Tile", "too large"});
  expect_error([] { run_op1({"Expand"}, {iota_f32({1, 1}), ints({int64_t{1} << 40, int64_t{1} << 40})}); },
               {"Expand", "too many elements"});
}

}  // namespace
}  // namespace vdrt::test
