// Self-attention of one chunk over a KV cache of 21, 81 and 240 latent
// frames (5 s, 20 s and 1 min of Wan-like video), on the CPU:
//   dense        vdrt's dense flash kernel (kernels/cpu/attention_core.h) over the
//                contiguous [past ; chunk] keys, as vdrt.Attention with a dense cache;
//   dense-blocks the block-sparse kernel with every block selected (same
//                math as dense, through the sparse path: its overhead alone);
//   pbsa         vdrt.PBSAttention over a PBSA block cache (window + memory);
//   hsa          vdrt.HSAttention over a block cache holding every frame;
//   hsa-window   the same with the cache policy window:60,sink:1 (frames), which
//                bounds HSA's cache the way `--cache window:N,sink:S` does;
//   lightforcing vdrt.HSAttention in Light Forcing's short setting (1-D 64-token
//                blocks, this chunk competing, keep 6 = 1 + 2 + 3, CAG 0.88 / 0.98).
// Counters: kv_MiB (cache bytes), kv_vs_dense (fraction of the dense
// cache's bytes), keys (keys visited per query row, averaged),
// speedup (the fastest dense repetition's time / this time, both measured in
// this run), cpu_s (CPU seconds of all threads per call, from getrusage:
// steadier than wall time on a shared machine) and cpu_speedup (the same
// ratio on CPU seconds).
//
// Sizes, scaled to a 2-core CPU (Wan 1.3B: 1560 tokens per frame, 12 heads
// of 128): 256 tokens per frame (a 16x16 grid), 4 heads of 64, chunks of 3
// frames (768 queries), blocks of 8x8 tokens (4 per frame).
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <map>
#include <random>

#include "graph/ops/sparse_attention_params.h"
#include "kernels/cpu/attention_core.h"
#include "kernels/cpu/kernel.h"
#include "runtime/block_kv_cache.h"

