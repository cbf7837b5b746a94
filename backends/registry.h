#pragma once
// Lists the devices of every compiled-in backend and creates one on request.
// Selection strings: "auto" (a discrete GPU, else an integrated one, else
// the CPU), "cpu", "opencl",
// "opencl:1", "vulkan:0". The VDRT_DEVICE environment variable overrides
// "auto".
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace vdrt {

struct BackendOptions {
  int cpu_threads = 0;              // oneTBB's worker count (0 = all cores)
  std::string precision = "fp32";   // GPU backends: fp32 or fp16 (see SessionOptions)
};

struct BackendFactory {
  std::string name;                                        // "cpu"
  std::function<std::vector<DeviceInfo>()> list_devices;   // must not throw
  std::function<std::unique_ptr<Backend>(int index, const BackendOptions&)> create;
  // Why the backend lists no device (no driver, no loader...); may be empty.
  std::function<std::string()> unavailable_reason = nullptr;
};

// The devices --device auto tries, best first: discrete GPUs, then
// integrated ones; among GPUs of one kind, for fp16 sessions the higher
// DeviceInfo::fp16_tier first, then Vulkan before OpenCL before others.
// Software devices (lavapipe, PoCL: kind "cpu") are never candidates; the
// CPU backend is what remains when none is left.
std::vector<DeviceInfo> auto_candidates(const std::vector<DeviceInfo>& devices, const std::string& precision);

class BackendRegistry {
 public:
  static BackendRegistry& instance();
  void add(BackendFactory f);
  std::vector<DeviceInfo> devices() const;
  std::vector<std::string> backend_names() const;
  std::unique_ptr<Backend> create(const std::string& selection, const BackendOptions& options = {}) const;  // throws vdrt::Error
  // "vulkan: <reason>" for each compiled-in backend that lists no device.
  std::vector<std::string> unavailable() const;

 private:
  std::vector<BackendFactory> factories_;
};

namespace detail {
struct BackendRegistrar {
  explicit BackendRegistrar(BackendFactory f) { BackendRegistry::instance().add(std::move(f)); }
};
}  // namespace detail

}  // namespace vdrt
