// Constant, ConstantOfShape, Shape, Size, Range, EyeLike, Identity, NonZero.
#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

TEST(Constant, EachValueAttribute) {
  Tensor t = Tensor::from_vector<int32_t>({2, 2}, {1, 2, 3, 4});
  Tensor a = run_op1({"Constant", "", 19, 1, attrs({{"value", t}})}, {});
  EXPECT_EQ(a.dims(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(a.as_int64(), (std::vector<int64_t>{1, 2, 3, 4}));
  Tensor b = run_op1({"Constant", "", 19, 1, attrs({{"value_float", 2.5f}})}, {});
  EXPECT_EQ(b.dtype(), DType::F32);
  EXPECT_TRUE(b.dims().empty());
  EXPECT_EQ(b.as_double()[0], 2.5);
  Tensor c = run_op1({"Constant", "", 19, 1, attrs({{"value_ints", std::vector<int64_t>{4, 5, 6}}})}, {});
  EXPECT_EQ(c.dtype(), DType::I64);
  EXPECT_EQ(c.as_int64(), (std::vector<int64_t>{4, 5, 6}));
  Tensor d = run_op1({"Constant", "", 19, 1, attrs({{"value_int", int64_t{-7}}})}, {});
  EXPECT_EQ(d.as_int64(), (std::vector<int64_t>{-7}));
  Tensor e = run_op1({"Constant", "", 19, 1, attrs({{"value_floats", std::vector<float>{1, 2}}})}, {});
  EXPECT_EQ(e.as_double(), (std::vector<double>{1, 2}));
  expect_error([] { run_op1({"Constant"}, {}); }, {"Constant has none"});
  expect_error([] { run_op1({"Constant", "", 19, 1, attrs({{"value_string", std::string("x")}})}, {}); },
               {"unsupported", "string"});
}

TEST(ConstantOfShape, FillsWithValueOrZero) {
  Tensor z = run_op1({"ConstantOfShape"}, {ints({2, 3})});
  EXPECT_EQ(z.dtype(), DType::F32);
  EXPECT_EQ(z.as_double(), std::vector<double>(6, 0.0));
  Tensor v = run_op1({"ConstantOfShape", "", 19, 1, attrs({{"value", Tensor::from_vector<int32_t>({1}, {7})}})},
                     {ints({3})});
  EXPECT_EQ(v.dtype(), DType::I32);
  EXPECT_EQ(v.as_int64(), (std::vector<int64_t>{7, 7, 7}));
  Tensor empty = run_op1({"ConstantOfShape"}, {ints({0})});
  EXPECT_EQ(empty.dims(), (std::vector<int64_t>{0}));
  expect_error([] { run_op1({"ConstantOfShape"}, {ints({2, -1})}); }, {"negative"});
  // Unknown contents but known length: the rank is known.
  auto out = infer_op({"ConstantOfShape"}, {info(DType::I64, Shape{3})});
  EXPECT_EQ(out[0].shape.rank(), 3u);
  EXPECT_FALSE(out[0].shape.fully_known());
}

TEST(Shape, StartEndClamp) {
  Tensor x(DType::F32, {2, 3, 4, 5});
  EXPECT_EQ(run_op1({"Shape"}, {x}).as_int64(), (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(run_op1({"Shape", "", 19, 1, attrs({{"start", int64_t{1}}})}, {x}).as_int64(),
            (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(run_op1({"Shape", "", 19, 1, attrs({{"start", int64_t{-3}}, {"end", int64_t{-1}}})}, {x}).as_int64(),
            (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(run_op1({"Shape", "", 19, 1, attrs({{"start", int64_t{-10}}, {"end", int64_t{10}}})}, {x}).as_int64(),
            (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(run_op1({"Shape", "", 19, 1, attrs({{"start", int64_t{3}}, {"end", int64_t{1}}})}, {x}).numel(), 0);
  // Symbolic input: the length is still known.
  auto out = infer_op({"Shape"}, {info(DType::F32, Shape({Dim::symbol("B"), Dim(3)}))});
  EXPECT_EQ(out[0].shape, (Shape{2}));
}

TEST(Size, CountsElements) {
  Tensor x(DType::I8, {2, 3, 4});
  Tensor s = run_op1({"Size"}, {x});
  EXPECT_EQ(s.dtype(), DType::I64);
  EXPECT_TRUE(s.dims().empty());
  EXPECT_EQ(s.as_int64()[0], 24);
}

TEST(Range, IntegerAndFloat) {
  Tensor r = run_op1({"Range"}, {Tensor::scalar<int64_t>(10), Tensor::scalar<int64_t>(0), Tensor::scalar<int64_t>(-3)});
  EXPECT_EQ(r.as_int64(), (std::vector<int64_t>{10, 7, 4, 1}));
  Tensor r32 = run_op1({"Range"}, {Tensor::scalar<int32_t>(1), Tensor::scalar<int32_t>(6), Tensor::scalar<int32_t>(2)});
  EXPECT_EQ(r32.dtype(), DType::I32);
  EXPECT_EQ(r32.as_int64(), (std::vector<int64_t>{1, 3, 5}));
  Tensor f = run_op1({"Range"}, {Tensor::scalar<float>(1.0f), Tensor::scalar<float>(2.0f), Tensor::scalar<float>(0.25f)});
  EXPECT_EQ(f.as_double(), (std::vector<double>{1.0, 1.25, 1.5, 1.75}));
  Tensor empty = run_op1({"Range"}, {Tensor::scalar<int64_t>(5), Tensor::scalar<int64_t>(1), Tensor::scalar<int64_t>(1)});
  EXPECT_EQ(empty.numel(), 0);
  expect_error([] { run_op1({"Range"}, {Tensor::scalar<int64_t>(0), Tensor::scalar<int64_t>(5), Tensor::scalar<int64_t>(0)}); },
               {"delta"});
  expect_error([] { run_op1({"Range"}, {Tensor::scalar<int64_t>(0), Tensor::scalar<int32_t>(5), Tensor::scalar<int64_t>(1)}); },
               {"share one type"});
  auto out = infer_op({"Range"}, {info(DType::I64, Shape(std::vector<Dim>{})), info(DType::I64, Shape(std::vector<Dim>{})),
                                  info(DType::I64, Shape(std::vector<Dim>{}))});
  EXPECT_EQ(out[0].shape.rank(), 1u);
}

TEST(EyeLike, DiagonalOffsetsAndDtype) {
  Tensor x(DType::I32, {3, 4});
  Tensor e = run_op1({"EyeLike", "", 19, 1, attrs({{"k", int64_t{1}}})}, {x});
  EXPECT_EQ(e.dtype(), DType::I32);
  std::vector<int64_t> want(12, 0);
  for (int i = 0; i < 3; ++i) want[i * 4 + i + 1] = 1;
  EXPECT_EQ(e.as_int64(), want);
  Tensor f = run_op1({"EyeLike", "", 19, 1, attrs({{"k", int64_t{-2}}, {"dtype", int64_t{10}}})}, {x});
  EXPECT_EQ(f.dtype(), DType::F16);
  std::vector<double> wf(12, 0);
  wf[2 * 4 + 0] = 1;
  EXPECT_EQ(f.as_double(), wf);
  expect_error([] { run_op1({"EyeLike"}, {Tensor(DType::F32, {2, 2, 2})}); }, {"2-D"});
}

TEST(Identity, CopiesAnyDtype) {
  Tensor x = Tensor::from_vector<bool>({3}, {true, false, true});
  EXPECT_EQ(run_op1({"Identity"}, {x}).as_int64(), (std::vector<int64_t>{1, 0, 1}));
}

TEST(NonZero, RefusedWithAClearReason) {
  expect_error([] { infer_op({"NonZero"}, {info(DType::F32, Shape{3})}); },
               {"unsupported", "data-dependent output shape", "NonZero"});
}

TEST(ConstantOfShape, HostileShapeIsAnError) {
  expect_error([] { run_op1({"ConstantOfShape"}, {ints({int64_t{1} << 40, int64_t{1} << 40})}); }, {"too many elements"});
}

}  // namespace
}  // namespace vdrt::test
