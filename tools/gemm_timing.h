#pragma once
// GEMM timing through the whole runtime, for `vdrt tune`: y = x W with W a
// constant (resident on the device) and x bound on the device, so only the
// device's products are measured. As bench/bench_gpu_gemm.cpp does, a chain
// of n products (alternating [K, N] and [N, K] weights) is timed against a
// chain of one, and (t_n - t_1) / (n - 1) cancels the submission and
// synchronisation cost.
#include <cstdint>
#include <string>

namespace vdrt::cli {

struct GemmShape {
  int64_t m = 0, k = 0, n = 0;
  double flops() const { return 2.0 * double(m) * double(k) * double(n); }
  std::string text() const;  // "MxKxN"
};

// Milliseconds of one M x K x N product on `device` (fp32, no CPU fallback):
// the median of `runs` calls after one warm-up. Throws vdrt::Error.
double time_gemm_ms(const std::string& device, const GemmShape& s, int runs, int chain = 5);

// max |y_device - y_cpu| / max |y_cpu| of one product on the same inputs.
double gemm_relative_error(const std::string& device, const GemmShape& s, int cpu_threads);

}  // namespace vdrt::cli
