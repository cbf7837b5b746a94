// vdrt.PBSAttention / vdrt.HSAttention at the head dims of real models (64,
// 128), where fp16 sessions on a device with NV cooperative matrices (the
// H200) run sparse_flash_coopmat:
//  * SparseCoopmatPlan (no device): the planner takes the tensor-core kernel
//    exactly where dense attention takes flash_attention_coopmat, with the
//    f16 copies it reads, and keeps sparse_flash everywhere else;
//  * SparseCoopmatParity: stateless cases against the CPU kernel;
//  * SparseCoopmatRollout: the device block cache (stateful: pools, PBSA's
//    masses, compressed memory rows, pooled_refresh, HSA compete) against
//    the CPU's host cache, chunk for chunk.
// The device suites run twice: fp32 on every GPU backend (sparse_flash, 1e-4),
// and fp16 on Vulkan; where Vulkan has cooperative matrices the error must lie between f16 rounding and 2e-2 of the largest output: above 1e-5,
// so the fp32 kernel cannot pass for the tensor-core one. Without them the
// fp16 instances run the fp32 kernel at fp32 tolerance, or fail under
// VDRT_REQUIRE_COOPMAT=1; except the rollouts, whose device cache keeps f16
// pools in fp16 sessions on Vulkan (the same f16 band, on every device).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

#include "backends/gpu_backend_common.h"
#include "backends/h200_caps.h"
#include "backends/parity.h"
#include "backends/sparse_cases.h"
#include "graph/ops/sparse_attention_params.h"
#include "graph/shape_inference.h"
#include "runtime/block_kv_cache.h"
#include "runtime/device_block_kv_cache.h"
#include "runtime/session.h"
#include "runtime/sparse_kv_binding.h"

