#include "tools/gemm_timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "graph/shape_inference.h"
#include "runtime/gemm_chain.h"
#include "runtime/session.h"

namespace vdrt::cli {
namespace {

std::unique_ptr<Graph> chain_graph(const GemmShape& s, int count) { return gemm_chain_graph(s.m, s.k, s.n, count); }

SessionOptions options(const std::string& device, int threads = 0) {
  SessionOptions so;
  so.device = device;
  so.threads = threads;
  so.precision = "fp32";
  so.cpu_fallback = false;  // a product the device refuses is an error, not a CPU timing
  return so;
}

double median_seconds(const std::string& device, const GemmShape& s, int count, int runs) {
  std::unique_ptr<Graph> g = chain_graph(s, count);
  const std::string out = g->outputs().back()->name();
  Session session(std::move(g), options(device));
  IoBinding io;
  io.device_inputs["x"] = session.to_device(random_normal_tensor({s.m, s.k}, 7, 1.0f));
  io.device_outputs.insert(out);
  session.run(io);  // warm-up: programs built, memory planned
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    session.run(io);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

std::string GemmShape::text() const { return std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n); }

double time_gemm_ms(const std::string& device, const GemmShape& s, int runs, int chain) {
  chain |= 1;  // odd: the last product is [M, K] x [K, N] again
  const double one = median_seconds(device, s, 1, runs);
  const double many = median_seconds(device, s, chain, runs);
  const double per = (many - one) / (chain - 1);
  // Tiny products can drown in timer noise; then the plain average stands.
  return 1e3 * (per > 0 ? per : many / chain);
}

double gemm_relative_error(const std::string& device, const GemmShape& s, int cpu_threads) {
  const TensorMap in{{"x", random_normal_tensor({s.m, s.k}, 11, 1.0f)}};
  Session gpu(chain_graph(s, 1), options(device));
  Session cpu(chain_graph(s, 1), options("cpu", cpu_threads));
  const std::vector<double> a = gpu.run(in).begin()->second.as_double();
  const std::vector<double> b = cpu.run(in).begin()->second.as_double();
  if (a.size() != b.size()) return INFINITY;
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

}  // namespace vdrt::cli
