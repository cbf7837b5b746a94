#include "runtime/flow_matching.h"

#include <sstream>

#include "graph/error.h"

namespace vdrt {

double FlowMatching::sigma(double t) const {
  double s = t / 1000.0;
  return shift * s / (1.0 + (shift - 1.0) * s);
}

void FlowMatching::predict_x0(const float* x, const float* v, double t, float* x0, size_t n) const {
  const float sg = static_cast<float>(sigma(t));
  for (size_t i = 0; i < n; ++i) x0[i] = x[i] - sg * v[i];
}

void FlowMatching::renoise(const float* x0, const float* noise, double t_next, float* x, size_t n) const {
  const float sg = static_cast<float>(sigma(t_next));
  for (size_t i = 0; i < n; ++i) x[i] = (1.0f - sg) * x0[i] + sg * noise[i];
}

void FlowMatching::euler_step(const float* x, const float* v, double t, double t_next, float* out, size_t n) const {
  const float step = static_cast<float>(sigma(t_next) - sigma(t));
  for (size_t i = 0; i < n; ++i) out[i] = x[i] + step * v[i];
}

Sampler parse_sampler(const std::string& name) {
  if (name == "flow-matching") return Sampler::kReNoise;
  if (name == "flow-matching-euler") return Sampler::kEuler;
  throw Error("unknown scheduler '" + name + "' (schedulers: flow-matching, flow-matching-euler)");
}

const char* sampler_name(Sampler sampler) {
  return sampler == Sampler::kEuler ? "flow-matching-euler" : "flow-matching";
}

std::vector<double> parse_timesteps(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      double t = std::stod(item, &used);
      VDRT_CHECK(used == item.size() || item.find_first_not_of(" \t", used) == std::string::npos, "");
      VDRT_CHECK(t >= 0 && t <= 1000, "");
      out.push_back(t);
    } catch (const std::exception&) {
      throw Error("bad denoising step list '" + text + "': expected numbers in [0, 1000] separated by commas");
    }
  }
  VDRT_CHECK(!out.empty(), "empty denoising step list");
  return out;
}

}  // namespace vdrt
