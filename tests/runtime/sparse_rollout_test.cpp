// Rollouts of the committed tiny model with its self-attention rewritten
// to sparse attention (SessionOptions::pass_pipeline): with every block
// selected they reproduce the dense rollout; a truly sparse PBSA rollout
// keeps its KV cache bounded while the dense one grows.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "runtime/rollout.h"
#include "test_util.h"

namespace vdrt {
namespace {

std::string write_pipeline(const std::string& name, const std::string& sparsify_options) {
  return test::sparsify_pipeline_file("sparse_" + name, sparsify_options);
}

std::vector<Tensor> run_chunks(const std::string& toml, int chunks, const std::string& cache = "unbounded",
                               std::vector<size_t>* cache_bytes = nullptr, const std::string& style = "ts17") {
  SessionOptions so{"cpu"};
  so.pass_pipeline = toml;
  auto pipeline = VideoPipeline::load(test::source_path("models/tiny_wan/" + style), so);
  RolloutOptions ro;
  ro.seed = 42;
  ro.decode = false;
  ro.cache = CachePolicy::parse(cache);
  Rollout rollout(*pipeline, pipeline->default_context(), ro);
  if (!toml.empty()) {
    EXPECT_NE(rollout.sparse_cache(), nullptr);
  }
  std::vector<Tensor> latents;
  for (int c = 0; c < chunks; ++c) {
    auto r = rollout.next();
    EXPECT_TRUE(r.has_value());
    latents.push_back(r->latents);
    if (cache_bytes) cache_bytes->push_back(r->cache_bytes);
  }
  return latents;
}

TEST(SparseRollout, EveryBlockSelectedMatchesTheDenseRollout) {
  const int chunks = 4;
  const std::pair<const char*, const char*> configs[] = {
      {"pbsa_all", "method = \"pbsa\"\nblock_size = 4\nwindow = 100\ntop_k = 0\nmemory_blocks = 0"},
      {"pbsa_memory", "method = \"pbsa\"\nblock_size = 4\nwindow = 3\ntop_k = 0\nmemory_blocks = 1000"},
      {"hsa_all", "method = \"hsa\"\nblock_size = 4\ntop_frames = 0\ntop_blocks = 0"},
  };
  for (const char* style : {"ts17", "dyn18", "attn23"}) {
    std::vector<Tensor> dense = run_chunks("", chunks, "unbounded", nullptr, style);
    for (const auto& [name, options] : configs) {
      std::vector<Tensor> sparse = run_chunks(write_pipeline(name, options), chunks, "unbounded", nullptr, style);
      for (int c = 0; c < chunks; ++c)
        EXPECT_LT(test::max_abs_diff(sparse[c], dense[c]), 1e-4) << style << " " << name << " chunk " << c;
    }
  }
}

TEST(SparseRollout, PbsaBoundsTheCacheWhereTheDenseOneGrows) {
  const int chunks = 10;
  std::vector<size_t> dense_bytes, sparse_bytes;
  run_chunks("", chunks, "unbounded", &dense_bytes);
  std::vector<Tensor> sparse =
      run_chunks(write_pipeline("pbsa_bounded", "method = \"pbsa\"\nblock_size = 4\nwindow = 6\ntop_k = 8\n"
                                                "memory_blocks = 6\nsink_frames = 1\nsaliency_decay = 0.9"),
                 chunks, "pbsa", &sparse_bytes);
  for (const Tensor& x : sparse)
    for (int64_t i = 0; i < x.numel(); ++i) ASSERT_TRUE(std::isfinite(x.data<float>()[i]));
  EXPECT_EQ(sparse_bytes[chunks - 1], sparse_bytes[chunks - 2]);  // bounded: steady state
  EXPECT_LT(sparse_bytes.back(), dense_bytes.back() * 4 / 10);
  EXPECT_GT(dense_bytes.back(), dense_bytes[chunks - 2]);
}

// Counts the window blocks each query block visited in the last kernel run.
class SelectionCounter : public AttentionRecorder {
 public:
  void record(int64_t, std::vector<QueryBlockRecord> records) override {
    visited.clear();
    for (const QueryBlockRecord& r : records) {
      int64_t n = 0;
      for (uint8_t s : r.selected) n += s;
      visited.push_back(n);
    }
  }
  std::vector<int64_t> visited;
};

TEST(SparseRollout, CagScheduleFollowsTheRolloutsChunkIndex) {
  SessionOptions so{"cpu"};
  so.pass_pipeline = write_pipeline("cag", "method = \"pbsa\"\nblock_size = 4\nwindow = 100\ntop_k = 0\n"
                                           "cag_s_min = 0.0\ncag_s_max = 0.75\ncag_ramp = 3\ncag_curve = \"linear\"");
  auto pipeline = VideoPipeline::load(test::source_path("models/tiny_wan/ts17"), so);
  RolloutOptions ro;
  ro.decode = false;
  Rollout rollout(*pipeline, pipeline->default_context(), ro);
  SelectionCounter counter;
  rollout.sparse_cache()->set_recorder(&counter);
  CagSchedule cag{0.0, 0.75, 3, CagSchedule::Curve::Linear};
  for (int64_t c = 0; c < 5; ++c) {
    ASSERT_TRUE(rollout.next().has_value());
    const int64_t window_blocks = c * 3 * 4;  // 3 frames per chunk, 2x2 tiles of a 4x4 grid
    ASSERT_FALSE(counter.visited.empty());
    for (int64_t n : counter.visited) EXPECT_EQ(n, cag.keep(c, window_blocks)) << "chunk " << c;
  }
}

TEST(SparseRollout, CachePolicyPbsaNeedsPbsaLayers) {
  auto pipeline = VideoPipeline::load(test::source_path("models/tiny_wan/ts17"), SessionOptions{"cpu"});
  RolloutOptions ro;
  ro.cache = CachePolicy::parse("pbsa");
  EXPECT_THROW(Rollout(*pipeline, pipeline->default_context(), ro), Error);
}

}  // namespace
}  // namespace vdrt
