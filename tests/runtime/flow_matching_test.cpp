#include "runtime/flow_matching.h"

#include <gtest/gtest.h>

#include "graph/error.h"

namespace vdrt {
namespace {

TEST(FlowMatching, SigmaMatchesTheContractFormula) {
  FlowMatching fm{{1000, 750, 500, 250}, 5.0};
  EXPECT_DOUBLE_EQ(fm.sigma(1000), 1.0);
  EXPECT_DOUBLE_EQ(fm.sigma(0), 0.0);
  // shift*s/(1+(shift-1)*s) at s=0.25: 1.25/2 = 0.625; at s=0.5: 2.5/3.
  EXPECT_DOUBLE_EQ(fm.sigma(250), 0.625);
  EXPECT_NEAR(fm.sigma(500), 2.5 / 3.0, 1e-15);
}

TEST(FlowMatching, X0AndRenoiseInvertEachOther) {
  FlowMatching fm{{1000, 500}, 3.0};
  std::vector<float> x0 = {0.5f, -1.0f, 2.0f}, noise = {1.0f, 0.0f, -1.0f}, x(3), back(3), v(3);
  fm.renoise(x0.data(), noise.data(), 500, x.data(), 3);
  // The flow of a straight path is noise - x0; predicting with it recovers x0.
  for (int i = 0; i < 3; ++i) v[i] = noise[i] - x0[i];
  fm.predict_x0(x.data(), v.data(), 500, back.data(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(back[i], x0[i], 1e-6);
}

TEST(FlowMatching, ParsesStepLists) {
  EXPECT_EQ(parse_timesteps("1000,750, 500,250"), (std::vector<double>{1000, 750, 500, 250}));
  EXPECT_THROW(parse_timesteps("1000,abc"), Error);
  EXPECT_THROW(parse_timesteps("2000"), Error);
  EXPECT_THROW(parse_timesteps(""), Error);
}

}  // namespace
}  // namespace vdrt
