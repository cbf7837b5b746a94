// A 3-chunk rollout of the tiny model against the PyTorch float64 reference
// rollout of the same weights and seed (models/reference_rollout.py).
#include "runtime/rollout.h"

#include <gtest/gtest.h>

#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "test_util.h"

namespace vdrt {
namespace {

TEST(Rollout, MatchesThePyTorchReferenceOverThreeChunks) {
  auto pipeline = VideoPipeline::load(test::source_path("models/tiny_wan/ts17"), SessionOptions{"cpu"});
  RolloutOptions options;
  options.seed = 42;
  Rollout rollout(*pipeline, pipeline->default_context(), options);
  const std::string ref = test::source_path("models/tiny_wan/rollout_reference/");
  for (int c = 0; c < 3; ++c) {
    auto r = rollout.next();
    ASSERT_TRUE(r.has_value());
    Tensor want_latents = load_tensor_pb(ref + "chunk_" + std::to_string(c) + "_latents.pb").tensor;
    Tensor want_frames = load_tensor_pb(ref + "chunk_" + std::to_string(c) + "_frames.pb").tensor;
    Comparison lat = compare_tensors(r->latents, want_latents, 0, 1e-3);
    Comparison fr = compare_tensors(r->frames, want_frames, 0, 1e-3);
    EXPECT_TRUE(lat.ok) << "chunk " << c << " latents: " << lat.reason << " max " << lat.max_abs_error;
    EXPECT_TRUE(fr.ok) << "chunk " << c << " frames: " << fr.reason << " max " << fr.max_abs_error;
    EXPECT_EQ(r->cache_frames, 3 * (c + 1));
  }
}

TEST(Rollout, SameSeedSameVideoOtherSeedOtherVideo) {
  auto pipeline = VideoPipeline::load(test::source_path("models/tiny_wan/ts17"), SessionOptions{"cpu"});
  RolloutOptions a;
  a.seed = 5;
  a.decode = false;
  Rollout r1(*pipeline, pipeline->default_context(), a), r2(*pipeline, pipeline->default_context(), a);
  a.seed = 6;
  Rollout r3(*pipeline, pipeline->default_context(), a);
  for (int c = 0; c < 2; ++c) {
    Tensor x1 = r1.next()->latents, x2 = r2.next()->latents, x3 = r3.next()->latents;
    EXPECT_EQ(test::max_abs_diff(x1, x2), 0.0);
    EXPECT_GT(test::max_abs_diff(x1, x3), 0.1);
  }
}

// Teacher forcing: chunks given as clean latents fill the cache as the same
// chunks generated would, so the continuation equals the rollout that made
// them (dense, and through a PBSA block cache); other given latents change it.
TEST(Rollout, GivenChunksAreCachedAsGeneratedOnes) {
  for (const std::string preset : {"", "sparse_forcing"}) {
    SessionOptions so{"cpu"};
    if (!preset.empty()) so.pass_pipeline = test::source_path("passes/pipelines/" + preset + ".toml");
    auto pipeline = VideoPipeline::load(test::source_path("models/tiny_wan/ts17"), so);
    RolloutOptions options;
    options.seed = 7;
    options.cache = CachePolicy::parse(preset.empty() ? "unbounded" : "pbsa");
    Rollout made(*pipeline, pipeline->default_context(), options), forced(*pipeline, pipeline->default_context(), options);
    RolloutOptions other_seed = options;
    other_seed.seed = 9;
    Rollout other(*pipeline, pipeline->default_context(), other_seed), forced_other(*pipeline, pipeline->default_context(), options);
    for (int c = 0; c < 2; ++c) {
      const ChunkResult a = *made.next(), o = *other.next();
      const ChunkResult b = *forced.next(nullptr, &a.latents);
      EXPECT_EQ(test::max_abs_diff(b.latents, a.latents), 0.0) << preset;
      EXPECT_EQ(test::max_abs_diff(b.frames, a.frames), 0.0) << preset;
      EXPECT_EQ(b.cache_bytes, a.cache_bytes) << preset;
      forced_other.next(nullptr, &o.latents);
    }
    const Tensor want = made.next()->latents;
    EXPECT_EQ(test::max_abs_diff(forced.next()->latents, want), 0.0) << preset << ": the continuation";
    EXPECT_GT(test::max_abs_diff(forced_other.next()->latents, want), 0.01) << preset << ": other history, other chunk";
  }
  auto pipeline = VideoPipeline::load(test::source_path("models/tiny_wan/ts17"), SessionOptions{"cpu"});
  Rollout r(*pipeline, pipeline->default_context(), RolloutOptions{});
  const Tensor wrong(DType::F32, {1, 2, 16, 8, 8});
  try {
    r.next(nullptr, &wrong);
    FAIL() << "latents of the wrong shape were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("given latents of chunk 0 are [1, 2, 16, 8, 8]"), std::string::npos) << e.what();
  }
}

TEST(Pipeline, MissingFolderAndBadContextAreClearErrors) {
  try {
    VideoPipeline::load("/nonexistent/pipeline", SessionOptions{"cpu"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/pipeline"), std::string::npos);
  }
  auto pipeline = VideoPipeline::load(test::source_path("models/tiny_wan/ts17"), SessionOptions{"cpu"});
  EXPECT_THROW(Rollout(*pipeline, Tensor(DType::F32, {1, 8}), RolloutOptions{}), Error);
}

}  // namespace
}  // namespace vdrt
