// The float8 codecs of graph/dtype.h against a table written by Python's
// ml_dtypes (tests/data/fp8/make_float8_table.py): all 256 codes of both
// formats decode to the same float bits, and every tricky input (exact
// values, ties, one float ulp either side of a tie, subnormals, the tie with
// overflow, infinities, NaNs, signed zeros) encodes to the same code, with
// and without saturation.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <fstream>
#include <sstream>

#include "graph/dtype.h"
#include "graph/tensor.h"
#include "test_util.h"

namespace vdrt::test {
namespace {

struct Table {
  uint32_t decode[256][2] = {};  // float bits of e4m3, e5m2
  struct Encode { uint32_t x; uint32_t e4m3_sat, e4m3_nosat, e5m2_sat, e5m2_nosat; };
  std::vector<Encode> encode;
};

const Table& table() {
  static const Table t = [] {
    Table t;
    std::ifstream f(source_path("tests/data/fp8/float8_table.txt"));
    EXPECT_TRUE(f.good()) << "missing tests/data/fp8/float8_table.txt";
    std::string line;
    int decoded = 0;
    while (std::getline(f, line)) {
      std::istringstream in(line);
      std::string kind;
      in >> kind;
      in >> std::hex;
      if (kind == "decode") {
        uint32_t code;
        in >> code >> t.decode[code][0] >> t.decode[code][1];
        ++decoded;
      } else if (kind == "encode") {
        Table::Encode e;
        in >> e.x >> e.e4m3_sat >> e.e4m3_nosat >> e.e5m2_sat >> e.e5m2_nosat;
        t.encode.push_back(e);
      }
    }
    EXPECT_EQ(decoded, 256);
    return t;
  }();
  return t;
}

void expect_same_float(float got, uint32_t want_bits, const char* fmt, int code) {
  const float want = std::bit_cast<float>(want_bits);
  if (std::isnan(want)) {
    EXPECT_TRUE(std::isnan(got)) << fmt << " code " << code;
    return;
  }
  EXPECT_EQ(std::bit_cast<uint32_t>(got), want_bits) << fmt << " code " << code << ": got " << got << ", want " << want;
}

TEST(Float8, EveryCodeDecodesLikeMlDtypes) {
  for (int c = 0; c < 256; ++c) {
    expect_same_float(f8e4m3_to_float(static_cast<uint8_t>(c)), table().decode[c][0], "e4m3", c);
    expect_same_float(f8e5m2_to_float(static_cast<uint8_t>(c)), table().decode[c][1], "e5m2", c);
    EXPECT_EQ(std::bit_cast<uint32_t>(f8e4m3_decode_table()[c]), std::bit_cast<uint32_t>(f8e4m3_to_float(c)));
    EXPECT_EQ(std::bit_cast<uint32_t>(f8e5m2_decode_table()[c]), std::bit_cast<uint32_t>(f8e5m2_to_float(c)));
  }
}

TEST(Float8, EncodingMatchesMlDtypesOnTrickyValues) {
  ASSERT_GT(table().encode.size(), 3000u);
  int failures = 0;
  for (const auto& e : table().encode) {
    const float x = std::bit_cast<float>(e.x);
    const uint32_t got[4] = {float_to_f8e4m3(x, true), float_to_f8e4m3(x, false), float_to_f8e5m2(x, true),
                             float_to_f8e5m2(x, false)};
    const uint32_t want[4] = {e.e4m3_sat, e.e4m3_nosat, e.e5m2_sat, e.e5m2_nosat};
    const char* what[4] = {"e4m3 saturate", "e4m3 no-saturate", "e5m2 saturate", "e5m2 no-saturate"};
    for (int i = 0; i < 4; ++i)
      if (got[i] != want[i] && ++failures <= 20)
        ADD_FAILURE() << what[i] << " of " << x << " (0x" << std::hex << e.x << "): got 0x" << got[i] << ", want 0x"
                      << want[i];
  }
  EXPECT_EQ(failures, 0);
}

// Every finite code survives decode -> encode, in both modes.
TEST(Float8, FiniteCodesRoundTrip) {
  for (int c = 0; c < 256; ++c) {
    const uint8_t code = static_cast<uint8_t>(c);
    if (std::isfinite(f8e4m3_to_float(code))) {
      EXPECT_EQ(float_to_f8e4m3(f8e4m3_to_float(code), true), code);
      EXPECT_EQ(float_to_f8e4m3(f8e4m3_to_float(code), false), code);
    }
    if (std::isfinite(f8e5m2_to_float(code))) {
      EXPECT_EQ(float_to_f8e5m2(f8e5m2_to_float(code), true), code);
      EXPECT_EQ(float_to_f8e5m2(f8e5m2_to_float(code), false), code);
    }
  }
}

// The rules spelled out, so a wrong table cannot hide a wrong rule.
TEST(Float8, SaturationAndSpecialValues) {
  EXPECT_EQ(f8e4m3_to_float(0x7e), kF8E4M3Max);
  EXPECT_EQ(f8e5m2_to_float(0x7b), kF8E5M2Max);
  EXPECT_EQ(float_to_f8e4m3(464.0f, false), 0x7e);  // tie between 448 and (absent) 480: even, 448
  EXPECT_EQ(float_to_f8e4m3(464.1f, false), 0x7f);  // NaN: no infinity in e4m3fn
  EXPECT_EQ(float_to_f8e4m3(464.1f, true), 0x7e);
  EXPECT_EQ(float_to_f8e4m3(-INFINITY, true), 0xfe);
  EXPECT_EQ(float_to_f8e4m3(-INFINITY, false), 0xff);
  EXPECT_EQ(float_to_f8e5m2(INFINITY, false), 0x7c);
  EXPECT_EQ(float_to_f8e5m2(INFINITY, true), 0x7b);
  EXPECT_EQ(float_to_f8e5m2(61440.0f, false), 0x7c);  // tie above 57344: the even neighbour is infinity
  EXPECT_EQ(float_to_f8e5m2(61439.0f, false), 0x7b);
  EXPECT_EQ(float_to_f8e4m3(std::ldexp(1.0f, -10), true), 0x00);  // half the smallest subnormal: ties to 0
  EXPECT_EQ(float_to_f8e4m3(std::nextafter(std::ldexp(1.0f, -10), 1.0f), true), 0x01);
  EXPECT_EQ(float_to_f8e4m3(3 * std::ldexp(1.0f, -10), true), 0x02);  // 1.5 quanta: ties to even 2
  EXPECT_EQ(float_to_f8e4m3(-0.0f, true), 0x80);
  EXPECT_EQ(float_to_f8e4m3(NAN, true), 0x7f);
  EXPECT_EQ(float_to_f8e5m2(-NAN, true), 0xfe);
}

TEST(Float8, TensorConversions) {
  Tensor q = Tensor::from_vector<float>({4}, {1.0f, -0.1f, 500.0f, 0.0f}).to(DType::F8E4M3);
  ASSERT_EQ(q.dtype(), DType::F8E4M3);
  EXPECT_EQ(q.as_double(), (std::vector<double>{1.0, -0.1015625, 448.0, 0.0}));
  Tensor r = Tensor::from_vector<float>({2}, {3.0f, 1e6f}).to(DType::F8E5M2);
  EXPECT_EQ(r.as_double(), (std::vector<double>{3.0, 57344.0}));
}

}  // namespace
}  // namespace vdrt::test
