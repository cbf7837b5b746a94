#include "runtime/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace vdrt {

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests, size_t alignment) {
  MemoryPlan plan;
  plan.offsets.assign(requests.size(), 0);
  auto align = [alignment](size_t b) { return (b + alignment - 1) / alignment * alignment; };
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return requests[a].bytes > requests[b].bytes; });
  std::vector<size_t> placed;
  for (size_t idx : order) {
    const BufferRequest& r = requests[idx];
    plan.naive_bytes += align(r.bytes);
    // Live neighbours, ordered by offset, bound the gaps we may use.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t p : placed) {
      const BufferRequest& q = requests[p];
      if (q.first <= r.last && r.first <= q.last) busy.emplace_back(plan.offsets[p], align(q.bytes));
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0, need = align(r.bytes);
    for (const auto& [start, size] : busy) {
      if (start >= offset + need) break;  // the gap before this one fits
      offset = std::max(offset, start + size);
    }
    plan.offsets[idx] = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, offset + need);
    placed.push_back(idx);
  }
  return plan;
}

}  // namespace vdrt
