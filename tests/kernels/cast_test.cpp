// Cast and CastLike. The 16-bit and 8-bit float references are built here
// from first principles (decode every code with ldexp, pick the nearest with
// ties to even), independent of graph/dtype.cpp and kernels/cpu/float8.cpp.
#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

Tensor cast(const Tensor& x, Attribute to, int64_t saturate = 1) {
  return run_op1({"Cast", "", 19, 1, attrs({{"to", to}, {"saturate", saturate}})}, {x});
}

// Value of a binary float code with `mant` mantissa bits and `bias`; no
// special values (the callers skip them).
double decode(uint32_t code, int exp_bits, int mant, int bias) {
  const uint32_t e = (code >> mant) & ((1u << exp_bits) - 1), m = code & ((1u << mant) - 1);
  const double sign = (code >> (exp_bits + mant)) & 1 ? -1 : 1;
  return sign * (e == 0 ? std::ldexp(m, 1 - bias - mant) : std::ldexp(m + (1u << mant), int(e) - bias - mant));
}

// Nearest code among finite non-negative `codes` (sorted by value), ties to
// the even code; beyond the largest by more than half an ulp -> `overflow`.
struct Table {
  std::vector<std::pair<double, uint32_t>> v;  // (value, code), ascending
  double ulp_top;
  uint32_t round(double x, uint32_t overflow) const {
    const double a = std::fabs(x);
    if (a > v.back().first + ulp_top / 2 || (a == v.back().first + ulp_top / 2 && (v.back().second & 1))) return overflow;
    auto it = std::lower_bound(v.begin(), v.end(), std::make_pair(a, 0u));
    if (it == v.end()) return v.back().second;
    if (it == v.begin() || it->first == a) return it->second;
    auto lo = std::prev(it);
    const double dl = a - lo->first, dh = it->first - a;
    if (dl < dh) return lo->second;
    if (dh < dl) return it->second;
    return (lo->second & 1) ? it->second : lo->second;
  }
};

Table table(int exp_bits, int mant, int bias, uint32_t max_code) {
  Table t;
  for (uint32_t c = 0; c <= max_code; ++c) t.v.push_back({decode(c, exp_bits, mant, bias), c});
  t.ulp_top = t.v.back().first - t.v[t.v.size() - 2].first;
  return t;
}

TEST(Cast, FloatToHalfAndBFloatRoundToNearestEven) {
  const Table half = table(5, 10, 15, 0x7bff), bf = table(8, 7, 127, 0x7f7f);
  std::mt19937 rng(1);
  std::vector<float> xs;
  for (int i = 0; i < 20000; ++i) {
    uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isfinite(f) && std::fabs(f) < 1e6) xs.push_back(f);
    xs.push_back(std::ldexp(static_cast<float>(rng() % 4096) / 4096.0f, static_cast<int>(rng() % 40) - 30));
  }
  for (float tie : {1.0f + std::ldexp(1.0f, -11), 1.0f + 3 * std::ldexp(1.0f, -11), 65520.0f, 65519.0f, -0.0f})
    xs.push_back(tie);
  Tensor x = Tensor::from_vector<float>({static_cast<int64_t>(xs.size())}, xs);
  Tensor h = cast(x, int64_t{10}), b = cast(x, int64_t{16});
  ASSERT_EQ(h.dtype(), DType::F16);
  ASSERT_EQ(b.dtype(), DType::BF16);
  auto hp = static_cast<const uint16_t*>(h.raw()), bp = static_cast<const uint16_t*>(b.raw());
  for (size_t i = 0; i < xs.size(); ++i) {
    const uint32_t sign_h = std::signbit(xs[i]) ? 0x8000 : 0;
    ASSERT_EQ(hp[i], sign_h | half.round(xs[i], 0x7c00)) << xs[i];
    ASSERT_EQ(bp[i], sign_h | bf.round(xs[i], 0x7f80)) << xs[i];
  }
  // And back: every finite half widens exactly.
  std::vector<double> back = Tensor(h).to(DType::F32).as_double();
  auto wide = cast(h, int64_t{1}).as_double();
  EXPECT_EQ(wide, back);
}

TEST(Cast, DoubleToHalfRoundsOnce) {
  // Just above the tie between 1 and 1 + 2^-10: correct rounding goes up; a
  // detour through float would land on the tie and round to even (down).
  const double d = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  Tensor h = cast(Tensor::from_vector<double>({1}, {d}), int64_t{10});
  EXPECT_EQ(h.as_double()[0], 1.0 + std::ldexp(1.0, -10));
  Tensor b = cast(Tensor::from_vector<double>({1}, {1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40)}), int64_t{16});
  EXPECT_EQ(b.as_double()[0], 1.0 + std::ldexp(1.0, -7));
}

