// A rollout on every GPU backend: the PyTorch float64 reference rollout of the
// tiny model (3 chunks, latents and decoded frames within 1e-3, as on the
// CPU), and a windowed rollout whose cache is evicted on the device, chunk
// for chunk equal to the CPU's. The KV cache never leaves the device: each
// denoiser call uploads only its latents, timestep and context.
#include <gtest/gtest.h>

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

INSTANTIATE_TEST_SUITE_P(Backends, GpuRollout, testing::ValuesIn(gpu_backends()));

}  // namespace
}  // namespace vdrt::test
