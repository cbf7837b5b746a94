#pragma once
// Device time per "op kernel" label, summed over a backend's life and
// printed largest first when it closes: what VDRT_VULKAN_PROFILE and
// VDRT_OPENCL_PROFILE show. The backends time dispatches their own way
// (timestamp queries, event profiling); the table is one.
#include <cstdint>
#include <map>
#include <string>

namespace vdrt {

class KernelProfile {
 public:
  void add(const std::string& label, double ns);
  // "<backend> profile (N dispatches, T ms of GPU time<note>):" then one row per label.
  void print(const std::string& backend, const std::string& note = "") const;

 private:
  struct OpTime {
    uint64_t count = 0;
    double ns = 0;
  };
  std::map<std::string, OpTime> totals_;
};

}  // namespace vdrt
