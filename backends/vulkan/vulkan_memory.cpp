#include "backends/vulkan/vulkan_memory.h"

#include <algorithm>

#include "graph/error.h"

namespace vdrt::vulkan {
namespace {
constexpr size_t kBlockBytes = size_t(256) << 20;
constexpr size_t kDedicatedAbove = size_t(32) << 20;
constexpr size_t kAlign = 256;  // >= every device's minStorageBufferOffsetAlignment seen
size_t align_up(size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }
}  // namespace

MemoryPool::MemoryPool(Device& device, bool host_visible) : device_(device), host_visible_(host_visible) {}

MemoryPool::~MemoryPool() {
  const Api& api = device_.api();
  VkDevice dev = device_.handle();
  for (auto& b : blocks_) {
    api.vkDestroyBuffer(dev, b->buffer, nullptr);
    api.vkFreeMemory(dev, b->memory, nullptr);
  }
  for (auto& [buf, b] : dedicated_) {
    api.vkDestroyBuffer(dev, b.buffer, nullptr);
    api.vkFreeMemory(dev, b.memory, nullptr);
  }
}

uint32_t MemoryPool::memory_type(uint32_t type_bits) const {
  const auto& mp = device_.memory_properties();
  VkMemoryPropertyFlags want = host_visible_
      ? (VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)
      : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  // Staging prefers cached memory: downloads read it back on the host.
  if (host_visible_)
    for (uint32_t i = 0; i < mp.memoryTypeCount; ++i)
      if ((type_bits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & (want | VK_MEMORY_PROPERTY_HOST_CACHED_BIT)) ==
                                         (want | VK_MEMORY_PROPERTY_HOST_CACHED_BIT))
        return i;
  for (uint32_t i = 0; i < mp.memoryTypeCount; ++i)
    if ((type_bits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & want) == want) return i;
  throw Error("Vulkan: " + device_.info().name + " has no " + (host_visible_ ? "host-visible" : "device-local") +
              " memory type for storage buffers");
}

Allocation MemoryPool::make_buffer(size_t bytes, Block* into) {
  const Api& api = device_.api();
  VkDevice dev = device_.handle();
  VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bi.size = bytes;
  bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkBuffer buffer;
  check(api.vkCreateBuffer(dev, &bi, nullptr, &buffer), "vkCreateBuffer");
  VkMemoryRequirements req;
  api.vkGetBufferMemoryRequirements(dev, buffer, &req);
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = memory_type(req.memoryTypeBits);
  VkDeviceMemory memory;
  VkResult r = api.vkAllocateMemory(dev, &ai, nullptr, &memory);
  if (r != VK_SUCCESS) {
    api.vkDestroyBuffer(dev, buffer, nullptr);
    throw OutOfMemory("Vulkan: out of " + std::string(host_visible_ ? "host-visible" : "device") + " memory on " +
                      device_.info().name + ": cannot allocate " + std::to_string(bytes >> 20) + " MiB (" +
                      std::to_string(in_use_ >> 20) + " MiB in use; " + result_name(r) + ")");
  }
  check(api.vkBindBufferMemory(dev, buffer, memory, 0), "vkBindBufferMemory");
  void* mapped = nullptr;
  if (host_visible_) check(api.vkMapMemory(dev, memory, 0, VK_WHOLE_SIZE, 0, &mapped), "vkMapMemory");
  into->memory = memory;
  into->buffer = buffer;
  into->size = bytes;
  into->mapped = mapped;
  return Allocation{buffer, 0, bytes, mapped, -1};
}

Allocation MemoryPool::allocate(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  bytes = align_up(std::max<size_t>(bytes, 1));
  if (bytes > kDedicatedAbove) {
    Block b;
    Allocation a = make_buffer(bytes, &b);
    dedicated_.emplace(a.buffer, b);
    in_use_ += bytes;
    return a;
  }
  for (size_t i = 0; i < blocks_.size(); ++i) {
    Block& b = *blocks_[i];
    for (auto it = b.free.begin(); it != b.free.end(); ++it) {
      if (it->second < bytes) continue;
      size_t off = it->first, left = it->second - bytes;
      b.free.erase(it);
      if (left) b.free.emplace(off + bytes, left);
      in_use_ += bytes;
      return Allocation{b.buffer, off, bytes, b.mapped, static_cast<int>(i)};
    }
  }
  auto block = std::make_unique<Block>();
  size_t block_bytes = std::min(kBlockBytes, std::max<size_t>(device_.info().device_local_bytes / 8, kDedicatedAbove));
  make_buffer(block_bytes, block.get());
  block->free.emplace(bytes, block_bytes - bytes);
  blocks_.push_back(std::move(block));
  in_use_ += bytes;
  return Allocation{blocks_.back()->buffer, 0, bytes, blocks_.back()->mapped, static_cast<int>(blocks_.size() - 1)};
}

void MemoryPool::free(const Allocation& a) {
  std::lock_guard<std::mutex> lock(mutex_);
  in_use_ -= a.size;
  const Api& api = device_.api();
  if (a.block < 0) {
    auto it = dedicated_.find(a.buffer);
    if (it == dedicated_.end()) return;
    api.vkDestroyBuffer(device_.handle(), it->second.buffer, nullptr);
    api.vkFreeMemory(device_.handle(), it->second.memory, nullptr);
    dedicated_.erase(it);
    return;
  }
  auto& free = blocks_[a.block]->free;
  auto [it, _] = free.emplace(a.offset, a.size);
  // Merge with the neighbours so the block does not fragment for good.
  if (auto next = std::next(it); next != free.end() && it->first + it->second == next->first) {
    it->second += next->second;
    free.erase(next);
  }
  if (it != free.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second == it->first) {
      prev->second += it->second;
      free.erase(it);
    }
  }
}

}  // namespace vdrt::vulkan
