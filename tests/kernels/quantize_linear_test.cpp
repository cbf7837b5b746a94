// QuantizeLinear / DequantizeLinear against the ONNX formulas written out in
// float64 here: per-tensor, per-axis and blocked scales, integer types with
// zero points, float8 with and without saturation; shape errors.
#include <gtest/gtest.h>

#include <cmath>

#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

Tensor quantize(const std::vector<Tensor>& in, AttributeMap at = {}, int64_t opset = 21) {
  return run_op1({"QuantizeLinear", "", opset, 1, at}, in);
}
Tensor dequantize(const std::vector<Tensor>& in, AttributeMap at = {}, int64_t opset = 21) {
  return run_op1({"DequantizeLinear", "", opset, 1, at}, in);
}

// Round half to even in double.
double rne(double v) {
  const double f = std::floor(v), d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return std::fmod(f, 2.0) == 0 ? f : f + 1;
}

TEST(QuantizeLinear, Uint8PerTensorRoundsHalfToEvenAndSaturates) {
  Tensor x = Tensor::from_vector<float>({8}, {0.0f, 1.0f, 2.5f, 3.5f, -1.0f, 300.0f, -300.0f, 12.75f});
  Tensor s = Tensor::scalar<float>(0.5f);
  Tensor zp = Tensor::scalar<uint8_t>(10);
  Tensor y = quantize({x, s, zp});
  ASSERT_EQ(y.dtype(), DType::U8);
  auto xv = x.as_double();
  auto yv = y.as_int64();
  for (size_t i = 0; i < xv.size(); ++i)
    EXPECT_EQ(yv[i], std::clamp(rne(xv[i] / 0.5) + 10, 0.0, 255.0)) << xv[i];
  // Without a zero point: uint8 by default, int8 through output_dtype.
  EXPECT_EQ(quantize({x, s}).dtype(), DType::U8);
  AttributeMap at;
  at.set("output_dtype", int64_t{3});
  Tensor yi = quantize({x, s}, at);
  ASSERT_EQ(yi.dtype(), DType::I8);
  EXPECT_EQ(yi.as_int64()[5], 127);
  EXPECT_EQ(yi.as_int64()[6], -128);
}

TEST(QuantizeLinear, PerAxisAndBlockedScales) {
  Tensor x = random_tensor({2, 6, 3}, 1, -4.0f, 4.0f);
  Tensor s_axis = Tensor::from_vector<float>({6}, {0.1f, 0.2f, 0.3f, 0.05f, 1.0f, 0.02f});
  Tensor zp = Tensor::from_vector<int8_t>({6}, {0, 1, -1, 2, 0, -3});
  Tensor y = quantize({x, s_axis, zp});  // axis defaults to 1
  auto xv = x.as_double(), sv = s_axis.as_double(), zv = zp.as_double();
  auto yv = y.as_int64();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = (i / 3) % 6;
    EXPECT_EQ(yv[i], std::clamp(rne(xv[i] / static_cast<float>(sv[c])) + zv[c], -128.0, 127.0)) << i;
  }
  // Blocks of 4 along axis 1 (6 -> 2 blocks, the last one short).
  Tensor s_block = random_tensor({2, 2, 3}, 2, 0.01f, 0.1f);
  AttributeMap at;
  at.set("block_size", int64_t{4});
  at.set("output_dtype", int64_t{3});
  Tensor yb = quantize({x, s_block}, at);
  auto bv = s_block.as_double();
  auto ybv = yb.as_int64();
  for (int64_t o = 0; o < 2; ++o)
    for (int64_t d = 0; d < 6; ++d)
      for (int64_t in = 0; in < 3; ++in) {
        const int64_t i = (o * 6 + d) * 3 + in;
        const float sc = static_cast<float>(bv[(o * 2 + d / 4) * 3 + in]);
        EXPECT_EQ(ybv[i], std::clamp(rne(static_cast<float>(xv[i]) / sc), -128.0, 127.0)) << i;
      }
}

