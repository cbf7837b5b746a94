#pragma once
// Device memory for vdrt's buffers. Vulkan limits the number of allocations
// (often 4096) and each is slow, so small buffers (weights, per-node
// constants) are carved from large blocks with a first-fit free list; large
// ones (a run plan's activation arena) get a dedicated allocation. No
// Vulkan Memory Allocator package exists in Debian 12, hence this.
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "backends/vulkan/vulkan_device.h"

namespace vdrt::vulkan {

struct Allocation {
  VkBuffer buffer = VK_NULL_HANDLE;  // the block's buffer; the range is [offset, offset + size)
  size_t offset = 0;
  size_t size = 0;
  void* mapped = nullptr;            // host pointer of offset 0 for host-visible memory
  int block = -1;                    // -1: dedicated
};

class MemoryPool {
 public:
  // host_visible: staging memory (mapped, coherent); else device-local.
  MemoryPool(Device& device, bool host_visible);
  ~MemoryPool();
  Allocation allocate(size_t bytes);  // throws OutOfMemory naming the device and the request
  void free(const Allocation& a);
  size_t bytes_in_use() const { return in_use_; }

 private:
  struct Block {
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkBuffer buffer = VK_NULL_HANDLE;
    size_t size = 0;
    void* mapped = nullptr;
    std::map<size_t, size_t> free;  // offset -> size
  };
  Allocation make_buffer(size_t bytes, Block* into);
  uint32_t memory_type(uint32_t type_bits) const;

  Device& device_;
  bool host_visible_;
  std::vector<std::unique_ptr<Block>> blocks_;
  std::map<VkBuffer, Block> dedicated_;
  size_t in_use_ = 0;
  std::mutex mutex_;
};

}  // namespace vdrt::vulkan
