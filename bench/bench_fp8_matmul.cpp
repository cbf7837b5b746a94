// Linear layers of Wan2.1-1.3B (dim 1536, FFN 8960) on the CPU, float32
// weights against float8 e4m3 weights (vdrt.QMatMul's kernel):
//   f32          the packed f32 GEMM (kernels/cpu/gemm.h) on a row-major [K, N] weight;
//   fp8          qmatmul_f8e4m3: e4m3 codes + per-channel scales, decoded in registers;
//   fp8_act      the same with per-token e4m3 activation quantisation.
// M = 1560 tokens is one latent frame at 480x832 (a 3-frame chunk is 4680);
// M = 16 shows the weight-bandwidth-bound regime of a few tokens.
// Counters: GFLOPS (2MNK per second), weight_MiB (weight bytes each call
// reads: codes + scales for fp8), speedup (f32 time / this time, both
// measured in this run; the f32 case of each shape runs first), and
// GFLOPS_per_core / speedup_cpu from process CPU time instead of wall time.
#include <benchmark/benchmark.h>

#include <time.h>

#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <random>
#include <tuple>
#include <vector>

#include "graph/dtype.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/qgemm_f8.h"
#include "kernels/cpu/qgemm_f8_microkernel.h"

namespace vdrt {
namespace {

using Shape3 = std::tuple<int64_t, int64_t, int64_t>;  // M, K, N

struct Operands {
  std::vector<float> a, w, scale, c;
  std::vector<uint8_t> codes;
};

Operands& operands(const Shape3& s) {
  static std::map<Shape3, Operands> cache;
  auto it = cache.find(s);
  if (it != cache.end()) return it->second;
  const auto [M, K, N] = s;
  Operands o;
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  o.a.resize(M * K);
  for (float& v : o.a) v = nd(rng);
  o.w.resize(K * N);
  for (float& v : o.w) v = nd(rng) * 0.02f;
  // What quantize-fp8 does: per-column absmax / 448 and RNE codes.
  o.scale.assign(N, 0.0f);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) o.scale[n] = std::max(o.scale[n], std::fabs(o.w[k * N + n]));
  for (float& v : o.scale) v = v > 0 ? v / kF8E4M3Max : 1.0f;
  o.codes.resize(K * N);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) o.codes[k * N + n] = float_to_f8e4m3(o.w[k * N + n] / o.scale[n]);
  o.c.resize(M * N);
  return cache.emplace(s, std::move(o)).first->second;
}

std::map<Shape3, double> g_f32_seconds, g_f32_cpu_seconds;  // per shape, for the speedup counters

double process_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

enum class Kind { F32, Fp8, Fp8Act };
const char* kind_name(Kind k) { return k == Kind::F32 ? "f32" : k == Kind::Fp8 ? "fp8" : "fp8_act"; }

void BM_Linear(benchmark::State& state, Kind kind, Shape3 s, const cpu::QGemmMicroKernel* variant = nullptr) {
  const auto [M, K, N] = s;
  Operands& o = operands(s);
  double seconds = 0;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    if (kind == Kind::F32)
      cpu::gemm_f32(false, false, M, N, K, 1.0f, o.a.data(), K, o.w.data(), N, 0.0f, o.c.data(), N);
    else
      cpu::qmatmul_f8e4m3(M, N, K, o.a.data(), o.codes.data(), o.scale.data(), nullptr, kind == Kind::Fp8Act,
                          o.c.data(), cpu::QGemmOptions{true, variant});
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const double iters = static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  const double mean = seconds / iters, cpu = (process_cpu_seconds() - cpu0) / iters;
  if (kind == Kind::F32) {
    g_f32_seconds[s] = mean;
    g_f32_cpu_seconds[s] = cpu;
  }
  state.counters["GFLOPS"] = 2.0 * M * N * K / mean * 1e-9;
  // Per core-second of CPU time: what the kernel gets out of the cores it
  // actually ran on, which stays meaningful when other processes share them.
  state.counters["GFLOPS_per_core"] = 2.0 * M * N * K / cpu * 1e-9;
  if (g_f32_cpu_seconds.count(s)) state.counters["speedup_cpu"] = g_f32_cpu_seconds[s] / cpu;
  state.counters["weight_MiB"] = (kind == Kind::F32 ? 4.0 * K * N : 1.0 * K * N + 4.0 * N) / (1 << 20);
  if (g_f32_seconds.count(s)) state.counters["speedup"] = g_f32_seconds[s] / mean;
}

const int kRegistered = [] {
  const Shape3 shapes[] = {{1560, 1536, 1536}, {1560, 1536, 8960}, {1560, 8960, 1536},
                           {16, 1536, 1536},   {16, 1536, 8960},   {16, 8960, 1536}};
  for (const Shape3& s : shapes)
    for (Kind k : {Kind::F32, Kind::Fp8, Kind::Fp8Act}) {
      const auto [M, K, N] = s;
      const std::string name = std::string("linear/") + kind_name(k) + "/M:" + std::to_string(M) +
                               "/K:" + std::to_string(K) + "/N:" + std::to_string(N);
      benchmark::RegisterBenchmark(name.c_str(), [k, s](benchmark::State& st) { BM_Linear(st, k, s); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  // Every micro-kernel variant this CPU runs, on the square layer.
  for (const Shape3& s : {Shape3{1560, 1536, 1536}, Shape3{16, 1536, 1536}})
    for (const cpu::QGemmMicroKernel* mk : cpu::available_qgemm_microkernels()) {
      const auto [M, K, N] = s;
      const std::string name = std::string("linear/fp8[") + mk->isa + "]/M:" + std::to_string(M) +
                               "/K:" + std::to_string(K) + "/N:" + std::to_string(N);
      benchmark::RegisterBenchmark(name.c_str(), [mk, s](benchmark::State& st) { BM_Linear(st, Kind::Fp8, s, mk); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  return 0;
}();

}  // namespace
}  // namespace vdrt

BENCHMARK_MAIN();