TEST(QuantizeLinear, Float8SaturateOrNot) {
  Tensor x = Tensor::from_vector<float>({5}, {1.0f, -3.3f, 1000.0f, -1e6f, 0.01f});
  Tensor s = Tensor::scalar<float>(2.0f);
  Tensor zp(DType::F8E4M3, {});
  Tensor y = quantize({x, s, zp}, {}, 19);
  ASSERT_EQ(y.dtype(), DType::F8E4M3);
  const auto* c = static_cast<const uint8_t*>(y.raw());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(c[i], float_to_f8e4m3(x.data<float>()[i] / 2.0f, true)) << i;
  EXPECT_EQ(y.as_double()[2], 448.0);
  AttributeMap at;
  at.set("saturate", int64_t{0});
  Tensor n = quantize({x, s, zp}, at, 19);
  EXPECT_TRUE(std::isnan(n.as_double()[2]));
  Tensor e5 = quantize({x, s, Tensor(DType::F8E5M2, {})}, at, 19);
  EXPECT_EQ(e5.as_double()[2], 512.0);
  EXPECT_TRUE(std::isinf(e5.as_double()[3]));
  expect_error([&] { quantize({x, s, zp}, {}, 18); }, {"opset 19"});
}

TEST(DequantizeLinear, IntegerAndFloat8) {
  Tensor q = Tensor::from_vector<int8_t>({2, 3}, {-128, 0, 5, 127, -1, 3});
  Tensor s = Tensor::from_vector<float>({3}, {0.5f, 0.25f, 2.0f});
  Tensor zp = Tensor::from_vector<int8_t>({3}, {1, -2, 0});
  AttributeMap at;
  at.set("axis", int64_t{-1});
  Tensor y = dequantize({q, s, zp}, at);
  ASSERT_EQ(y.dtype(), DType::F32);
  auto qv = q.as_double(), sv = s.as_double(), zv = zp.as_double(), yv = y.as_double();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(yv[i], (qv[i] - zv[i % 3]) * sv[i % 3]) << i;

  Tensor codes(DType::F8E4M3, {2, 2});
  auto* c = static_cast<uint8_t*>(codes.raw());
  c[0] = 0x38, c[1] = 0xfe, c[2] = 0x01, c[3] = 0x7f;  // 1, -448, 2^-9, NaN
  Tensor yf = dequantize({codes, Tensor::from_vector<float>({2}, {2.0f, 0.5f})}, {}, 19);  // axis 1
  auto f = yf.as_double();
  EXPECT_EQ(f[0], 2.0);
  EXPECT_EQ(f[1], -224.0);
  EXPECT_EQ(f[2], std::ldexp(1.0, -8));
  EXPECT_TRUE(std::isnan(f[3]));
  // f16 scale: f16 output.
  Tensor s16 = Tensor::scalar<float>(0.5f).to(DType::F16);
  EXPECT_EQ(dequantize({q, s16}).dtype(), DType::F16);
  EXPECT_EQ(dequantize({q, s16}).as_double()[3], 63.5);
}

TEST(QuantizeLinear, ShapeErrors) {
  Tensor x = random_tensor({4, 6}, 1);
  expect_error([&] { quantize({x, random_tensor({5}, 2, 0.1f, 1.0f)}); }, {"per-axis scale", "length 6"});
  AttributeMap at;
  at.set("block_size", int64_t{4});
  expect_error([&] { quantize({x, random_tensor({4, 3}, 2, 0.1f, 1.0f)}, at); }, {"blocks"});
  expect_error([&] { quantize({x, Tensor::scalar<float>(1.0f), Tensor(DType::F32, {})}); }, {"cannot produce f32"});
  expect_error([&] { dequantize({Tensor(DType::I8, {3}), Tensor::scalar<float>(1.0f), Tensor(DType::U8, {})}); },
               {"zero point"});
  expect_error([&] { dequantize({Tensor(DType::F32, {3}), Tensor::scalar<float>(1.0f)}); }, {"x must be"});
}

}  // namespace
}  // namespace vdrt::test
