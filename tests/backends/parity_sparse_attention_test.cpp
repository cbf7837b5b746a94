// vdrt.PBSAttention and vdrt.HSAttention on every GPU backend against the CPU
// kernel (kernels/cpu/sparse_attention.cpp), without a bound KV cache: the
// past_key/past_value inputs are cut into blocks on the device, selected on
// the device and attended there (kernels/gpu/sparse_attention.cpp). One case
// per option family: top_k, CAG curves, HSA's frame stages (top_frames with
// sinks, keep_frames/keep_near, one stage), top_blocks, current_chunk =
// compete, 2-D tiles (ragged at the edges) and 1-D token blocks (a short
// last block, blocks of more than 64 rows), grouped-query heads, D != Dv,
// head dims 64 and 128 with several key tiles, batch 2, no or empty past, and more candidates than the
// selection ranks in shared memory (its radix select). Sparse cases also check on the CPU that
// the selection dropped something (the output differs from dense
// attention), so a case cannot pass by selecting everything.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backends/attention_chain_bench.h"
#include "backends/parity.h"
#include "backends/sparse_cases.h"
#include "graph/ops/sparse_attention_params.h"
#include "graph/shape_inference.h"
#include "runtime/session.h"
#include "test_util.h"

namespace vdrt::test {
namespace {

const std::vector<SparseCase>& cases() {
  static const std::vector<SparseCase> v = [] {
    std::vector<SparseCase> out;
    const SparseMethod pbsa = SparseMethod::Pbsa, hsa = SparseMethod::Hsa;
    auto add = [&](SparseCase c) { out.push_back(std::move(c)); };
    {  // PBSA: top-k of 2x2 tiles over 4 past frames, GQA 4 / 2, 2-frame chunk.
      SparseCase c{"PbsaTopK", tiles(pbsa, 4, 4, 2, 2)};
      c.params.top_k = 5;
      c.frames = 2, c.past_frames = 4, c.hq = 4, c.hkv = 2;
      add(c);
    }
    {  // CAG (cosine ramp) as the only budget, at chunk 2.
      SparseCase c{"PbsaCagCosine", tiles(pbsa, 4, 4, 2, 2)};
      c.params.cag.s_min = 0.1, c.params.cag.s_max = 0.6, c.params.cag.ramp = 4;
      c.params.cag.curve = CagSchedule::Curve::Cosine;
      c.frames = 2, c.past_frames = 4;
      add(c);
    }
    {  // Tiles that do not divide the 5 x 7 grid (2 x 3: ragged right and bottom).
      SparseCase c{"PbsaRaggedTiles", tiles(pbsa, 5, 7, 2, 3)};
      c.params.top_k = 7;
      add(c);
    }
    {  // 1-D blocks of 4 over 15-token frames (the last one 3 tokens), batch 2.
      SparseCase c{"PbsaTokenBlocks", tokens(pbsa, 3, 5, 4)};
      c.params.top_k = 4;
      c.b = 2, c.frames = 2;
      add(c);
    }
    {  // Value head dim 24 != key head dim 16.
      SparseCase c{"PbsaValueDim24", tiles(pbsa, 4, 4, 2, 2)};
      c.params.top_k = 3;
      c.dv = 24;
      add(c);
    }
    {  // Head dim 128 (vec4 value columns), 4 x 4 tiles.
      SparseCase c{"PbsaD128", tiles(pbsa, 4, 8, 4, 4)};
      c.params.top_k = 2;
      c.d = c.dv = 128;
      add(c);
    }
    {  // Head dim 64, GQA 4 / 2, 4 x 3 tiles of a 6 x 10 grid (blocks of 12, 6, 4 and 2
       // rows): about 220 keys a query, so several key tiles, the last one ragged.
      SparseCase c{"PbsaD64GqaRaggedKeys", tiles(pbsa, 6, 10, 4, 3)};
      c.params.top_k = 13;
      c.frames = 2, c.past_frames = 5, c.hq = 4, c.hkv = 2;
      c.d = c.dv = 64;
      add(c);
    }
    {  // Head dim 128, GQA 4 / 2, blocks of 80 and 20 tokens: two work groups for a
       // block of 80 (the second with 16 rows), key tiles that split blocks.
      SparseCase c{"PbsaD128GqaBlocksOf80", tokens(pbsa, 10, 10, 80)};
      c.params.top_k = 3;
      c.past_frames = 4, c.hq = 4, c.hkv = 2;
      c.d = c.dv = 128;
      add(c);
    }
    {  // Blocks of 80 tokens: a query block spans two work groups of 64 rows.
      SparseCase c{"PbsaBlocksOf80", tokens(pbsa, 10, 10, 80)};
      c.params.top_k = 2;
      c.past_frames = 2;
      add(c);
    }
    {  // 2800 candidates: more than sparse_select ranks in shared memory (radix select).
      SparseCase c{"PbsaManyBlocks", tokens(pbsa, 2, 2, 1)};
      c.params.top_k = 100;
      c.past_frames = 700, c.hq = 1, c.d = c.dv = 4;
      add(c);
    }
    {  // No past inputs, and an empty past: this chunk only (dense).
      SparseCase c{"PbsaNoPast", tiles(pbsa, 4, 4, 2, 2)};
      c.params.top_k = 2;
      c.past = false, c.sparse = false;
      add(c);
      c.name = "PbsaEmptyPast";
      c.past = true, c.past_frames = 0;
      add(c);
    }
    {  // HSA: sink frame + top 2 frames, top 5 blocks.
      SparseCase c{"HsaTopFrames", tiles(hsa, 4, 4, 2, 2)};
      c.params.top_frames = 2, c.params.top_blocks = 5;
      c.past_frames = 5, c.hq = 4, c.hkv = 2;
      add(c);
    }
    {  // HSA with CAG (linear) only, every frame a candidate, batch 2, GQA 3.
      SparseCase c{"HsaCagLinear", tiles(hsa, 4, 4, 2, 2)};
      c.params.cag.s_min = 0.25, c.params.cag.s_max = 0.75, c.params.cag.ramp = 6;
      c.frames = 1, c.past_frames = 4, c.b = 2, c.hq = 6, c.hkv = 2;
      add(c);
    }
    {  // Light Forcing's frame stage: keep 3 = sink 1 + near 1 + 1 chosen, of 6.
      SparseCase c{"HsaKeepFrames", tiles(hsa, 4, 4, 2, 2)};
      c.params.keep_frames = 3, c.params.keep_near = 1, c.params.top_blocks = 6;
      c.past_frames = 6;
      add(c);
    }
    {  // keep_frames above the cached frames: one stage.
      SparseCase c{"HsaKeepOneStage", tiles(hsa, 4, 4, 2, 2)};
      c.params.keep_frames = 6, c.params.keep_near = 2, c.params.top_blocks = 5;
      c.past_frames = 4;
      add(c);
    }
    {  // Light Forcing: compete with the chunk's blocks, 1-D blocks of 6
       // (6, 6, 4), keep 4 of 6 frames, the published CAG schedule at chunk 2.
      SparseCase c{"HsaCompeteLightForcing", tokens(hsa, 4, 4, 6)};
      c.params.current_chunk = SparseAttentionParams::CurrentChunk::Compete;
      c.params.keep_frames = 4, c.params.keep_near = 1;
      c.params.cag.curve = CagSchedule::Curve::LightForcing;
      c.params.cag.target = 0.88, c.params.cag.base = 0.98;
      c.frames = 3, c.past_frames = 6, c.hq = 4, c.hkv = 2;
      add(c);
    }
    {  // Compete over 2-D tiles, top_blocks only.
      SparseCase c{"HsaCompeteTiles", tiles(hsa, 5, 6, 2, 2)};
      c.params.current_chunk = SparseAttentionParams::CurrentChunk::Compete;
      c.params.top_blocks = 7;
      c.frames = 2, c.past_frames = 3;
      add(c);
    }
    {  // Compete without a cache (chunk 0): the chunk's blocks compete alone.
      SparseCase c{"HsaCompeteNoCache", tokens(hsa, 4, 4, 4)};
      c.params.current_chunk = SparseAttentionParams::CurrentChunk::Compete;
      c.params.top_blocks = 5;
      c.frames = 3, c.past_frames = 0;
      add(c);
    }
    {  // Head dim 128 with HSA top frames over ragged tiles.
      SparseCase c{"HsaD128Ragged", tiles(hsa, 5, 6, 4, 4)};
      c.params.top_frames = 1, c.params.top_blocks = 3;
      c.d = c.dv = 128, c.past_frames = 4;
      add(c);
    }
    {  // HSA over 2400 candidates (radix select): sink + top 280 of 300 frames, top 70 blocks.
      SparseCase c{"HsaManyBlocks", tokens(hsa, 2, 4, 1)};
      c.params.top_frames = 280, c.params.top_blocks = 70;
      c.past_frames = 300, c.hq = 1, c.d = c.dv = 4;
      add(c);
    }
    return out;
  }();
  return v;
}

class SparseAttentionParity : public testing::TestWithParam<std::tuple<std::string, size_t>> {};

TEST_P(SparseAttentionParity, MatchesCpu) {
  const auto& [backend, index] = GetParam();
  VDRT_REQUIRE_DEVICE(backend);
  const SparseCase& c = cases()[index];
  std::unique_ptr<Graph> g = build(c, false);
  const TensorMap inputs = random_inputs(*g, 11);
  SessionOptions cpu_opts, gpu_opts;
  cpu_opts.device = "cpu";
  gpu_opts.device = backend;
  gpu_opts.cpu_fallback = false;
  Session cpu(g->clone(), cpu_opts), gpu(g->clone(), gpu_opts);
  for (const std::string& where : gpu.placement()) EXPECT_EQ(where, backend);
  const Tensor want = cpu.run(inputs).begin()->second;
  for (int run = 0; run < 2; ++run) {  // the second run reuses the compiled program
    const Tensor got = gpu.run(inputs).begin()->second;
    ASSERT_EQ(got.dims(), want.dims());
    EXPECT_LE(max_rel_diff(got, want), 2e-5) << c.name << ", run " << run;
  }
  if (c.sparse) {
    Session dense(build(c, true), cpu_opts);
    EXPECT_GT(max_rel_diff(dense.run(inputs).begin()->second, want), 1e-3)
        << c.name << " selects every block: the case does not test the selection";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SparseAttentionParity,
                         testing::Combine(testing::ValuesIn(gpu_backends()), testing::Range<size_t>(0, cases().size())),
                         [](const testing::TestParamInfo<std::tuple<std::string, size_t>>& info) {
                           return std::get<0>(info.param) + "_" + cases()[std::get<1>(info.param)].name;
                         });

}  // namespace
}  // namespace vdrt::test

namespace vdrt::test {
namespace {

// Wan-1.3B-width sparse attention (one chunk of 3 frames of 30 x 52 tokens,
// 12 heads of 128) timed per call on a real GPU against dense vdrt.Attention
// on the same keys, for each session precision (fp16: the cooperative-matrix
// kernels where the device has them, flash_attention_coopmat and
// sparse_flash_coopmat) and each cache length (cached frames: 6 and 9, 9360
// and 14040 tokens, the rollout's past window): a chain of `n` attentions
// (each one's output the next one's query) minus a chain of one, so uploads
// and downloads cancel; each line gives the ratio to dense of the same
// precision and cache. Run by hand:
//   VDRT_SPARSE_BENCH_BACKEND=vulkan|opencl vdrt_backends_tests --gtest_also_run_disabled_tests
//     --gtest_filter='*SparseAttentionBench*'
// VDRT_SPARSE_BENCH_PRECISIONS="fp32;fp16" (the default) and
// VDRT_SPARSE_BENCH_PAST_FRAMES="6;9" (the default) choose the runs;
// VDRT_BENCH_SPV_DIRS / VDRT_BENCH_ROUNDS repeat them for each shader build,
// interleaved (attention_chain_bench.h; Vulkan only).
TEST(SparseAttentionBench, DISABLED_WanScale) {
  const char* be = std::getenv("VDRT_SPARSE_BENCH_BACKEND");
  const std::string backend = be ? be : "vulkan";
  VDRT_REQUIRE_DEVICE(backend);
  const int64_t P = 30 * 52, S = 3 * P, H = 12, D = 128;
  struct Variant {
    std::string name;
    std::string op;  // "" : dense vdrt.Attention
    SparseAttentionParams params;
    double keys;  // keys per query row, for the FLOP count
  };
  const int n = 6;
  for (const ShaderBuildRun& build : shader_build_runs()) {
    ScopedEnv spv("VDRT_VK_SPV_DIR", build.dir.empty() ? nullptr : build.dir.c_str());
    for (const std::string& precision : env_list("VDRT_SPARSE_BENCH_PRECISIONS", "fp32;fp16")) {
      for (const std::string& frames : env_list("VDRT_SPARSE_BENCH_PAST_FRAMES", "6;9")) {
        const int64_t past = std::stoll(frames), T = past * P;
        std::vector<Variant> variants;
        variants.push_back({"dense", "", {}, double(S + T)});
        {  // sparse_pbsa at Wan size: 8 x 8 tiles (28 a frame), top 42 of the cached blocks.
          SparseAttentionParams p = tiles(SparseMethod::Pbsa, 30, 52, 8, 8);
          p.top_k = 42;
          variants.push_back({"pbsa top42 8x8", "PBSAttention", p, double(S + 42 * 64)});
        }
        {  // Light Forcing short: 64-token blocks (25 a frame), compete, keep 6, CAG at the chunk the cache gives.
          SparseAttentionParams p = tokens(SparseMethod::Hsa, 30, 52, 64);
          p.current_chunk = SparseAttentionParams::CurrentChunk::Compete;
          p.keep_frames = 6, p.keep_near = 2;
          p.cag.curve = CagSchedule::Curve::LightForcing;
          p.cag.target = 0.88, p.cag.base = 0.98;
          const double kept = double(p.cag.keep_floor(past / 3, past * 25 + 3 * 25));
          variants.push_back({"lightforcing short", "HSAttention", p, kept * 64});
        }
        double dense_ms = 0;
        for (const Variant& v : variants) {
          AttentionChain chain{S, S, T, H, D};
          if (v.op.empty()) {
            chain.attrs.set("scale", 1.0f / std::sqrt(float(D)));
          } else {
            SparseAttentionParams q = v.params;
            q.scale = 1.0f / std::sqrt(float(D));
            q.to_attributes(chain.attrs);
            chain.op = v.op;
          }
          SessionOptions o;
          o.device = backend;
          o.cpu_fallback = false;
          o.precision = precision;
          const double ms = seconds_per_op(chain, n, o) * 1e3;
          if (v.op.empty()) dense_ms = ms;
          std::printf("%s %s T=%lld %s%s: %.3f ms per attention, %.0f keys per query (%.1f TFLOP/s), %.2fx faster than dense\n",
                      backend.c_str(), precision.c_str(), (long long)T, v.name.c_str(), build.label.c_str(), ms, v.keys,
                      4.0 * S * v.keys * D * H / ms * 1e-9, dense_ms / ms);
          std::fflush(stdout);
        }
      }
    }
  }
}

}  // namespace
}  // namespace vdrt::test
