// Reshape, Flatten, Squeeze, Unsqueeze: contents are copied unchanged, so the
// tests are about shapes, symbolic dims and errors.
#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

TEST(Reshape, ZeroCopiesAndMinusOneInfers) {
  Tensor x = iota_f32({2, 3, 4});
  Tensor y = run_op1({"Reshape"}, {x, ints({0, -1})});
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{2, 12}));
  EXPECT_EQ(y.as_double(), x.as_double());
  EXPECT_EQ(run_op1({"Reshape"}, {x, ints({-1})}).dims(), (std::vector<int64_t>{24}));
  EXPECT_EQ(run_op1({"Reshape"}, {x, ints({4, 0, 2})}).dims(), (std::vector<int64_t>{4, 3, 2}));
}

TEST(Reshape, AllowZeroKeepsZeroDims) {
  Tensor x(DType::F32, {0, 3});
  EXPECT_EQ(run_op1({"Reshape", "", 14, 1, attrs({{"allowzero", int64_t{1}}})}, {x, ints({3, 0})}).dims(),
            (std::vector<int64_t>{3, 0}));
  // Without allowzero the 0 copies the input's dim 0 (which is 0 here).
  EXPECT_EQ(run_op1({"Reshape", "", 14}, {x, ints({0, 3})}).dims(), (std::vector<int64_t>{0, 3}));
}

TEST(Reshape, ErrorsNameBothShapes) {
  Tensor x = iota_f32({2, 3, 4});
  expect_error([&] { run_op1({"Reshape"}, {x, ints({5, 5})}); }, {"[2, 3, 4]", "24", "[5, 5]", "25"});
  expect_error([&] { run_op1({"Reshape"}, {x, ints({-1, -1})}); }, {"more than one -1"});
  expect_error([&] { run_op1({"Reshape"}, {x, ints({5, -1})}); }, {"[2, 3, 4]", "do not divide"});
  expect_error([&] { run_op1({"Reshape"}, {x, ints({2, -3})}); }, {"invalid dim"});
  expect_error([&] { run_op1({"Reshape"}, {x, ints({1, 1, 1, 0})}); }, {"no such dim"});
}

TEST(Reshape, SymbolicDimsSurvive) {
  Shape in({Dim::symbol("B"), Dim::symbol("T"), Dim(768)});
  Tensor split = ints({0, 0, 12, 64});
  auto out = infer_op({"Reshape"}, {info(DType::F32, in), info_of(split)});
  EXPECT_EQ(out[0].shape, Shape({Dim::symbol("B"), Dim::symbol("T"), Dim(12), Dim(64)}));
  Tensor merge = ints({0, -1, 64});
  out = infer_op({"Reshape"}, {info(DType::F32, in), info_of(merge)});
  EXPECT_EQ(out[0].shape[0], Dim::symbol("B"));
  EXPECT_EQ(out[0].shape[1].str(), "12*T");
  Tensor flat = ints({-1, 768});
  out = infer_op({"Reshape"}, {info(DType::F32, in), info_of(flat)});
  EXPECT_EQ(out[0].shape[1], Dim(768));
  EXPECT_EQ(out[0].shape[0].str(), "B*T");
  // Unknown target contents with a known length: rank only.
  out = infer_op({"Reshape"}, {info(DType::F32, in), info(DType::I64, Shape{3})});
  EXPECT_EQ(out[0].shape.rank(), 3u);
  // Nothing known at all.
  out = infer_op({"Reshape"}, {info(DType::F32, Shape()), info(DType::I64, Shape())});
  EXPECT_FALSE(out[0].shape.rank_known());
}

TEST(Flatten, AxisVariants) {
  Tensor x = iota_f32({2, 3, 4, 5});
  EXPECT_EQ(run_op1({"Flatten"}, {x}).dims(), (std::vector<int64_t>{2, 60}));
  EXPECT_EQ(run_op1({"Flatten", "", 13, 1, attrs({{"axis", int64_t{0}}})}, {x}).dims(), (std::vector<int64_t>{1, 120}));
  EXPECT_EQ(run_op1({"Flatten", "", 13, 1, attrs({{"axis", int64_t{4}}})}, {x}).dims(), (std::vector<int64_t>{120, 1}));
  EXPECT_EQ(run_op1({"Flatten", "", 13, 1, attrs({{"axis", int64_t{-1}}})}, {x}).dims(), (std::vector<int64_t>{24, 5}));
  expect_error([&] { run_op1({"Flatten", "", 13, 1, attrs({{"axis", int64_t{5}}})}, {x}); }, {"axis 5", "rank 4"});
  auto out = infer_op({"Flatten", "", 13, 1, attrs({{"axis", int64_t{2}}})},
                      {info(DType::F32, Shape({Dim::symbol("B"), Dim(3), Dim(4), Dim(5)}))});
  EXPECT_EQ(out[0].shape[0].str(), "B*3");
  EXPECT_EQ(out[0].shape[1], Dim(20));
}

TEST(Squeeze, AxesFromInputOrAttribute) {
  Tensor x = iota_f32({1, 3, 1, 5});
  EXPECT_EQ(run_op1({"Squeeze", "", 13}, {x, ints({0, -2})}).dims(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(run_op1({"Squeeze", "", 11, 1, attrs({{"axes", std::vector<int64_t>{2}}})}, {x}).dims(),
            (std::vector<int64_t>{1, 3, 5}));
  EXPECT_EQ(run_op1({"Squeeze", "", 13}, {x}).dims(), (std::vector<int64_t>{3, 5}));
  expect_error([&] { run_op1({"Squeeze", "", 13}, {x, ints({1})}); }, {"cannot squeeze axis 1", "size is 3"});
  expect_error([&] { run_op1({"Squeeze", "", 13}, {x, ints({4})}); }, {"out of range"});
  expect_error([&] { run_op1({"Squeeze", "", 13}, {x, ints({0, 0})}); }, {"repeated"});
}

TEST(Unsqueeze, InsertsOnesInOutputPositions) {
  Tensor x = iota_f32({3, 4});
  EXPECT_EQ(run_op1({"Unsqueeze", "", 13}, {x, ints({0, 3})}).dims(), (std::vector<int64_t>{1, 3, 4, 1}));
  EXPECT_EQ(run_op1({"Unsqueeze", "", 13}, {x, ints({-1})}).dims(), (std::vector<int64_t>{3, 4, 1}));
  EXPECT_EQ(run_op1({"Unsqueeze", "", 13}, {x, ints({3, 1})}).dims(), (std::vector<int64_t>{3, 1, 4, 1}));
  EXPECT_EQ(run_op1({"Unsqueeze", "", 11, 1, attrs({{"axes", std::vector<int64_t>{1}}})}, {x}).dims(),
            (std::vector<int64_t>{3, 1, 4}));
  expect_error([&] { run_op1({"Unsqueeze", "", 13}, {x, ints({5})}); }, {"out of range"});
  auto out = infer_op({"Unsqueeze", "", 13}, {info(DType::F32, Shape({Dim::symbol("N")})), info(DType::I64, Shape{2})});
  EXPECT_EQ(out[0].shape.rank(), 3u);
}

TEST(Reshape, HostileTargetIsAnError) {
  expect_error([] { run_op1({"Reshape"}, {iota_f32({4}), ints({int64_t{1} << 40, int64_t{1} << 40})}); }, {"too"});
  expect_error([] { run_op1({"Reshape"}, {iota_f32({4}), ints({int64_t{1} << 40, int64_t{1} << 40, -1})}); }, {"too large"});
}

}  // namespace
}  // namespace vdrt::test
