// Classifier-free guidance in the rollout: the tiny model's guided rollout
// against the PyTorch float64 reference of models/reference_rollout.py
// (rollout_reference_guided: scale 3, its negative_context.pb, one KV cache
// per context), the scale taken from the options or from the denoiser's
// vdrt.guidance_scale, sparse layers keeping a block cache per context, and
// the errors of a guided rollout that has no negative prompt.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "runtime/rollout.h"
#include "test_util.h"

namespace vdrt {
namespace {

namespace fs = std::filesystem;

const std::string kReference = "models/tiny_wan/rollout_reference_guided/";

// The tiny ts17 pipeline, its pipeline.toml naming the reference's negative
// context when `negative` is set.
fs::path guided_pipeline(const std::string& name, const std::map<std::string, std::string>& metadata, bool negative) {
  return test::tiny_pipeline_with(
      "guided_" + name, metadata,
      negative ? "negative_context = \"" + test::source_path(kReference + "negative_context.pb") + "\"\n" : "");
}

Tensor reference_chunk(int c) {
  return load_tensor_pb(test::source_path(kReference + "chunk_" + std::to_string(c) + "_latents.pb")).tensor;
}

// Three chunks of `rollout` against the reference, to 1e-3 (the CPU's float32 against float64).
void expect_reference(Rollout& rollout, const std::string& what) {
  for (int c = 0; c < 3; ++c) {
    auto r = rollout.next();
    ASSERT_TRUE(r.has_value());
    Comparison lat = compare_tensors(r->latents, reference_chunk(c), 0, 1e-3);
    EXPECT_TRUE(lat.ok) << what << " chunk " << c << ": " << lat.reason << " max " << lat.max_abs_error;
  }
}

RolloutOptions reference_options() {
  RolloutOptions o;
  o.seed = 42;
  o.decode = false;
  return o;
}

TEST(GuidedRollout, MatchesThePyTorchReferenceWithACachePerContext) {
  const fs::path dir = guided_pipeline("reference", {}, true);
  auto pipeline = VideoPipeline::load(dir.string(), SessionOptions{"cpu"});
  EXPECT_EQ(pipeline->contract.guidance_scale, 1.0);
  RolloutOptions options = reference_options();
  options.guidance = 3.0;
  Rollout guided(*pipeline, pipeline->default_context(), options);
  EXPECT_TRUE(guided.guided());
  expect_reference(guided, "guidance 3");
  // Two caches of the same shape: twice the bytes of the unguided rollout's.
  Rollout plain(*pipeline, pipeline->default_context(), reference_options());
  EXPECT_FALSE(plain.guided());
  for (int c = 0; c < 3; ++c) {
    auto r = plain.next();
    ASSERT_TRUE(r.has_value());
    // Guidance changes the video: the comparison above tells guided from unguided.
    EXPECT_GT(test::max_abs_diff(r->latents, reference_chunk(c)), 0.1) << "chunk " << c;
  }
  EXPECT_EQ(guided.peak_cache_bytes(), 2 * plain.peak_cache_bytes());
  fs::remove_all(dir);
}

TEST(GuidedRollout, TheScaleComesFromTheModelsMetadata) {
  const fs::path dir = guided_pipeline("metadata", {{"vdrt.guidance_scale", "3"}}, true);
  auto pipeline = VideoPipeline::load(dir.string(), SessionOptions{"cpu"});
  EXPECT_EQ(pipeline->contract.guidance_scale, 3.0);
  Rollout guided(*pipeline, pipeline->default_context(), reference_options());
  EXPECT_EQ(guided.guidance(), 3.0);
  expect_reference(guided, "vdrt.guidance_scale 3");
  // --guidance 1 turns it off: one branch, no negative prompt read, the unguided video.
  RolloutOptions off = reference_options();
  off.guidance = 1.0;
  Rollout plain(*pipeline, pipeline->default_context(), off);
  EXPECT_FALSE(plain.guided());
  const std::string unguided = test::source_path("models/tiny_wan/rollout_reference/chunk_0_latents.pb");
  Comparison lat = compare_tensors(plain.next()->latents, load_tensor_pb(unguided).tensor, 0, 1e-3);
  EXPECT_TRUE(lat.ok) << lat.reason;
  fs::remove_all(dir);
}

TEST(GuidedRollout, SparseLayersKeepABlockCachePerContext) {
  // Every block selected: PBSA and HSA compute dense attention from their own
  // block caches, so the guided sparse rollout is the guided reference; a
  // rollout that shared one block cache between the contexts would not be.
  const fs::path dir = guided_pipeline("sparse", {}, true);
  const std::pair<const char*, const char*> configs[] = {
      {"pbsa_all", "method = \"pbsa\"\nblock_size = 4\nwindow = 100\ntop_k = 0\nmemory_blocks = 0"},
      {"hsa_all", "method = \"hsa\"\nblock_size = 4\ntop_frames = 0\ntop_blocks = 0"},
  };
  for (const auto& [name, sparsify] : configs) {
    SessionOptions so{"cpu"};
    so.pass_pipeline = test::sparsify_pipeline_file(std::string("guided_") + name, sparsify);
    auto pipeline = VideoPipeline::load(dir.string(), so);
    RolloutOptions options = reference_options();
    options.guidance = 3.0;
    Rollout guided(*pipeline, pipeline->default_context(), options);
    ASSERT_NE(guided.sparse_cache(), nullptr) << name;
    expect_reference(guided, name);
    fs::remove(so.pass_pipeline);
  }
  fs::remove_all(dir);
}

TEST(GuidedRollout, NegativeContextFromTheOptionsOverridesThePipelines) {
  const fs::path dir = guided_pipeline("override", {}, false);
  auto pipeline = VideoPipeline::load(dir.string(), SessionOptions{"cpu"});
  RolloutOptions options = reference_options();
  options.guidance = 3.0;
  options.negative_context = load_tensor_pb(test::source_path(kReference + "negative_context.pb")).tensor;
  Rollout guided(*pipeline, pipeline->default_context(), options);
  expect_reference(guided, "--negative-context");
  fs::remove_all(dir);
}

TEST(GuidedRollout, GuidanceWithoutANegativePromptSaysWhatToPass) {
  const fs::path dir = guided_pipeline("missing", {}, false);
  auto pipeline = VideoPipeline::load(dir.string(), SessionOptions{"cpu"});
  RolloutOptions options = reference_options();
  options.guidance = 3.0;
  try {
    Rollout guided(*pipeline, pipeline->default_context(), options);
    FAIL() << "a guided rollout started without a negative prompt";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir.string() +
                                         ": classifier-free guidance needs a negative prompt, and the pipeline names "
                                         "no negative_context in pipeline.toml; pass --negative-context FILE.pb or "
                                         "--guidance 1");
  }
  // A negative prompt of another embedding width cannot be attended to.
  options.negative_context = Tensor(DType::F32, {1, 8, 5});
  try {
    Rollout guided(*pipeline, pipeline->default_context(), options);
    FAIL() << "a negative context of width 5 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the negative text context is [1, 8, 5]"), std::string::npos) << e.what();
  }
  options.guidance = -1.0;
  EXPECT_THROW(Rollout(*pipeline, pipeline->default_context(), options), Error);
  fs::remove_all(dir);
}

TEST(GuidedRollout, BadGuidanceMetadataNamesTheFileAndTheKey) {
  const fs::path dir = guided_pipeline("bad_meta", {{"vdrt.guidance_scale", "-2"}}, true);
  try {
    VideoPipeline::load(dir.string(), SessionOptions{"cpu"});
    FAIL() << "vdrt.guidance_scale -2 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "denoiser.onnx").string() +
                                         ": metadata 'vdrt.guidance_scale' must be >= 0 (1: no guidance), got -2");
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vdrt