namespace vdrt {
namespace {

constexpr int64_t kGrid = 16, kTile = 8, kP = kGrid * kGrid, kHeads = 4, kDim = 64, kChunkFrames = 3;
constexpr int64_t kS = kChunkFrames * kP;
const float kScale = 1.0f / std::sqrt(static_cast<float>(kDim));

Tensor random_tensor(std::vector<int64_t> dims, uint32_t seed) {
  Tensor t(DType::F32, std::move(dims));
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = nd(rng);
  return t;
}

SparseAttentionParams params(SparseMethod m) {
  SparseAttentionParams p;
  p.method = m;
  p.scale = kScale;
  p.num_heads = p.kv_num_heads = kHeads;
  p.layout = BlockLayout{kGrid, kGrid, kTile, kTile};
  if (m == SparseMethod::Pbsa) {
    p.window_frames = 9;     // 3 chunks
    p.top_k = 12;            // of the window's 36 blocks
    p.memory_blocks = 48;    // 12 frames' worth of salient blocks per head
    p.saliency_decay = 0.9f;
    p.sink_frames = 1;
  } else {
    p.sink_frames = 1;
    p.top_frames = 8;        // besides the sink frame
    p.top_blocks = 24;       // of the kept frames' 36 blocks
  }
  return p;
}

// Light Forcing's short setting (passes/pipelines/lightforcing_short.toml):
// 1-D blocks of 64 tokens (4 per 256-token frame, as the tiles), this
// chunk's blocks competing in one top-k of int((1 - s) * K_all), keep 6
// frames = 1 sink + 2 near + 3 chosen, CAG 0.88 / 0.98 (s continues along
// base - beta / sqrt(frames) past the 21 frames beta is solved over).
SparseAttentionParams lightforcing_params() {
  SparseAttentionParams p;
  p.method = SparseMethod::Hsa;
  p.scale = kScale;
  p.num_heads = p.kv_num_heads = kHeads;
  p.layout = BlockLayout{kGrid, kGrid, 0, 0, kTile * kTile};
  p.sink_frames = 1;
  p.keep_frames = 6;
  p.keep_near = 2;
  p.current_chunk = SparseAttentionParams::CurrentChunk::Compete;
  p.cag.curve = CagSchedule::Curve::LightForcing;
  p.cag.target = 0.88;
  p.cag.base = 0.98;
  return p;
}

struct Setup {
  Tensor q, k, v;              // the chunk
  Tensor past_k, past_v;       // the dense cache
  std::shared_ptr<BlockKvCache> pbsa, hsa, hsa_window, all, lightforcing;
};

// Builds the caches of `frames` frames chunk by chunk, as a rollout would
// (the PBSA cache evicting as it goes).
const Setup& setup(int64_t frames) {
  static std::map<int64_t, Setup> cache;
  auto it = cache.find(frames);
  if (it != cache.end()) return it->second;
  Setup s;
  s.q = random_tensor({1, kS, kHeads, kDim}, 1);
  s.k = random_tensor({1, kS, kHeads, kDim}, 2);
  s.v = random_tensor({1, kS, kHeads, kDim}, 3);
  s.past_k = random_tensor({1, frames * kP, kHeads, kDim}, 4);
  s.past_v = random_tensor({1, frames * kP, kHeads, kDim}, 5);
  SparseAttentionParams all = params(SparseMethod::Pbsa);
  all.window_frames = 1 << 20;
  all.top_k = 0;
  s.pbsa = std::make_shared<BlockKvCache>(1, kHeads, kDim, kDim, params(SparseMethod::Pbsa), CachePolicy::parse("pbsa"));
  s.hsa = std::make_shared<BlockKvCache>(1, kHeads, kDim, kDim, params(SparseMethod::Hsa));
  s.hsa_window = std::make_shared<BlockKvCache>(1, kHeads, kDim, kDim, params(SparseMethod::Hsa),
                                                CachePolicy::parse("window:60,sink:1"));
  s.all = std::make_shared<BlockKvCache>(1, kHeads, kDim, kDim, all);
  s.lightforcing = std::make_shared<BlockKvCache>(1, kHeads, kDim, kDim, lightforcing_params());
  const int64_t row = kHeads * kDim;
  for (int64_t f0 = 0; f0 < frames; f0 += kChunkFrames) {
    const int64_t n = std::min(kChunkFrames, frames - f0) * kP;
    Tensor ck(DType::F32, {1, n, kHeads, kDim}), cv(DType::F32, {1, n, kHeads, kDim});
    std::copy_n(s.past_k.data<float>() + f0 * kP * row, n * row, ck.data<float>());
    std::copy_n(s.past_v.data<float>() + f0 * kP * row, n * row, cv.data<float>());
    for (auto* c : {s.pbsa.get(), s.hsa.get(), s.hsa_window.get(), s.all.get(), s.lightforcing.get()}) {
      c->begin_chunk(f0 / kChunkFrames);
      c->append(ck, cv);
    }
  }
  for (auto* c : {s.pbsa.get(), s.hsa.get(), s.hsa_window.get(), s.all.get(), s.lightforcing.get()})
    c->begin_chunk(frames / kChunkFrames);
  return cache.emplace(frames, std::move(s)).first->second;
}

void run_dense(const Setup& s) {
  cpu::AttentionParams p;
  p.batch = 1;
  p.q_heads = p.kv_heads = kHeads;
  p.q_len = kS;
  p.head_dim = p.v_head_dim = kDim;
  auto view = [](const Tensor& t) {
    return cpu::AttentionTensor{t.data<float>(), t.dims()[1] * kHeads * kDim, kDim, kHeads * kDim};
  };
  p.q = view(s.q);
  p.kv = {cpu::AttentionKV{view(s.past_k), view(s.past_v), s.past_k.dims()[1]},
          cpu::AttentionKV{view(s.k), view(s.v), kS}};
  static Tensor out(DType::F32, {1, kS, kHeads, kDim});
  p.out = out.data<float>();
  p.out_batch_stride = kS * kHeads * kDim;
  p.out_head_stride = kDim;
  p.out_seq_stride = kHeads * kDim;
  p.scale = kScale;
  cpu::attention_f32(p);
}

void run_sparse(const Setup& s, SparseMethod m, BlockKvCache& cache, const SparseAttentionParams& p) {
  static Tensor out(DType::F32, {1, kS, kHeads, kDim});
  AttributeMap attrs;
  p.to_attributes(attrs);
  const cpu::Kernel* k = cpu::KernelRegistry::instance().find("vdrt", sparse_method_op(m));
  auto view = [](const Tensor& t) { return cpu::TensorView{t.dtype(), t.dims(), const_cast<void*>(t.raw())}; };
  cpu::KernelContext ctx{attrs, 1, {view(s.q), view(s.k), view(s.v)}, {view(out)}};
  ctx.state = &cache;
  k->run(ctx);
}

std::map<int64_t, double> g_dense_seconds, g_dense_cpu;  // per cache length, for the speedup counters

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

void BM_Attention(benchmark::State& state, const std::string& method, int64_t frames) {
  const Setup& s = setup(frames);
  const size_t dense_bytes = 2 * s.past_k.nbytes();
  const bool lf = method == "lightforcing";
  const bool hsa = method.rfind("hsa", 0) == 0 || lf;
  SparseAttentionParams p = lf ? lightforcing_params() : params(hsa ? SparseMethod::Hsa : SparseMethod::Pbsa);
  if (method == "dense-blocks") {
    p.window_frames = 1 << 20;
    p.top_k = 0;
  }
  BlockKvCache* cache = method == "pbsa"         ? s.pbsa.get()
                        : method == "hsa"        ? s.hsa.get()
                        : method == "hsa-window" ? s.hsa_window.get()
                        : lf                     ? s.lightforcing.get()
                                                 : s.all.get();
  const SparseMethod m = hsa ? SparseMethod::Hsa : SparseMethod::Pbsa;
  double seconds = 0;
  int64_t iters = 0;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    if (method == "dense") run_dense(s);
    else run_sparse(s, m, *cache, p);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++iters;
  }
  const double mean = seconds / std::max<int64_t>(iters, 1);
  const double cpu = (process_cpu_seconds() - cpu0) / std::max<int64_t>(iters, 1);
  if (method == "dense") {
    g_dense_seconds[frames] = g_dense_seconds.count(frames) ? std::min(g_dense_seconds[frames], mean) : mean;
    g_dense_cpu[frames] = g_dense_cpu.count(frames) ? std::min(g_dense_cpu[frames], cpu) : cpu;
  }
  state.counters["cpu_s"] = cpu;
  if (g_dense_cpu.count(frames)) state.counters["cpu_speedup"] = g_dense_cpu[frames] / cpu;
  const size_t bytes = method == "dense" ? dense_bytes : cache->bytes();
  state.counters["kv_MiB"] = static_cast<double>(bytes) / (1 << 20);
  state.counters["kv_vs_dense"] = static_cast<double>(bytes) / static_cast<double>(dense_bytes);
  if (g_dense_seconds.count(frames)) state.counters["speedup"] = g_dense_seconds[frames] / mean;
  // Keys a query row visits: the chunk plus the selected cached keys.
  double keys = static_cast<double>(kS + frames * kP);
  const int64_t tiles = (kGrid / kTile) * (kGrid / kTile);
  if (method == "pbsa")
    keys = kS + static_cast<double>(std::min<int64_t>(p.top_k, cache->window_frames_held() * tiles) +
                                    cache->memory_blocks_held(0, 0)) *
                    kTile * kTile;
  if (hsa && !lf) keys = kS + static_cast<double>(std::min<int64_t>(p.top_blocks, frames * tiles)) * kTile * kTile;
  // Light Forcing: int((1 - s) * K_all) blocks, this chunk's included, at most the kept frames' and the chunk's.
  if (lf) {
    const int64_t chunk_blocks = kS / (kTile * kTile);
    const int64_t budget = p.cag.keep_floor(frames / kChunkFrames, frames * tiles + chunk_blocks);
    const int64_t candidates = std::min<int64_t>(frames, p.keep_frames) * tiles + chunk_blocks;
    keys = static_cast<double>(std::min(budget, candidates)) * kTile * kTile;
  }
  state.counters["keys"] = keys;
}

void register_all() {
  for (int64_t frames : {21, 81, 240})
    for (const char* method : {"dense", "dense-blocks", "pbsa", "hsa", "hsa-window", "lightforcing"})
      benchmark::RegisterBenchmark(("attention/" + std::string(method) + "/frames:" + std::to_string(frames)).c_str(),
                                   [method, frames](benchmark::State& st) { BM_Attention(st, method, frames); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->MinTime(1.0);
}

}  // namespace
}  // namespace vdrt

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  vdrt::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
