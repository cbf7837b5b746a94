#pragma once
// Liveness-based placement of activations in one arena: buffers whose
// lifetimes do not overlap may share bytes. Greedy by size (largest first),
// each buffer takes the lowest offset that fits between the live buffers
// already placed; the usual heuristic of TFLite's and ORT's arena planners.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vdrt {

struct BufferRequest {
  size_t bytes = 0;
  int64_t first = 0;  // step that writes it
  int64_t last = 0;   // last step that reads it (inclusive)
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // per request
  size_t arena_bytes = 0;
  size_t naive_bytes = 0;  // sum of all requests, for comparison
};

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests, size_t alignment = 64);

}  // namespace vdrt
