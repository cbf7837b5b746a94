#include "runtime/kv_cache.h"

#include <gtest/gtest.h>

namespace vdrt {
namespace {

constexpr int64_t kTokensPerFrame = 4, kHeads = 2, kDim = 3, kFramesPerChunk = 3;

// A chunk whose every element records the absolute frame it belongs to.
Tensor chunk_of_frames(int64_t first_frame) {
  Tensor t(DType::F32, {1, kFramesPerChunk * kTokensPerFrame, kHeads, kDim});
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(first_frame + i / (kTokensPerFrame * kHeads * kDim));
  return t;
}

std::vector<int64_t> frames_held(const Tensor& t) {
  std::vector<int64_t> out;
  const float* p = t.data<float>();
  for (int64_t f = 0; f < t.dims()[1] / kTokensPerFrame; ++f) out.push_back(static_cast<int64_t>(p[f * kTokensPerFrame * kHeads * kDim]));
  return out;
}

TEST(KvCache, UnboundedKeepsEveryFrameInOrder) {
  KvCache cache({{1, 0, kHeads, kDim}}, {{1, 0, kHeads, kDim}}, kTokensPerFrame, CachePolicy{});
  for (int64_t c = 0; c < 4; ++c) cache.append({chunk_of_frames(c * 3)}, {chunk_of_frames(c * 3)});
  EXPECT_EQ(cache.frames(), 12);
  EXPECT_EQ(frames_held(cache.key(0)), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(cache.bytes(), 2u * 12 * kTokensPerFrame * kHeads * kDim * sizeof(float));
}

TEST(KvCache, WindowWithSinksStaysBoundedOver100Chunks) {
  CachePolicy policy = CachePolicy::parse("window:9,sink:3");
  KvCache cache({{1, 0, kHeads, kDim}, {1, 0, kHeads, kDim}}, {{1, 0, kHeads, kDim}, {1, 0, kHeads, kDim}},
                kTokensPerFrame, policy);
  const size_t bound = 2u * 2 * 9 * kTokensPerFrame * kHeads * kDim * sizeof(float);
  for (int64_t c = 0; c < 100; ++c) {
    std::vector<Tensor> ks = {chunk_of_frames(c * 3), chunk_of_frames(c * 3)};
    cache.append(ks, ks);
    ASSERT_LE(cache.bytes(), bound) << "chunk " << c;
  }
  EXPECT_EQ(cache.frames_seen(), 300);
  // Sinks are the first three frames; the rest are the six most recent.
  EXPECT_EQ(frames_held(cache.value(1)), (std::vector<int64_t>{0, 1, 2, 294, 295, 296, 297, 298, 299}));
  // The transient peak holds one extra chunk before eviction, never more.
  EXPECT_LE(cache.peak_bytes(), bound + 2u * 2 * 3 * kTokensPerFrame * kHeads * kDim * sizeof(float));
}

TEST(KvCache, RejectsBadPoliciesAndShapes) {
  EXPECT_THROW(CachePolicy::parse("window:3,sink:3"), Error);
  EXPECT_THROW(CachePolicy::parse("ring:3"), Error);
  EXPECT_THROW(CachePolicy::parse("window:x"), Error);
  KvCache cache({{1, 0, kHeads, kDim}}, {{1, 0, kHeads, kDim}}, kTokensPerFrame, CachePolicy{});
  Tensor partial(DType::F32, {1, 5, kHeads, kDim});  // not whole frames
  EXPECT_THROW(cache.append({partial}, {partial}), Error);
  Tensor wrong_heads(DType::F32, {1, 4, kHeads + 1, kDim});
  EXPECT_THROW(cache.append({wrong_heads}, {wrong_heads}), Error);
}

}  // namespace
}  // namespace vdrt
