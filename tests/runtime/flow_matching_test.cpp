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

// On a straight path the flow is constant (noise - x0), so Euler steps from
// pure noise land on x0 whatever the steps; the last step, to sigma 0, is
// predict_x0's product.
TEST(FlowMatching, EulerStepsFollowAStraightPathToX0) {
  FlowMatching fm{{1000, 900, 400, 100}, 5.0, Sampler::kEuler};
  std::vector<float> x0 = {0.5f, -1.0f, 2.0f}, noise = {1.0f, 0.0f, -1.0f}, v(3), x = noise, last(3);
  for (int i = 0; i < 3; ++i) v[i] = noise[i] - x0[i];
  for (size_t k = 0; k + 1 < fm.timesteps.size(); ++k) {
    fm.euler_step(x.data(), v.data(), fm.timesteps[k], fm.timesteps[k + 1], x.data(), 3);
    // On the path: x = (1 - sigma) x0 + sigma noise at the step reached.
    const double s = fm.sigma(fm.timesteps[k + 1]);
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(x[i], (1 - s) * x0[i] + s * noise[i], 1e-6);
  }
  fm.euler_step(x.data(), v.data(), 100, 0, last.data(), 3);
  std::vector<float> predicted(3);
  fm.predict_x0(x.data(), v.data(), 100, predicted.data(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(last[i], x0[i], 1e-6);
    EXPECT_EQ(last[i], predicted[i]);
  }
}

TEST(FlowMatching, SamplerNames) {
  EXPECT_EQ(parse_sampler("flow-matching"), Sampler::kReNoise);
  EXPECT_EQ(parse_sampler("flow-matching-euler"), Sampler::kEuler);
  EXPECT_STREQ(sampler_name(Sampler::kEuler), "flow-matching-euler");
  EXPECT_STREQ(sampler_name(Sampler::kReNoise), "flow-matching");
  EXPECT_THROW(parse_sampler("euler"), Error);
}

TEST(FlowMatching, ParsesStepLists) {
  EXPECT_EQ(parse_timesteps("1000,750, 500,250"), (std::vector<double>{1000, 750, 500, 250}));
  EXPECT_THROW(parse_timesteps("1000,abc"), Error);
  EXPECT_THROW(parse_timesteps("2000"), Error);
  EXPECT_THROW(parse_timesteps(""), Error);
}

}  // namespace
}  // namespace vdrt
