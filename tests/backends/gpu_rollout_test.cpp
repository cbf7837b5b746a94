// A rollout on every GPU backend: the PyTorch float64 reference rollout of the
// tiny model (3 chunks, latents and decoded frames within 1e-3, as on the
// CPU), and a windowed rollout whose cache is evicted on the device, chunk
// for chunk equal to the CPU's, and a guided rollout (classifier-free
// guidance: two contexts, a device cache each) against its PyTorch
// reference. The KV cache never leaves the device: each
// denoiser call uploads only its latents, timestep and context. At fp16 on
// Vulkan the cache is kept in f16.
#include <gtest/gtest.h>

#include <cstdio>

#include "backends/parity.h"
#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "runtime/rollout.h"
#include "test_util.h"

namespace vdrt::test {
namespace {

class GpuRollout : public testing::TestWithParam<std::string> {};

TEST_P(GpuRollout, MatchesThePyTorchReferenceWithTheCacheOnTheDevice) {
  VDRT_REQUIRE_DEVICE(GetParam());
  SessionOptions o;
  o.device = GetParam();
  auto pipeline = VideoPipeline::load(source_path("models/tiny_wan/ts17"), o);
  RolloutOptions options;
  options.seed = 42;
  Rollout rollout(*pipeline, pipeline->default_context(), options);
  ASSERT_TRUE(rollout.cache().on_device());
  const std::string ref = source_path("models/tiny_wan/rollout_reference/");
  for (int c = 0; c < 3; ++c) {
    auto r = rollout.next();
    ASSERT_TRUE(r.has_value());
    Comparison lat = compare_tensors(r->latents, load_tensor_pb(ref + "chunk_" + std::to_string(c) + "_latents.pb").tensor, 0, 1e-3);
    Comparison fr = compare_tensors(r->frames, load_tensor_pb(ref + "chunk_" + std::to_string(c) + "_frames.pb").tensor, 0, 1e-3);
    EXPECT_TRUE(lat.ok) << "chunk " << c << " latents: " << lat.reason;
    EXPECT_TRUE(fr.ok) << "chunk " << c << " frames: " << fr.reason;
    EXPECT_EQ(r->cache_frames, 3 * (c + 1));
    const RunStats& s = pipeline->denoiser->last_stats();
    EXPECT_LE(s.host_uploads, 3u) << "a denoiser call uploads only latents, timestep and context";
    EXPECT_EQ(s.cross_copies, 0u);
    EXPECT_EQ(s.nodes_on_fallback, 0u);
  }
}

TEST_P(GpuRollout, WindowedCacheEvictsOnTheDeviceLikeTheCpu) {
  VDRT_REQUIRE_DEVICE(GetParam());
  SessionOptions gpu_opts, cpu_opts;
  gpu_opts.device = GetParam();
  cpu_opts.device = "cpu";
  auto gpu = VideoPipeline::load(source_path("models/tiny_wan/ts17"), gpu_opts);
  auto cpu = VideoPipeline::load(source_path("models/tiny_wan/ts17"), cpu_opts);
  RolloutOptions options;
  options.seed = 3;
  options.decode = false;
  options.cache = CachePolicy::parse("window:5,sink:2");
  Rollout a(*gpu, gpu->default_context(), options), b(*cpu, cpu->default_context(), options);
  for (int c = 0; c < 4; ++c) {
    auto ra = a.next(), rb = b.next();
    ASSERT_TRUE(ra && rb);
    EXPECT_LE(max_abs_diff(ra->latents, rb->latents), 1e-4) << "chunk " << c;
    EXPECT_EQ(ra->cache_frames, rb->cache_frames) << "chunk " << c;
    EXPECT_EQ(ra->cache_bytes, rb->cache_bytes) << "chunk " << c;
  }
  EXPECT_EQ(a.cache().frames(), 5);
  EXPECT_EQ(a.peak_cache_bytes(), b.peak_cache_bytes());
}

TEST_P(GpuRollout, GuidedRolloutKeepsACachePerContextOnTheDevice) {
  VDRT_REQUIRE_DEVICE(GetParam());
  SessionOptions o;
  o.device = GetParam();
  auto pipeline = VideoPipeline::load(source_path("models/tiny_wan/ts17"), o);
  const std::string ref = source_path("models/tiny_wan/rollout_reference_guided/");
  RolloutOptions options;
  options.seed = 42;
  options.decode = false;
  options.guidance = 3.0;
  options.negative_context = load_tensor_pb(ref + "negative_context.pb").tensor;
  Rollout rollout(*pipeline, pipeline->default_context(), options);
  ASSERT_TRUE(rollout.guided());
  ASSERT_TRUE(rollout.cache().on_device());
  for (int c = 0; c < 3; ++c) {
    auto r = rollout.next();
    ASSERT_TRUE(r.has_value());
    Comparison lat = compare_tensors(r->latents, load_tensor_pb(ref + "chunk_" + std::to_string(c) + "_latents.pb").tensor, 0, 1e-3);
    EXPECT_TRUE(lat.ok) << "chunk " << c << " latents: " << lat.reason;
    EXPECT_EQ(r->cache_frames, 3 * (c + 1));
    EXPECT_EQ(pipeline->denoiser->last_stats().nodes_on_fallback, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuRollout, testing::ValuesIn(gpu_backends()));

DType past_key_dtype(const VideoPipeline& p) {
  for (const Value* v : p.denoiser->graph().inputs())
    if (v->name() == p.names.past_key + "0") return v->dtype();
  return DType::Undefined;
}

// Vulkan at fp16 keeps the dense KV cache in f16 (SessionOptions::kv_cache_*,
// pass store-f16): half the bytes at every chunk of a windowed rollout, the
// casts on the device (nothing on the CPU, uploads as before), and latents
// within f16 rounding of the same session with the cache in f32
// (half_kv_cache = false), and as close to the CPU's.
TEST(GpuRolloutHalfCache, VulkanFp16KeepsTheDenseCacheInHalf) {
  VDRT_REQUIRE_DEVICE("vulkan");
  SessionOptions half_opts, full_opts, cpu_opts;
  half_opts.device = full_opts.device = "vulkan";
  half_opts.precision = full_opts.precision = "fp16";
  full_opts.half_kv_cache = false;
  cpu_opts.device = "cpu";
  auto half = VideoPipeline::load(source_path("models/tiny_wan/ts17"), half_opts);
  auto full = VideoPipeline::load(source_path("models/tiny_wan/ts17"), full_opts);
  auto cpu = VideoPipeline::load(source_path("models/tiny_wan/ts17"), cpu_opts);
  EXPECT_EQ(past_key_dtype(*half), DType::F16);
  EXPECT_EQ(past_key_dtype(*full), DType::F32);
  EXPECT_EQ(past_key_dtype(*cpu), DType::F32);
  RolloutOptions options;
  options.seed = 5;
  options.decode = false;
  options.cache = CachePolicy::parse("window:5,sink:2");
  Rollout a(*half, half->default_context(), options), b(*full, full->default_context(), options),
      c(*cpu, cpu->default_context(), options);
  ASSERT_TRUE(a.cache().on_device());
  const bool tensor_cores = missing_coopmat().empty();
  for (int k = 0; k < 4; ++k) {
    auto ra = a.next(), rb = b.next(), rc = c.next();
    ASSERT_TRUE(ra && rb && rc);
    EXPECT_EQ(2 * ra->cache_bytes, rb->cache_bytes) << "chunk " << k;
    EXPECT_EQ(rb->cache_bytes, rc->cache_bytes) << "chunk " << k;
    EXPECT_EQ(ra->cache_frames, rc->cache_frames) << "chunk " << k;
    const double half_vs_full = max_abs_diff(ra->latents, rb->latents);
    // The f32 kernels (lavapipe) read the rounded keys; the tensor-core ones
    // (H200) round them the same way themselves.
    if (!tensor_cores && k > 0) {  // chunk 0 reads an empty cache
      EXPECT_GT(half_vs_full, 0.0) << "chunk " << k << ": the f16 cache changed nothing";
    }
    EXPECT_LE(half_vs_full, 2e-4) << "chunk " << k;
    std::printf("chunk %d: f16 vs f32 cache %.3g, f16 cache vs CPU %.3g, f32 cache vs CPU %.3g\n", k, half_vs_full,
                max_abs_diff(ra->latents, rc->latents), max_abs_diff(rb->latents, rc->latents));
    EXPECT_LE(max_abs_diff(ra->latents, rc->latents), max_abs_diff(rb->latents, rc->latents) + 2e-4) << "chunk " << k;
    std::printf("chunk %d: arena %zu (f16 cache) vs %zu (f32 cache), cache %zu vs %zu bytes\n", k,
                half->denoiser->last_stats().arena_bytes, full->denoiser->last_stats().arena_bytes, ra->cache_bytes,
                rb->cache_bytes);
    // The casts sit where each layer reads its cache: no layer's f32 copy outlives its attention.
    EXPECT_LE(half->denoiser->last_stats().arena_bytes, full->denoiser->last_stats().arena_bytes) << "chunk " << k;
    const RunStats& s = half->denoiser->last_stats();
    EXPECT_LE(s.host_uploads, 3u) << "a denoiser call uploads only latents, timestep and context";
    EXPECT_EQ(s.nodes_on_fallback, 0u);
  }
  EXPECT_EQ(2 * a.peak_cache_bytes(), b.peak_cache_bytes());
}

}  // namespace
}  // namespace vdrt::test
