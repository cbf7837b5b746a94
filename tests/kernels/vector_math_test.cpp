// vmath::exp (kernels/cpu/vector_math.h) on floats and on GCC vectors of
// floats (the attention softmax's 16 lanes) against float64 std::exp.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/vector_math.h"

namespace vdrt::test {
namespace {

typedef float V16 __attribute__((vector_size(64)));

std::vector<float> exp_inputs() {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f, -0.0f, 1.0f, -1.0f, 88.0f, 88.7f, 88.73f, 89.0f, -87.0f, -87.3f, -87.4f, -100.0f,
                          -1e30f, 1e30f, inf, -inf, std::nanf(""), 0.34657359f, -0.34657359f, 1e-8f, -1e-8f};
  for (float v = -90.0f; v < 90.0f; v += 0.0137f) x.push_back(v);
  while (x.size() % 16) x.push_back(0.5f);
  return x;
}

TEST(VectorMath, ExpMatchesFloat64WithinTwoUlp) {
  for (float x : exp_inputs()) {
    const float got = cpu::vmath::exp(x);
    const double want = std::exp(double(x));
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(got));
    } else if (want > std::numeric_limits<float>::max()) {
      EXPECT_EQ(got, std::numeric_limits<float>::infinity()) << x;
    } else if (x > 88.3762626647949f) {
      // Above e^88.376 (2^n must stay a normal float) the result saturates
      // there until x overflows: a known shortcut, the exps of softmax and
      // GELU never get there.
      EXPECT_EQ(got, cpu::vmath::exp(88.3762626647949f)) << x;
    } else if (want < 1.2e-38) {  // below the normal range: flushed to zero
      EXPECT_LE(got, 1.2e-38f) << x;
    } else {
      const double ulp = double(std::nextafter(float(want), INFINITY)) - double(float(want));
      EXPECT_LE(std::fabs(got - want), 2 * ulp) << x;
    }
  }
}

// The vector form is the scalar one lane by lane, bit for bit: kernels may
// mix both on the same data (the attention softmax's corrections and sums).
TEST(VectorMath, ExpOnVectorsIsTheScalarPerLane) {
  const std::vector<float> x = exp_inputs();
  for (size_t i = 0; i < x.size(); i += 16) {
    V16 v;
    for (int l = 0; l < 16; ++l) v[l] = x[i + l];
    const V16 e = cpu::vmath::exp(v);
    for (int l = 0; l < 16; ++l) {
      const float s = cpu::vmath::exp(x[i + l]);
      if (std::isnan(s)) EXPECT_TRUE(std::isnan(e[l]));
      else EXPECT_EQ(e[l], s) << x[i + l];
    }
  }
}

}  // namespace
}  // namespace vdrt::test
