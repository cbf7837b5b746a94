#include "backends/vulkan/vulkan_stream.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

#include "graph/error.h"

namespace vdrt::vulkan {
namespace {
constexpr uint32_t kDispatchesPerBatch = 96;
constexpr size_t kStagingBytes = size_t(64) << 20;
}  // namespace

Stream::Stream(Device& device, MemoryPool& staging) : device_(device), staging_pool_(staging) {
  VkCommandPoolCreateInfo ci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  ci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  ci.queueFamilyIndex = device.info().compute_queue_family;
  check(device.api().vkCreateCommandPool(device.handle(), &ci, nullptr, &pool_), "vkCreateCommandPool");
  staging_ = staging_pool_.allocate(kStagingBytes);
  const char* prof = std::getenv("VDRT_VULKAN_PROFILE");
  profile_ = prof && *prof && std::string(prof) != "0";
  if (profile_) {
    VkPhysicalDeviceProperties props;
    Instance::get().api().vkGetPhysicalDeviceProperties(device.info().handle, &props);
    ns_per_tick_ = props.limits.timestampPeriod;
  }
}

Stream::~Stream() {
  try {
    wait();
  } catch (...) {
  }
  const Api& api = device_.api();
  if (profile_) profile_totals_.print("vulkan", "; each dispatch timed alone, overlap ignored");
  for (Batch& b : batches_) {
    if (b.queries) api.vkDestroyQueryPool(device_.handle(), b.queries, nullptr);
    api.vkDestroyFence(device_.handle(), b.fence, nullptr);
    api.vkFreeCommandBuffers(device_.handle(), pool_, 1, &b.cmd);
  }
  api.vkDestroyCommandPool(device_.handle(), pool_, nullptr);
  staging_pool_.free(staging_);
  if (readback_.buffer) staging_pool_.free(readback_);
}

VkCommandBuffer Stream::current() {
  if (recording_ >= 0) return batches_[recording_].cmd;
  const Api& api = device_.api();
  int idx = -1;
  for (size_t i = 0; i < batches_.size(); ++i) {
    Batch& b = batches_[i];
    if (b.in_flight && api.vkWaitForFences(device_.handle(), 1, &b.fence, VK_TRUE, 0) == VK_SUCCESS) {
      b.in_flight = false;
      collect_profile(b);
    }
    if (!b.in_flight) {
      idx = static_cast<int>(i);
      break;
    }
  }
  if (idx < 0) {
    Batch b;
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    check(api.vkAllocateCommandBuffers(device_.handle(), &ai, &b.cmd), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    check(api.vkCreateFence(device_.handle(), &fi, nullptr, &b.fence), "vkCreateFence");
    if (profile_) {
      VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
      qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
      qi.queryCount = 2 * kDispatchesPerBatch;
      check(api.vkCreateQueryPool(device_.handle(), &qi, nullptr, &b.queries), "vkCreateQueryPool");
    }
    batches_.push_back(b);
    idx = static_cast<int>(batches_.size() - 1);
  }
  Batch& b = batches_[idx];
  api.vkResetFences(device_.handle(), 1, &b.fence);
  api.vkResetCommandBuffer(b.cmd, 0);
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check(api.vkBeginCommandBuffer(b.cmd, &bi), "vkBeginCommandBuffer");
  if (profile_) {
    api.vkCmdResetQueryPool(b.cmd, b.queries, 0, 2 * kDispatchesPerBatch);
    b.labels.clear();
  }
  recording_ = idx;
  recorded_in_batch_ = 0;
  return b.cmd;
}

void Stream::barrier() {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                     VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
  VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  device_.api().vkCmdPipelineBarrier(current(), stages, stages | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0,
                                     nullptr);
  touched_.clear();
  ++barrier_count_;
}

void Stream::hazard_check(const std::vector<BoundRange>& ranges) {
  for (const BoundRange& r : ranges)
    for (const BoundRange& t : touched_) {
      if (!(r.write || t.write) || r.buffer != t.buffer) continue;
      if (r.offset < t.offset + t.size && t.offset < r.offset + r.size) {
        barrier();
        goto done;
      }
    }
done:
  for (const BoundRange& r : ranges) touched_.push_back(r);
  if (touched_.size() > 1024) barrier();  // bounds the scan; rare
}

void Stream::dispatch(const Pipeline& p, const std::vector<BoundRange>& ranges, const std::vector<uint32_t>& push,
                      const uint32_t groups[3], const std::string* label) {
  const Api& api = device_.api();
  VkCommandBuffer cmd = current();
  hazard_check(ranges);
  api.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
  std::vector<VkDescriptorBufferInfo> infos(ranges.size());
  std::vector<VkWriteDescriptorSet> writes(ranges.size());
  for (size_t i = 0; i < ranges.size(); ++i) {
    infos[i] = VkDescriptorBufferInfo{ranges[i].buffer, ranges[i].offset, std::max<size_t>(ranges[i].size, 4)};
    writes[i] = VkWriteDescriptorSet{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstBinding = static_cast<uint32_t>(i);
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[i].pBufferInfo = &infos[i];
  }
  if (!writes.empty())
    api.vkCmdPushDescriptorSetKHR(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, static_cast<uint32_t>(writes.size()),
                                  writes.data());
  VDRT_CHECK(push.size() * 4 <= kPushConstantBytes, "Vulkan: a kernel passes more than 128 bytes of push constants");
  if (!push.empty())
    api.vkCmdPushConstants(cmd, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, static_cast<uint32_t>(push.size() * 4),
                           push.data());
  Batch& batch = batches_[recording_];
  uint32_t q = static_cast<uint32_t>(2 * batch.labels.size());
  if (profile_) api.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, batch.queries, q);
  api.vkCmdDispatch(cmd, groups[0], groups[1], groups[2]);
  if (profile_) {
    api.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, batch.queries, q + 1);
    static const std::string unnamed = "?";
    batch.labels.push_back(label ? label : &unnamed);
  }
  ++dispatch_count_;
  if (++recorded_in_batch_ >= kDispatchesPerBatch) submit();
}

void Stream::staging_reserve(size_t bytes) {
  if (staging_head_ + bytes <= staging_.size) return;
  wait();  // every earlier upload has landed: the ring is free again
}

void Stream::upload(const BoundRange& dst, const void* src) {
  const Api& api = device_.api();
  size_t done = 0;
  while (done < dst.size) {
    size_t chunk = std::min(dst.size - done, staging_.size);
    staging_reserve(chunk);
    std::memcpy(static_cast<uint8_t*>(staging_.mapped) + staging_.offset + staging_head_,
                static_cast<const uint8_t*>(src) + done, chunk);
    VkCommandBuffer cmd = current();
    hazard_check({BoundRange{dst.buffer, dst.offset + done, chunk, true}});
    VkBufferCopy region{staging_.offset + staging_head_, dst.offset + done, chunk};
    api.vkCmdCopyBuffer(cmd, staging_.buffer, dst.buffer, 1, &region);
    staging_head_ = (staging_head_ + chunk + 255) / 256 * 256;
    done += chunk;
  }
}

void Stream::fill(const BoundRange& dst, uint32_t word) {
  VkCommandBuffer cmd = current();
  hazard_check({dst});
  device_.api().vkCmdFillBuffer(cmd, dst.buffer, dst.offset, (dst.size + 3) / 4 * 4, word);
}

void Stream::copy(const BoundRange& src, const BoundRange& dst) {
  VkCommandBuffer cmd = current();
  hazard_check({src, dst});
  VkBufferCopy region{src.offset, dst.offset, std::min(src.size, dst.size)};
  device_.api().vkCmdCopyBuffer(cmd, src.buffer, dst.buffer, 1, &region);
}

void Stream::download(const BoundRange& src, void* dst) {
  const Api& api = device_.api();
  constexpr size_t kChunk = size_t(64) << 20;
  if (!readback_.buffer) readback_ = staging_pool_.allocate(kChunk);
  size_t done = 0;
  while (done < src.size) {
    size_t chunk = std::min(src.size - done, kChunk);
    VkCommandBuffer cmd = current();
    hazard_check({BoundRange{src.buffer, src.offset + done, chunk, false}});
    VkBufferCopy region{src.offset + done, readback_.offset, chunk};
    api.vkCmdCopyBuffer(cmd, src.buffer, readback_.buffer, 1, &region);
    barrier();  // transfer -> host
    wait();
    std::memcpy(static_cast<uint8_t*>(dst) + done, static_cast<uint8_t*>(readback_.mapped) + readback_.offset, chunk);
    done += chunk;
  }
}

void Stream::submit() {
  if (recording_ < 0) return;
  const Api& api = device_.api();
  Batch& b = batches_[recording_];
  check(api.vkEndCommandBuffer(b.cmd), "vkEndCommandBuffer");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &b.cmd;
  check(api.vkQueueSubmit(device_.queue(), 1, &si, b.fence), "vkQueueSubmit");
  b.in_flight = true;
  recording_ = -1;
  ++submit_count_;
}

void Stream::wait() {
  submit();
  const Api& api = device_.api();
  for (Batch& b : batches_)
    if (b.in_flight) {
      VkResult r = api.vkWaitForFences(device_.handle(), 1, &b.fence, VK_TRUE, UINT64_MAX);
      b.in_flight = false;
      check(r, "vkWaitForFences (the device may have been lost)");
      collect_profile(b);
    }
  staging_head_ = 0;
  // touched_ stays: work from an earlier submission still needs a barrier
  // before a later one reads it (a fence makes it available to the host only).
}

}  // namespace vdrt::vulkan

namespace vdrt::vulkan {

void Stream::collect_profile(Batch& b) {
  if (!profile_ || b.labels.empty()) return;
  std::vector<uint64_t> ticks(2 * b.labels.size());
  device_.api().vkGetQueryPoolResults(device_.handle(), b.queries, 0, static_cast<uint32_t>(ticks.size()),
                                      ticks.size() * 8, ticks.data(), 8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
  for (size_t i = 0; i < b.labels.size(); ++i) {
    const double ns = ticks[2 * i + 1] > ticks[2 * i] ? (ticks[2 * i + 1] - ticks[2 * i]) * ns_per_tick_ : 0.0;
    profile_totals_.add(*b.labels[i], ns);
  }
  b.labels.clear();
}

}  // namespace vdrt::vulkan
