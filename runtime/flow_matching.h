#pragma once
// The flow-matching scheduler of MODEL_CONTRACT.md: timesteps t in [0, 1000],
// sigma(t) = shift*s / (1 + (shift-1)*s) with s = t/1000.
#include <string>
#include <vector>

namespace vdrt {

struct FlowMatching {
  std::vector<double> timesteps;  // e.g. 1000, 750, 500, 250
  double shift = 5.0;

  double sigma(double t) const;
  // The clean estimate from the model's velocity: x0 = x - sigma(t) * v.
  void predict_x0(const float* x, const float* v, double t, float* x0, size_t n) const;
  // Re-noises x0 to the next timestep: x = (1 - sigma) * x0 + sigma * noise.
  void renoise(const float* x0, const float* noise, double t_next, float* x, size_t n) const;
};

// Parses "1000,750,500,250"; throws vdrt::Error on anything else.
std::vector<double> parse_timesteps(const std::string& text);

}  // namespace vdrt
