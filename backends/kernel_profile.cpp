#include "backends/kernel_profile.h"

#include <algorithm>
#include <vector>

#include <spdlog/spdlog.h>

namespace vdrt {

void KernelProfile::add(const std::string& label, double ns) {
  OpTime& t = totals_[label];
  ++t.count;
  t.ns += ns;
}

void KernelProfile::print(const std::string& backend, const std::string& note) const {
  std::vector<std::pair<std::string, OpTime>> rows(totals_.begin(), totals_.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
  double total = 0;
  uint64_t dispatches = 0;
  for (const auto& r : rows) total += r.second.ns, dispatches += r.second.count;
  spdlog::info("{} profile ({} dispatches, {:.3f} ms of GPU time{}):", backend, dispatches, total * 1e-6, note);
  for (const auto& [label, t] : rows)
    spdlog::info("  {:>10.3f} ms {:>5.1f}%  {:>6} x  {}", t.ns * 1e-6, 100.0 * t.ns / std::max(total, 1.0), t.count, label);
}

}  // namespace vdrt
