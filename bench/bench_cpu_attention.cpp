// The dense flash attention kernel of the CPU (kernels/cpu/attention_core.h)
// at Wan2.1-1.3B head shapes (heads of 128, [B, S, H, D] layout, keys as a
// KV cache segment followed by the chunk's own tokens, as vdrt.Attention
// calls it), against the GEMM it should match per FLOP:
//   wan_reduced  12 heads, 1170 queries, 2340 cached + 1170 own keys
//                (bench/compare_ort.py --latent 30x52 --past-frames 6)
//   wan_full_2h  2 of the 12 heads at the full size: 4680 queries, 9360 + 4680
//   wan_full     all 12 at the full size, 16 threads (the H200 host's cores)
//   gemm         gemm_f32 M x N x K (args: threads, M, N, K): the projections'
//                and FFN shapes at both sizes
// Counter GFLOPs: 4 * q * keys * D * heads per call (2 * M * N * K for the
// GEMM) per second; divide by the threads for the per-core rate.
#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <random>

#include <tbb/task_arena.h>

#include "graph/tensor.h"
#include "kernels/cpu/attention_core.h"
#include "kernels/cpu/gemm.h"

namespace vdrt {
namespace {

// Allocated as the runtime allocates tensors (aligned_alloc_shared: large
// buffers on huge pages), since the kernel's speed depends on it.
struct Buffer {
  std::shared_ptr<uint8_t[]> bytes;
  int64_t n = 0;
  float* data() const { return reinterpret_cast<float*>(bytes.get()); }
  size_t size() const { return static_cast<size_t>(n); }
};

Buffer random_floats(int64_t n, uint32_t seed) {
  Buffer b{aligned_alloc_shared(static_cast<size_t>(n) * sizeof(float)), n};
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  for (int64_t i = 0; i < n; ++i) b.data()[i] = nd(rng);
  return b;
}

void attention(benchmark::State& state, int64_t heads, int64_t q_len, int64_t past, bool causal) {
  const int threads = static_cast<int>(state.range(0));
  constexpr int64_t D = 128;
  const int64_t own = q_len;
  auto q = random_floats(q_len * heads * D, 1), pk = random_floats(past * heads * D, 2);
  auto pv = random_floats(past * heads * D, 3), k = random_floats(own * heads * D, 4);
  auto v = random_floats(own * heads * D, 5);
  const Buffer out{aligned_alloc_shared(q.size() * sizeof(float)), q.n};
  cpu::AttentionParams p;
  p.q_heads = p.kv_heads = heads, p.q_len = q_len, p.head_dim = p.v_head_dim = D;
  auto bshd = [&](const Buffer& t, int64_t s) { return cpu::AttentionTensor{t.data(), s * heads * D, D, heads * D}; };
  p.q = bshd(q, q_len);
  p.kv = {{bshd(pk, past), bshd(pv, past), past}, {bshd(k, own), bshd(v, own), own}};
  p.out = out.data(), p.out_batch_stride = q_len * heads * D, p.out_head_stride = D, p.out_seq_stride = heads * D;
  p.scale = 1.0f / std::sqrt(float(D));
  p.causal = causal, p.causal_offset = past;
  tbb::task_arena arena(threads);
  for (auto _ : state) arena.execute([&] { cpu::attention_f32(p); });
  const double keys = causal ? past + (own + 1) / 2.0 : double(past + own);
  state.counters["GFLOPs"] =
      benchmark::Counter(4.0 * q_len * keys * D * heads * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void gemm(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t M = state.range(1), N = state.range(2), K = state.range(3);
  auto a = random_floats(M * K, 1), b = random_floats(K * N, 2);
  Buffer c{aligned_alloc_shared(static_cast<size_t>(M * N) * sizeof(float)), M * N};
  tbb::task_arena arena(threads);
  for (auto _ : state)
    arena.execute([&] { cpu::gemm_f32(false, false, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, c.data(), N); });
  state.counters["GFLOPs"] = benchmark::Counter(2.0 * M * N * K * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_CAPTURE(attention, wan_reduced, 12, 1170, 2340, false)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(attention, wan_reduced_causal, 12, 1170, 2340, true)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(attention, wan_full_2h, 2, 4680, 9360, false)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(attention, wan_full, 12, 4680, 9360, false)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(gemm)
    ->Args({1, 1170, 1536, 1536})
    ->Args({2, 1170, 1536, 1536})
    ->Args({1, 1170, 8960, 1536})
    ->Args({2, 1170, 8960, 1536})
    ->Args({2, 1170, 1536, 8960})
    ->Args({16, 4680, 1536, 1536})
    ->Args({16, 4680, 8960, 1536})
    ->Args({16, 4680, 1536, 8960})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace vdrt

BENCHMARK_MAIN();
