// vdrt.MulAdd (Y = A * (B + offset) + C) on the CPU against a float64
// reference, over the broadcasts fuse-modulation produces (adaLN's [B, 1, D]
// scale, shift and gate over [B, S, D]) and every stride mix of the inner loop.
#include <gtest/gtest.h>

#include "math_test_util.h"

namespace vdrt::test {
namespace {

struct MulAddCase {
  std::vector<int64_t> a, b, c;
  float offset;
};

std::vector<double> reference(const Tensor& a, const Tensor& b, const Tensor& c, double k,
                              const std::vector<int64_t>& out_dims) {
  auto av = a.as_double(), bv = b.as_double(), cv = c.as_double();
  std::vector<double> out(static_cast<size_t>(numel(out_dims)));
  for (size_t i = 0; i < out.size(); ++i) {
    auto at = unravel(static_cast<int64_t>(i), out_dims);
    out[i] = av[broadcast_index(a.dims(), at)] * (bv[broadcast_index(b.dims(), at)] + k) +
             cv[broadcast_index(c.dims(), at)];
  }
  return out;
}

class MulAddShapes : public ::testing::TestWithParam<MulAddCase> {};

TEST_P(MulAddShapes, MatchesFloat64) {
  const MulAddCase& p = GetParam();
  Tensor a = random_tensor(p.a, 1), b = random_tensor(p.b, 2), c = random_tensor(p.c, 3);
  OpCall call{"MulAdd", "vdrt"};
  call.attrs.set("offset", p.offset);
  Tensor y = run_op1(call, {a, b, c});
  const auto dims = broadcast_dims(broadcast_dims(p.a, p.b), p.c);
  EXPECT_EQ(y.dims(), dims);
  // Three float32 roundings (or two with a fused multiply-add) of values below 4.
  EXPECT_LT(max_error(y, reference(a, b, c, p.offset, dims)), 2e-6);
}

INSTANTIATE_TEST_SUITE_P(
    Broadcasts, MulAddShapes,
    ::testing::Values(MulAddCase{{2, 45, 64}, {2, 1, 64}, {2, 1, 64}, 1.0f},   // adaLN modulation
                      MulAddCase{{2, 45, 64}, {2, 1, 64}, {2, 45, 64}, 0.0f},  // gated residual
                      MulAddCase{{3, 7}, {3, 7}, {3, 7}, 0.5f},                // all contiguous
                      MulAddCase{{3, 7}, {}, {7}, -2.0f},                      // scalar b
                      MulAddCase{{}, {3, 7}, {3, 1}, 1.0f},                    // scalar a, column c
                      MulAddCase{{5, 1}, {1, 6}, {}, 1.0f},                    // outer product, scalar c
                      MulAddCase{{1}, {1}, {1}, 3.0f},                         // one element
                      MulAddCase{{4, 1, 3}, {1, 5, 1}, {4, 5, 1}, 0.25f},      // every operand repeats
                      MulAddCase{{2, 300, 257}, {2, 1, 257}, {2, 300, 257}, 1.0f},  // several threads
                      MulAddCase{{0, 8}, {8}, {8}, 1.0f}));                    // empty

TEST(MulAdd, ShapeFunctionRejectsWhatDoesNotBroadcast) {
  OpCall call{"MulAdd", "vdrt"};
  EXPECT_THROW(run_op1(call, {random_tensor({2, 8}, 1), random_tensor({7}, 2), random_tensor({8}, 3)}), Error);
  EXPECT_THROW(run_op1(call, {random_tensor({2, 8}, 1), random_tensor({8}, 2), Tensor::scalar<double>(1.0)}), Error);
}

}  // namespace
}  // namespace vdrt::test
