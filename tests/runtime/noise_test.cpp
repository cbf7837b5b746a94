#include "runtime/noise.h"

#include <gtest/gtest.h>

#include <cmath>

#include "importer/tensor_file.h"
#include "test_util.h"

namespace vdrt {
namespace {

TEST(Noise, MatchesThePythonReferenceGenerator) {
  // Written by models/vdrt_noise.py (integer arithmetic mod 2^64, float64 Box-Muller).
  NamedTensor ref = load_tensor_pb(test::source_path("models/tiny_wan/rollout_reference/noise_check.pb"));
  Tensor mine = gaussian_noise(42, 1, 2, ref.tensor.dims());
  EXPECT_LE(test::max_abs_diff(mine, ref.tensor), 1e-6);
}

TEST(Noise, IsStandardNormalAndDependsOnEveryKey) {
  Tensor a = gaussian_noise(7, 0, 0, {1, 3, 16, 32, 32});
  double sum = 0, sq = 0;
  for (double v : a.as_double()) { sum += v; sq += v * v; }
  const double n = static_cast<double>(a.numel());
  EXPECT_NEAR(sum / n, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(sq / n), 1.0, 0.02);
  EXPECT_EQ(test::max_abs_diff(a, gaussian_noise(7, 0, 0, a.dims())), 0.0);
  EXPECT_GT(test::max_abs_diff(a, gaussian_noise(8, 0, 0, a.dims())), 1.0);
  EXPECT_GT(test::max_abs_diff(a, gaussian_noise(7, 1, 0, a.dims())), 1.0);
  EXPECT_GT(test::max_abs_diff(a, gaussian_noise(7, 0, 1, a.dims())), 1.0);
}

}  // namespace
}  // namespace vdrt
