#pragma once
// Records dispatches and copies into command buffers and submits them in
// batches: the host never waits inside a call, the GPU starts on the first
// batch while later nodes are still being recorded, and a barrier is
// recorded only before a command that touches memory an earlier command of
// the same barrier interval wrote (or reads what it is about to write).
#include <cstdint>
#include <string>
#include <vector>

#include "backends/kernel_profile.h"
#include "backends/vulkan/vulkan_memory.h"
#include "backends/vulkan/vulkan_pipelines.h"

namespace vdrt::vulkan {

struct BoundRange {
  VkBuffer buffer = VK_NULL_HANDLE;
  size_t offset = 0, size = 0;
  bool write = false;
};

class Stream {
 public:
  Stream(Device& device, MemoryPool& staging);
  ~Stream();

  // `label` names the dispatch in the profile (VDRT_VULKAN_PROFILE=1).
  void dispatch(const Pipeline& p, const std::vector<BoundRange>& ranges, const std::vector<uint32_t>& push,
                const uint32_t groups[3], const std::string* label = nullptr);
  // Copies host memory into a device range, through the staging ring, in
  // stream order (later dispatches see it).
  void upload(const BoundRange& dst, const void* src);
  // Waits for everything recorded so far, then copies a device range to the host.
  void download(const BoundRange& src, void* dst);
  // Fills a device range with a 32-bit word, in stream order.
  void fill(const BoundRange& dst, uint32_t word);
  void copy(const BoundRange& src, const BoundRange& dst);  // in stream order
  void submit();  // sends what is recorded; does not wait
  void wait();    // submits and waits for all work
  uint64_t dispatches() const { return dispatch_count_; }
  uint64_t barriers() const { return barrier_count_; }
  uint64_t submits() const { return submit_count_; }

 private:
  struct Batch {
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
    bool in_flight = false;
    VkQueryPool queries = VK_NULL_HANDLE;   // profiling: two timestamps per dispatch
    std::vector<const std::string*> labels;
  };
  void collect_profile(Batch& b);
  VkCommandBuffer current();
  void hazard_check(const std::vector<BoundRange>& ranges);
  void barrier();
  void staging_reserve(size_t bytes);

  Device& device_;
  MemoryPool& staging_pool_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  std::vector<Batch> batches_;
  int recording_ = -1;      // index into batches_, or -1
  uint32_t recorded_in_batch_ = 0;
  std::vector<BoundRange> touched_;  // since the last barrier
  Allocation staging_;      // upload ring
  size_t staging_head_ = 0;
  Allocation readback_;
  uint64_t dispatch_count_ = 0, barrier_count_ = 0, submit_count_ = 0;
  bool profile_ = false;
  double ns_per_tick_ = 1;
  KernelProfile profile_totals_;
};

}  // namespace vdrt::vulkan
