#include "kernels/cpu/float8.h"

#include <cmath>
#include <cstring>

namespace vdrt::cpu {

float round_to_odd_float(double d) {
  const float f = static_cast<float>(d);
  if (static_cast<double>(f) == d || std::isnan(d)) return f;
  uint32_t b;
  std::memcpy(&b, &f, 4);
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) b -= 1;  // step back toward zero: truncation
  b |= 1;
  float r;
  std::memcpy(&r, &b, 4);
  return r;
}

}  // namespace vdrt::cpu
