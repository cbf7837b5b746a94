#include "runtime/memory_plan.h"

#include <gtest/gtest.h>

#include <random>

namespace vdrt {
namespace {

bool overlaps_in_time(const BufferRequest& a, const BufferRequest& b) { return a.first <= b.last && b.first <= a.last; }

TEST(MemoryPlan, ChainReusesMemory) {
  // x0 -> x1 -> x2 -> x3: each buffer lives for two steps, so two slots suffice.
  std::vector<BufferRequest> reqs = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {1000, 3, 4}};
  MemoryPlan p = plan_memory(reqs);
  EXPECT_EQ(p.arena_bytes, 2 * 1024u);
  EXPECT_EQ(p.naive_bytes, 4 * 1024u);
  EXPECT_NE(p.offsets[0], p.offsets[1]);
  EXPECT_EQ(p.offsets[0], p.offsets[2]);
}

TEST(MemoryPlan, LiveBuffersNeverShareBytesOnRandomGraphs) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<BufferRequest> reqs(1 + rng() % 60);
    for (auto& r : reqs) {
      r.first = rng() % 50;
      r.last = r.first + rng() % 10;
      r.bytes = rng() % 5000;
    }
    MemoryPlan p = plan_memory(reqs, 64);
    size_t peak_live = 0;
    for (int64_t step = 0; step < 60; ++step) {
      size_t live = 0;
      for (const auto& r : reqs)
        if (r.first <= step && step <= r.last) live += (r.bytes + 63) / 64 * 64;
      peak_live = std::max(peak_live, live);
    }
    EXPECT_GE(p.arena_bytes, peak_live);  // no plan can beat the live peak
    EXPECT_LE(p.arena_bytes, p.naive_bytes);
    for (size_t i = 0; i < reqs.size(); ++i) {
      EXPECT_EQ(p.offsets[i] % 64, 0u);
      EXPECT_LE(p.offsets[i] + reqs[i].bytes, p.arena_bytes);
      for (size_t j = i + 1; j < reqs.size(); ++j) {
        if (!overlaps_in_time(reqs[i], reqs[j]) || !reqs[i].bytes || !reqs[j].bytes) continue;
        bool disjoint = p.offsets[i] + reqs[i].bytes <= p.offsets[j] || p.offsets[j] + reqs[j].bytes <= p.offsets[i];
        ASSERT_TRUE(disjoint) << "trial " << trial << ": buffers " << i << " and " << j << " overlap";
      }
    }
  }
}

}  // namespace
}  // namespace vdrt
