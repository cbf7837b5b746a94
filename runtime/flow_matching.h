#pragma once
// The flow-matching scheduler of MODEL_CONTRACT.md: timesteps t in [0, 1000],
// sigma(t) = shift*s / (1 + (shift-1)*s) with s = t/1000.
#include <string>
#include <vector>

namespace vdrt {

// How a chunk goes from its initial noise to x0 (metadata vdrt.scheduler).
enum class Sampler {
  // "flow-matching": predict x0, then re-noise it to the next step with fresh
  // noise. What few-step distilled models (Self-Forcing) are trained for.
  kReNoise,
  // "flow-matching-euler": Euler steps of the flow ODE, no noise after the
  // initial one. A model trained by plain flow matching, not distilled, lands
  // near the conditional mean (a blur) under re-noising; the ODE keeps detail.
  kEuler,
};

// "flow-matching" or "flow-matching-euler"; throws vdrt::Error listing both otherwise.
Sampler parse_sampler(const std::string& name);
const char* sampler_name(Sampler sampler);

struct FlowMatching {
  std::vector<double> timesteps;  // e.g. 1000, 750, 500, 250
  double shift = 5.0;
  Sampler sampler = Sampler::kReNoise;

  double sigma(double t) const;
  // The clean estimate from the model's velocity: x0 = x - sigma(t) * v.
  void predict_x0(const float* x, const float* v, double t, float* x0, size_t n) const;
  // Re-noises x0 to the next timestep: x = (1 - sigma) * x0 + sigma * noise.
  void renoise(const float* x0, const float* noise, double t_next, float* x, size_t n) const;
  // One Euler step of dx/dsigma = v (v = noise - x0 on the straight path):
  // out = x + (sigma(t_next) - sigma(t)) * v. `out` may be `x`. To t_next = 0
  // it equals predict_x0.
  void euler_step(const float* x, const float* v, double t, double t_next, float* out, size_t n) const;
};

// Parses "1000,750,500,250"; throws vdrt::Error on anything else.
std::vector<double> parse_timesteps(const std::string& text);

}  // namespace vdrt