TEST(Cast, FloatToIntTruncatesAndIntsWrap) {
  Tensor x = Tensor::from_vector<float>({6}, {-2.7f, 2.7f, 200.9f, -0.5f, 0.0f, 1e3f});
  EXPECT_EQ(cast(x, int64_t{7}).as_int64(), (std::vector<int64_t>{-2, 2, 200, 0, 0, 1000}));
  EXPECT_EQ(cast(x, int64_t{6}).dtype(), DType::I32);
  EXPECT_EQ(cast(x, int64_t{9}).as_int64(), (std::vector<int64_t>{1, 1, 1, 1, 0, 1}));
  Tensor nan = Tensor::from_vector<float>({1}, {NAN});
  EXPECT_EQ(cast(nan, int64_t{9}).as_int64()[0], 1);  // NaN is not zero
  Tensor big = Tensor::from_vector<int64_t>({2}, {(int64_t{1} << 32) + 5, -1});
  EXPECT_EQ(cast(big, int64_t{6}).as_int64(), (std::vector<int64_t>{5, -1}));
  EXPECT_EQ(cast(big, int64_t{2}).as_int64(), (std::vector<int64_t>{5, 255}));
  Tensor flags = Tensor::from_vector<bool>({3}, {true, false, true});
  EXPECT_EQ(cast(flags, int64_t{1}).as_double(), (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(cast(Tensor::from_vector<int32_t>({3}, {0, -3, 4}), int64_t{9}).as_int64(), (std::vector<int64_t>{0, 1, 1}));
}

TEST(Cast, Float8EveryCodeRoundTripsAndSaturates) {
  struct Fmt { int64_t onnx; int exp_bits, mant, bias; uint32_t max_code, overflow_nosat; } fmts[] = {
      {17, 4, 3, 7, 0x7e, 0x7f}, {19, 5, 2, 15, 0x7b, 0x7c}};
  for (const Fmt& f : fmts) {
    const Table t = table(f.exp_bits, f.mant, f.bias, f.max_code);
    std::vector<float> xs;
    for (uint32_t c = 0; c <= f.max_code; ++c) {
      xs.push_back(static_cast<float>(decode(c, f.exp_bits, f.mant, f.bias)));
      xs.push_back(-xs.back());
      if (c < f.max_code) xs.push_back(static_cast<float>((decode(c, f.exp_bits, f.mant, f.bias) +
                                                           decode(c + 1, f.exp_bits, f.mant, f.bias)) / 2));  // ties
    }
    xs.push_back(static_cast<float>(t.v.back().first * 1.2));
    xs.push_back(INFINITY);
    Tensor x = Tensor::from_vector<float>({static_cast<int64_t>(xs.size())}, xs);
    for (int64_t sat : {1, 0}) {
      Tensor y = cast(x, f.onnx, sat);
      auto p = static_cast<const uint8_t*>(y.raw());
      for (size_t i = 0; i < xs.size(); ++i) {
        uint32_t want = t.round(xs[i], sat ? f.max_code : f.overflow_nosat);
        if (std::isinf(xs[i])) want = sat ? f.max_code : f.overflow_nosat;
        ASSERT_EQ(p[i], (std::signbit(xs[i]) ? 0x80u : 0u) | want) << "format " << f.onnx << " value " << xs[i];
      }
      // Decoding gives the exact values back.
      auto back = cast(y, int64_t{1}).as_double();
      for (size_t i = 0; i < xs.size(); ++i)
        if (std::isfinite(back[i])) ASSERT_EQ(back[i], decode(p[i], f.exp_bits, f.mant, f.bias)) << i;
    }
  }
}

TEST(Cast, AttributeSpellingsAndCastLike) {
  Tensor x = Tensor::from_vector<float>({2}, {1.5f, -2.0f});
  EXPECT_EQ(cast(x, std::string("f64")).dtype(), DType::F64);
  Tensor like = run_op1({"CastLike"}, {x, Tensor(DType::I32, {0})});
  EXPECT_EQ(like.dtype(), DType::I32);
  EXPECT_EQ(like.as_int64(), (std::vector<int64_t>{1, -2}));
  expect_error([&] { cast(x, int64_t{8}); }, {"STRING"});
  expect_error([&] { run_op1({"Cast"}, {x}); }, {"'to'"});
}

}  // namespace
}  // namespace vdrt::test
