#include "runtime/op_profile.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace vdrt {

std::vector<OpTypeTime> op_type_times(const Graph& graph, const NodeProfile& profile) {
  std::vector<OpTypeTime> rows;
  if (profile.runs == 0) return rows;
  std::map<std::string, OpTypeTime> by_op;
  double in_nodes = 0;
  const auto& nodes = graph.nodes();
  for (size_t i = 0; i < nodes.size() && i < profile.calls.size(); ++i) {
    if (profile.calls[i] == 0) continue;
    OpTypeTime& r = by_op[nodes[i]->qualified_op()];
    ++r.nodes;
    r.calls += profile.calls[i];
    r.total_ms += profile.seconds[i] * 1e3;
    in_nodes += profile.seconds[i];
  }
  const double wall_ms = profile.run_seconds * 1e3;
  for (auto& [op, r] : by_op) {
    r.op = op;
    rows.push_back(r);
  }
  std::sort(rows.begin(), rows.end(), [](const OpTypeTime& a, const OpTypeTime& b) {
    return a.total_ms != b.total_ms ? a.total_ms > b.total_ms : a.op < b.op;
  });
  OpTypeTime rest;
  rest.op = kRuntimeRow;
  rest.calls = profile.runs;
  rest.total_ms = std::max(0.0, wall_ms - in_nodes * 1e3);
  rows.push_back(rest);
  for (OpTypeTime& r : rows) {
    r.percent = wall_ms > 0 ? 100.0 * r.total_ms / wall_ms : 0;
    r.ms_per_call = r.calls ? r.total_ms / r.calls : 0;
  }
  return rows;
}

std::string op_type_table(const std::vector<OpTypeTime>& rows, const NodeProfile& profile,
                          const std::string& backend) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "profile     %lld runs, %.4f ms per run; ", static_cast<long long>(profile.runs),
                profile.runs ? profile.run_seconds * 1e3 / profile.runs : 0.0);
  out += line;
  if (backend == "cpu")
    out += "time per node on the CPU backend (kernels run to completion)\n";
  else
    out += "nodes on " + backend + " are timed by their host enqueue only, not the GPU work: set VDRT_" +
           (backend == "vulkan" ? std::string("VULKAN") : std::string("OPENCL")) +
           "_PROFILE=1 for kernel times (nodes on the CPU fallback are timed exactly)\n";
  std::snprintf(line, sizeof line, "%-28s %6s %8s %10s %7s %10s\n", "op type", "nodes", "calls", "total_ms", "%",
                "ms/call");
  out += line;
  double sum = 0;
  for (const OpTypeTime& r : rows) {
    std::snprintf(line, sizeof line, "%-28s %6lld %8lld %10.3f %6.1f%% %10.4f\n", r.op.c_str(),
                  static_cast<long long>(r.nodes), static_cast<long long>(r.calls), r.total_ms, r.percent,
                  r.ms_per_call);
    out += line;
    sum += r.percent;
  }
  std::snprintf(line, sizeof line, "%-28s %6s %8s %10.3f %6.1f%%\n", "total", "", "", profile.run_seconds * 1e3, sum);
  out += line;
  return out;
}

}  // namespace vdrt
