#include "tools/placement_report.h"

#include <map>

#include <spdlog/spdlog.h>

namespace vdrt::cli {

std::string placement_line(const Session& session) {
  std::map<std::string, int> count;
  for (const std::string& p : session.last_placement()) ++count[p];
  std::string line = "placement:";
  for (const auto& [where, n] : count) line += " " + std::to_string(n) + " " + where + ",";
  const RunStats& s = session.last_stats();
  line += " copies: " + std::to_string(s.host_uploads) + " host->device, " + std::to_string(s.cross_copies) +
          " between backends";
  return line;
}

void log_placement(const Session& session) {
  spdlog::info("{}", placement_line(session));
  const std::string primary = const_cast<Session&>(session).backend().info().backend;
  if (primary == "cpu") return;
  std::vector<std::string> where = session.last_placement();
  const auto& nodes = session.graph().nodes();
  for (size_t i = 0; i < nodes.size(); ++i)
    if (where[i] != primary && where[i] != "host")
      spdlog::debug("  on {}: {} ({})", where[i], nodes[i]->name(), nodes[i]->qualified_op());
}

}  // namespace vdrt::cli
