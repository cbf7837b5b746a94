// Trilu against the definition: keep element (i, j) when j - i >= k (upper)
// or j - i <= k (lower).
#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

TEST(Trilu, UpperLowerEveryK) {
  Tensor x = random_tensor({2, 3, 5}, 4, 1.0f, 2.0f);
  auto xv = x.as_double();
  for (int64_t upper : {0, 1})
    for (int64_t k = -4; k <= 6; ++k) {
      Tensor y = run_op1({"Trilu", "", 14, 1, attrs({{"upper", upper}})}, {x, Tensor::scalar<int64_t>(k)});
      auto yv = y.as_double();
      for (int64_t i = 0; i < y.numel(); ++i) {
        auto c = unravel(i, x.dims());
        const bool keep = upper ? c[2] - c[1] >= k : c[2] - c[1] <= k;
        ASSERT_EQ(yv[i], keep ? xv[i] : 0.0) << "upper " << upper << " k " << k;
      }
    }
  Tensor d = run_op1({"Trilu", "", 14}, {x});  // k defaults to 0, upper to 1
  EXPECT_EQ(d.as_double()[5], 0.0);
  EXPECT_EQ(run_op1({"Trilu", "", 14}, {x, Tensor::scalar<int64_t>(INT64_MIN)}).as_double(), xv);
  expect_error([] { run_op1({"Trilu", "", 14}, {iota_f32({3})}); }, {"rank >= 2"});
}

}  // namespace
}  // namespace vdrt::test
