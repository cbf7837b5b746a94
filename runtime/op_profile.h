#pragma once
// The per-op-type table of `vdrt bench --profile` (the summary ONNX Runtime's
// profiler gives): a session's NodeProfile summed by op type, most time
// first, with the rest of each call (plan lookup, binding, output copies)
// as one row of its own so that the shares add up to the whole call.
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/session.h"

namespace vdrt {

struct OpTypeTime {
  std::string op;         // qualified op type, e.g. "MatMul", "vdrt.Attention"; kRuntimeRow for the rest
  int64_t nodes = 0;      // nodes of this type that ran
  int64_t calls = 0;      // kernel calls over the profiled runs
  double total_ms = 0;    // over the profiled runs
  double percent = 0;     // of the profiled runs' wall time
  double ms_per_call = 0;
};

inline constexpr const char* kRuntimeRow = "(runtime)";

// Rows by total time, then kRuntimeRow (wall time not spent in any node).
// Empty when no profiled run was made.
std::vector<OpTypeTime> op_type_times(const Graph& graph, const NodeProfile& profile);

// The table as text, with a line saying what was timed on `backend`.
std::string op_type_table(const std::vector<OpTypeTime>& rows, const NodeProfile& profile,
                          const std::string& backend);

}  // namespace vdrt