namespace vdrt::test {
namespace {

// The head dims of real models: 4 query heads over 2 key heads of 128 unless a case says otherwise.
SparseCase model_case(std::string name, SparseAttentionParams params) {
  SparseCase c{std::move(name), std::move(params)};
  c.hq = 4, c.hkv = 2, c.d = 128;
  return c;
}

// The H200 as the backend reports it, with its real group-count limit.
gpu::DeviceCaps h200(const std::string& precision) {
  gpu::DeviceCaps c = h200_caps(precision);
  c.max_groups_x = 0x7fffffffu;
  return c;
}

gpu::Program plan(const SparseCase& c, const gpu::DeviceCaps& caps, bool stateful = false) {
  std::unique_ptr<Graph> g = build(c);
  std::vector<TensorDesc> in;
  for (const Value* v : g->inputs()) {
    std::vector<int64_t> dims;
    for (const Dim& d : v->shape().dims()) dims.push_back(d.value());
    in.push_back({DType::F32, dims});
  }
  std::vector<int64_t> od = in[0].dims;
  const std::vector<const Tensor*> known(in.size(), nullptr);
  return gpu::plan("test", *g->nodes().front(), 18, in, {{DType::F32, od}}, known, caps, stateful);
}

std::vector<std::string> shaders(const gpu::Program& p) {
  std::vector<std::string> s;
  for (const auto& d : p.dispatches) s.push_back(d.shader);
  return s;
}

using Shaders = std::vector<std::string>;

// PBSA over 8 x 8 tiles of a 30 x 52 grid (Wan's 8x8 preset, scaled down in frames).
SparseCase wan_pbsa(int64_t d) {
  SparseCase c = model_case("WanPbsa", tiles(SparseMethod::Pbsa, 30, 52, 8, 8));
  c.params.top_k = 10;
  c.frames = 3, c.past_frames = 2, c.hq = 12, c.hkv = 12, c.d = d;
  return c;
}

TEST(SparseCoopmatPlan, Fp16OnCooperativeMatricesTakesTheTensorCoreKernel) {
  const SparseCase c = wan_pbsa(128);
  const gpu::Program p = plan(c, h200("fp16"));
  // Pool, score and select as before; one f16 copy of the past then this
  // chunk's keys, one of the values: every key row in one buffer.
  ASSERT_EQ(shaders(p), (Shaders{"sparse_pool_keys", "sparse_score", "sparse_select", "flash_attention_f16_rows",
                                 "flash_attention_f16_rows", "sparse_flash_coopmat"}));
  const int64_t S = 3 * 1560, T = 2 * 1560;
  ASSERT_EQ(p.scratch_bytes.size(), 6u);
  EXPECT_EQ(p.scratch_bytes[4], size_t(12 * (T + S) * 128 * 2));  // [B, Hkv, T + Sk, D] f16
  EXPECT_EQ(p.scratch_bytes[5], size_t(12 * (T + S) * 128 * 2));
  const gpu::Dispatch& conv = p.dispatches[3];
  // total, d/4, heads, rows, T rows from past_key, then S from key, then both views' [B, S, H, D] strides.
  EXPECT_EQ(conv.push, (std::vector<uint32_t>{uint32_t(12 * (T + S) * 32), 32, 12, uint32_t(T + S), uint32_t(T),
                                              uint32_t(S), uint32_t(T * 12 * 128), 128, 12 * 128,
                                              uint32_t(S * 12 * 128), 128, 12 * 128}));
  EXPECT_EQ(conv.args[0].index, 3u);  // past_key
  EXPECT_EQ(conv.args[1].index, 1u);  // key
  EXPECT_EQ(p.dispatches[4].args[0].index, 4u);  // past_value
  const gpu::Dispatch& f = p.dispatches.back();
  EXPECT_EQ(f.spec, (std::vector<uint32_t>{32, 128, 0, 1, 1, 0, 0}));  // BK, NT, GLOBAL_KV, PREFETCH, DENSE, STATEFUL, MASS
  ASSERT_EQ(f.args.size(), 9u);
  EXPECT_EQ(f.args[1].kind, gpu::Arg::Scratch);
  EXPECT_EQ(f.args[1].index, 4u);
  EXPECT_EQ(f.args[2].index, 5u);
  // One group of 128 per 64 rows of a query block (8 x 8 tiles: one), 28 tiles a frame.
  EXPECT_EQ(f.groups[0], uint32_t(12 * 3 * 28));
  // The same parameters as sparse_flash's.
  const gpu::Program fp32 = plan(c, h200("fp32"));
  EXPECT_EQ(fp32.dispatches.back().shader, "sparse_flash");
  EXPECT_EQ(f.push, fp32.dispatches.back().push);

  EXPECT_EQ(plan(wan_pbsa(64), h200("fp16")).dispatches.back().shader, "sparse_flash_coopmat_d64");
  // OpenCL's tensor cores (inline PTX): the same plan, the same kernel names.
  const gpu::Program cl = plan(c, h200_opencl_caps("fp16"));
  EXPECT_EQ(shaders(cl), shaders(p));
  EXPECT_EQ(cl.dispatches.back().spec, f.spec);
}

// The Wan PBSA case with a device cache: no past inputs, a memory of 64
// blocks ranked by `rank`.
SparseCase wan_pbsa_cached(SparseAttentionParams::MemoryRank rank) {
  SparseCase c = wan_pbsa(128);
  c.past_frames = 0;
  c.params.memory_blocks = 64;
  c.params.memory_rank = rank;
  return c;
}

TEST(SparseCoopmatPlan, StatefulReadsEveryKeyFromThePools) {
  const SparseCase c = wan_pbsa_cached(SparseAttentionParams::MemoryRank::Accumulated);
  const gpu::Program p = plan(c, h200("fp16"), true);
  // No past frames cut into blocks: no pooling and no f16 copies; this
  // chunk's blocks go into their reserved slots before the kernel, in every
  // pass (the kernel reads all keys from the pools), then the mass reduction.
  const Shaders s = shaders(p);
  ASSERT_EQ(s, (Shaders{"sparse_score", "sparse_select", "sparse_append", "sparse_flash_coopmat", "sparse_mass_reduce"}));
  const gpu::Dispatch& f = p.dispatches[3];
  EXPECT_EQ(f.spec[5], 1u);  // STATEFUL
  EXPECT_EQ(f.spec[6], 1u);  // MASS: accumulated masses in the cache-filling pass
  EXPECT_EQ(f.args[7].kind, gpu::Arg::State);
  EXPECT_EQ(f.args[7].index, uint32_t(sparse_device::kKeys));
  EXPECT_EQ(f.args[8].index, uint32_t(sparse_device::kValues));
  EXPECT_EQ(f.args[6].kind, gpu::Arg::State);
  EXPECT_EQ(f.args[6].index, uint32_t(sparse_device::kMass));
  // The fp32 kernel reads every key from the pools too.
  const Shaders fp32 = shaders(plan(c, h200("fp32"), true));
  EXPECT_EQ(fp32, (Shaders{"sparse_score", "sparse_select", "sparse_append", "sparse_flash", "sparse_mass_reduce"}));
}

// fp16 sessions on Vulkan keep the device cache's pools in f16: every
// kernel that touches them gets HALF, and scoring reads the f32 mean keys.
TEST(SparseCoopmatPlan, Fp16SessionsKeepHalfPools) {
  const SparseCase c = wan_pbsa_cached(SparseAttentionParams::MemoryRank::PooledRefresh);
  const gpu::Program p = plan(c, h200("fp16"), true);
  ASSERT_EQ(shaders(p), (Shaders{"sparse_score", "sparse_select", "sparse_append", "sparse_flash_coopmat",
                                 "sparse_importance"}));
  const gpu::Dispatch &score = p.dispatches[0], &append = p.dispatches[2], &flash = p.dispatches[3],
                      &imp = p.dispatches[4];
  EXPECT_EQ(score.spec, (std::vector<uint32_t>{128, 1, 1, 1}));  // D, STATEFUL, WRITE_PQ, HALF
  EXPECT_EQ(score.args[1].index, uint32_t(sparse_device::kMeanKeys));
  EXPECT_EQ(append.spec, (std::vector<uint32_t>{1}));
  ASSERT_EQ(append.args.size(), 6u);
  EXPECT_EQ(append.args[5].index, uint32_t(sparse_device::kMeanKeys));
  EXPECT_TRUE(append.writes[5]);
  // One invocation per pair of dims: dims (push word after R1) is D / 2.
  const size_t dims_at = append.push.size() - 2;
  EXPECT_EQ(append.push[dims_at], 64u);
  ASSERT_EQ(flash.spec.size(), 8u);
  EXPECT_EQ(flash.spec[7], 1u);
  EXPECT_EQ(imp.spec, (std::vector<uint32_t>{128, sparse_device::kImportanceCandidates, 1}));
  EXPECT_EQ(imp.args[2].index, uint32_t(sparse_device::kMeanKeys));
  // fp32 on the same device: f32 pools, whose row R holds the mean keys.
  const gpu::Program q = plan(c, h200("fp32"), true);
  EXPECT_EQ(q.dispatches[0].spec.size(), 3u);
  EXPECT_EQ(q.dispatches[0].args[1].index, uint32_t(sparse_device::kKeys));
  EXPECT_TRUE(q.dispatches[2].spec.empty());
  EXPECT_EQ(q.dispatches[2].push[dims_at], 128u);
  EXPECT_FALSE(q.dispatches[2].writes[5]);  // Vulkan binds the mean keys' slot, unused
  EXPECT_EQ(q.dispatches[3].spec.size(), 7u);
  // OpenCL (no half pools): the five bindings of sparse_append.cl.
  gpu::DeviceCaps cl = h200("fp16");
  cl.half_kv_pools = false;
  EXPECT_EQ(plan(c, cl, true).dispatches[2].args.size(), 5u);
}

TEST(SparseCoopmatPlan, ElsewhereTheFp32Kernel) {
  auto last = [](const SparseCase& c, const gpu::DeviceCaps& caps) { return plan(c, caps).dispatches.back().shader; };
  EXPECT_EQ(last(wan_pbsa(128), h200("fp32")), "sparse_flash");
  gpu::DeviceCaps plain = h200("fp16");
  plain.coopmat_f16_16x16x16 = false;
  EXPECT_EQ(last(wan_pbsa(128), plain), "sparse_flash");
  gpu::DeviceCaps small = h200("fp16");
  small.max_shared_bytes = 30 * 1024;  // the fp32 kernel fits (head-dim chunks of 8), the tensor-core one not
  EXPECT_EQ(last(wan_pbsa(128), small), "sparse_flash");
  EXPECT_EQ(last(wan_pbsa(32), h200("fp16")), "sparse_flash");  // head dim 32: no HEAD_DIM variant
}

// --- on a device ---

struct Run {
  std::string backend, precision;
};
void PrintTo(const Run& r, std::ostream* os) { *os << r.backend << " " << r.precision; }

std::vector<Run> runs() {
  std::vector<Run> r;
  for (const std::string& b : gpu_backends()) {
    r.push_back({b, "fp32"});
    // OpenCL refuses fp16 without tensor cores (parity.cpp checks the refusal).
    if (b == "vulkan" || (b == "opencl" && missing_coopmat(b).empty())) r.push_back({b, "fp16"});
  }
  return r;
}

// An fp16 session takes the tensor-core kernel only where Vulkan has NV cooperative
// matrices; elsewhere (lavapipe in CI) it runs the fp32 kernel, which must then agree
// as closely as fp32 does, so the fp16 instances test what each device runs instead of
// skipping. VDRT_REQUIRE_COOPMAT=1 (the H200 run) makes a device without them a failure.
bool takes_tensor_cores(const Run& run) {
  if (run.precision != "fp16") return false;
  const std::string why = missing_coopmat(run.backend);
  if (why.empty()) return true;
  if (const char* req = std::getenv("VDRT_REQUIRE_COOPMAT"); req && std::string(req) == "1")
    ADD_FAILURE() << why << " (VDRT_REQUIRE_COOPMAT=1)";
  return false;
}

// Skips (or fails, under VDRT_REQUIRE_GPU=1) without the device; returns its tolerance.
#define VDRT_SPARSE_RUN(run)                                            \
  VDRT_REQUIRE_DEVICE((run).backend);                                   \
  const bool f16_ = takes_tensor_cores(run);                            \
  const double tolerance_ = f16_ ? 2e-2 : 1e-4

SessionOptions cpu_options() {
  SessionOptions o;
  o.device = "cpu";
  return o;
}

// The run's backend and precision, failing rather than falling back to the CPU.
SessionOptions gpu_options(const Run& run) {
  SessionOptions o;
  o.device = run.backend;
  o.precision = run.precision;
  o.cpu_fallback = false;
  return o;
}

// Within the run's tolerance of the CPU; the tensor-core kernel also above fp32 agreement.
void expect_agreement(double err, double tolerance, bool f16, const std::string& what) {
  EXPECT_LE(err, tolerance) << what;
  if (f16) {
    EXPECT_GT(err, 1e-5) << what << ": fp32 agreement, so the f16 tensor-core kernel did not run";
  }
}

const std::vector<SparseCase>& cases() {
  static const std::vector<SparseCase> v = [] {
    std::vector<SparseCase> out;
    const SparseMethod pbsa = SparseMethod::Pbsa, hsa = SparseMethod::Hsa;
    {  // 8 x 8 tiles of 16 x 16 frames (64 rows a block), GQA 2, many key tiles.
      SparseCase c = model_case("PbsaTilesD128", tiles(pbsa, 16, 16, 8, 8));
      c.params.top_k = 6;
      c.frames = 2, c.past_frames = 4;
      out.push_back(c);
    }
    {  // Ragged 4 x 4 tiles of 6 x 10 frames, batch 2, head dim 64.
      SparseCase c = model_case("PbsaRaggedD64Batch2", tiles(pbsa, 6, 10, 4, 4));
      c.params.top_k = 5;
      c.b = 2, c.d = 64, c.hq = 2, c.hkv = 1;
      out.push_back(c);
    }
    {  // Blocks of 80 tokens: a query block spans two work groups, the second with 16 rows.
      SparseCase c = model_case("PbsaBlocksOf80", tokens(pbsa, 10, 10, 80));
      c.params.top_k = 2;
      c.past_frames = 2;
      out.push_back(c);
    }
    {  // Light Forcing: compete (this chunk's keys through blocks too), keep 4 of 6 frames, CAG at chunk 2.
      SparseCase c = model_case("HsaCompeteLightForcing", tokens(hsa, 8, 8, 16));
      c.params.current_chunk = SparseAttentionParams::CurrentChunk::Compete;
      c.params.keep_frames = 4, c.params.keep_near = 1;
      c.params.cag.curve = CagSchedule::Curve::LightForcing;
      c.params.cag.target = 0.88, c.params.cag.base = 0.98;
      c.frames = 3, c.past_frames = 6;
      out.push_back(c);
    }
    {  // HSA: sink + top 2 frames, top 5 blocks, GQA 3, head dim 64.
      SparseCase c = model_case("HsaTopFramesD64", tiles(hsa, 8, 8, 4, 4));
      c.params.top_frames = 2, c.params.top_blocks = 5;
      c.past_frames = 5, c.hq = 6, c.hkv = 2, c.d = 64;
      out.push_back(c);
    }
    {  // No past inputs: this chunk only.
      SparseCase c = model_case("PbsaNoPast", tiles(pbsa, 8, 8, 4, 4));
      c.params.top_k = 2;
      c.past = false, c.sparse = false;
      out.push_back(c);
    }
    return out;
  }();
  return v;
}

class SparseCoopmatParity : public testing::TestWithParam<std::tuple<Run, size_t>> {};

TEST_P(SparseCoopmatParity, MatchesCpu) {
  const auto& [run, index] = GetParam();
  VDRT_SPARSE_RUN(run);
  const SparseCase& c = cases()[index];
  std::unique_ptr<Graph> g = build(c);
  const TensorMap inputs = random_inputs(*g, 11);
  Session cpu(g->clone(), cpu_options()), gpu(g->clone(), gpu_options(run));
  for (const std::string& where : gpu.placement()) EXPECT_EQ(where, run.backend);
  const Tensor want = cpu.run(inputs).begin()->second;
  for (int r = 0; r < 2; ++r) {  // the second run reuses the compiled program
    expect_agreement(max_rel_diff(gpu.run(inputs).begin()->second, want), tolerance_, f16_,
                     c.name + ", run " + std::to_string(r));
  }
  if (c.sparse) {
    Session dense(build(c, true), cpu_options());
    EXPECT_GT(max_rel_diff(dense.run(inputs).begin()->second, want), 1e-3)
        << c.name << " selects every block: the case does not test the selection";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SparseCoopmatParity,
                         testing::Combine(testing::ValuesIn(runs()), testing::Range<size_t>(0, cases().size())),
                         [](const testing::TestParamInfo<std::tuple<Run, size_t>>& info) {
                           const Run& r = std::get<0>(info.param);
                           return r.backend + "_" + r.precision + "_" + cases()[std::get<1>(info.param)].name;
                         });

// The rollout's use of a sparse layer, without a model: per chunk, two
// "denoising" calls and the cache-filling pass over random queries, keys and
// values of one frame, the GPU session's cache on the device, the CPU's on
// the host. The memory holds every block that leaves the window, so no
// admission is decided by a saliency close to another's (f16 rounding could
// flip it); masses and importances are compared by value.
struct RolloutCase {
  std::string name;
  SparseCase c;
  CachePolicy policy;
};

const std::vector<RolloutCase>& rollout_cases() {
  static const std::vector<RolloutCase> v = [] {
    std::vector<RolloutCase> out;
    auto pbsa = [](const std::string& name, int64_t d,
                   SparseAttentionParams layout = tiles(SparseMethod::Pbsa, 8, 8, 4, 4)) {
      SparseCase c = model_case(name, std::move(layout));
      c.params.window_frames = 2;
      c.params.top_k = 3;
      c.params.memory_blocks = 16;
      c.params.layer = 0;
      c.frames = 1, c.past_frames = -1, c.d = d, c.hq = 2, c.hkv = 1;
      return RolloutCase{name, c, CachePolicy::parse("pbsa")};
    };
    out.push_back(pbsa("PbsaMasses", 128));  // memory_rank accumulated: the MASS sweep
    RolloutCase compress = pbsa("PbsaCompressedD64", 64);
    compress.c.params.compress = true;  // memory blocks are one mean row, weighted by log(tokens)
    out.push_back(compress);
    RolloutCase refresh = pbsa("PbsaPooledRefresh", 128);
    refresh.c.params.memory_rank = SparseAttentionParams::MemoryRank::PooledRefresh;
    out.push_back(refresh);
    // The tensor-core kernel reads this chunk's keys from their slots in tile
    // order: ragged edge tiles, two frames a chunk, and 1-D blocks that do
    // not divide the frame check that mapping.
    RolloutCase ragged = pbsa("PbsaRaggedTwoFrames", 128, tiles(SparseMethod::Pbsa, 6, 10, 4, 4));
    ragged.c.frames = 2;
    ragged.c.params.window_frames = 4;
    ragged.c.params.memory_blocks = 40;  // every block that leaves the window (6 frames of 6)
    out.push_back(ragged);
    out.push_back(pbsa("PbsaTokenBlocksD64", 64, tokens(SparseMethod::Pbsa, 10, 10, 80)));
    SparseCase h = model_case("HsaCompete", tokens(SparseMethod::Hsa, 8, 8, 16));
    h.params.current_chunk = SparseAttentionParams::CurrentChunk::Compete;
    h.params.top_blocks = 6;
    h.params.layer = 0;
    h.frames = 1, h.past_frames = -1, h.hq = 2, h.hkv = 1;
    out.push_back({"HsaCompete", h, CachePolicy{}});
    return out;
  }();
  return v;
}

class SparseCoopmatRollout : public testing::TestWithParam<std::tuple<Run, size_t>> {};

// The host cache's bytes with its rows in f16: f16 pools keep each block's
// mean key in f32, as the host does.
size_t with_half_rows(const BlockKvCache& h, const SparseCase& c) {
  size_t blocks = 0;
  for (int64_t b = 0; b < c.b; ++b)
    for (int64_t kv = 0; kv < c.hkv; ++kv)
      blocks += size_t(h.memory_blocks_held(b, kv) + h.window_frames_held() * c.params.layout.tiles());
  const size_t means = blocks * size_t(c.d) * sizeof(float);
  return means + (h.bytes() - means) / 2;
}

TEST_P(SparseCoopmatRollout, DeviceCacheMatchesTheHostCache) {
  const auto& [run, index] = GetParam();
  VDRT_SPARSE_RUN(run);
  const RolloutCase& rc = rollout_cases()[index];
  std::unique_ptr<Graph> g = build(rc.c);
  Session cpu(g->clone(), cpu_options()), gpu(g->clone(), gpu_options(run));
  auto host = SparseKvBinding::create(cpu, rc.c.b, rc.policy);
  auto dev = SparseKvBinding::create(gpu, rc.c.b, rc.policy, rc.c.frames);
  ASSERT_TRUE(host && dev);
  ASSERT_TRUE(dev->on_device());
  // fp16 sessions keep f16 pools (Vulkan; OpenCL where it runs fp16 at
  // all, on tensor cores): attention sees f16 keys and values even where the
  // fp32 kernel runs (f32 arithmetic: a tighter band; the same selection as
  // the host, which the mean keys in f32 ensure).
  const bool half = dynamic_cast<const DeviceBlockKvCache&>(*dev->caches().at(0)).half_pools();
  EXPECT_EQ(half, run.precision == "fp16");
  const bool f16 = f16_ || half;
  const double tolerance = f16_ ? tolerance_ : half ? 2e-3 : tolerance_;
  const bool pbsa = rc.c.params.method == SparseMethod::Pbsa;
  const bool refresh = rc.c.params.memory_rank == SparseAttentionParams::MemoryRank::PooledRefresh;
  for (int64_t chunk = 0; chunk < 5; ++chunk) {
    host->begin_chunk(chunk), dev->begin_chunk(chunk);
    host->attach(cpu), dev->attach(gpu);
    TensorMap in;
    for (int call = 0; call < 3; ++call) {  // two denoising steps, then the cache-filling pass
      const bool fill = call == 2;
      in = random_inputs(*g, uint32_t(100 * chunk + call));
      if (fill) host->set_accumulate(true), dev->set_accumulate(true);
      const Tensor want = cpu.run(in).begin()->second;
      expect_agreement(max_rel_diff(gpu.run(in).begin()->second, want), tolerance, f16,
                       rc.name + " chunk " + std::to_string(chunk) + " call " + std::to_string(call));
      EXPECT_EQ(gpu.last_stats().nodes_on_fallback, 0u);
    }
    host->set_accumulate(false), dev->set_accumulate(false);
    dev->end_chunk();
    host->layer(0).append(in.at("k"), in.at("v"));
    EXPECT_EQ(dev->bytes(), half ? with_half_rows(host->layer(0), rc.c) : host->bytes()) << rc.name << " chunk " << chunk;
    if (!pbsa) continue;
    const BlockKvCache& h = host->layer(0);
    const auto& d = dynamic_cast<const DeviceBlockKvCache&>(*dev->caches().at(0));
    for (int64_t kv = 0; kv < rc.c.hkv; ++kv) {
      ASSERT_EQ(d.memory_blocks_held(0, kv), h.memory_blocks_held(0, kv)) << rc.name << " chunk " << chunk;
      const std::vector<double> x = d.saliency(0, kv), y = h.saliency(0, kv);
      ASSERT_EQ(x.size(), y.size());
      // pooled_refresh: only the memory's saliency (its importance) is used.
      const size_t from = refresh ? x.size() - size_t(h.memory_blocks_held(0, kv)) : 0;
      for (size_t i = from; i < x.size(); ++i)
        EXPECT_NEAR(x[i], y[i], tolerance * std::max(1.0, std::fabs(y[i])))
            << rc.name << " chunk " << chunk << " head " << kv << " block " << i;
    }
  }
  // The memory filled up: the case exercises the persistent blocks.
  if (pbsa) {
    EXPECT_GT(host->layer(0).memory_blocks_held(0, 0), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SparseCoopmatRollout,
                         testing::Combine(testing::ValuesIn(runs()), testing::Range<size_t>(0, rollout_cases().size())),
                         [](const testing::TestParamInfo<std::tuple<Run, size_t>>& info) {
                           const Run& r = std::get<0>(info.param);
                           return r.backend + "_" + r.precision + "_" + rollout_cases()[std::get<1>(info.param)].name;
                         });

}  // namespace
}  // namespace vdrt::test
