#pragma once
// Lists the devices of every compiled-in backend and creates one on request.
// Selection strings: "auto" (a GPU if any, else the CPU), "cpu", "opencl",
// "opencl:1", "vulkan:0". The VDRT_DEVICE environment variable overrides
// "auto".
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace vdrt {

struct BackendFactory {
  std::string name;                                        // "cpu"
  std::function<std::vector<DeviceInfo>()> list_devices;   // must not throw
  std::function<std::unique_ptr<Backend>(int index, int cpu_threads)> create;
};

class BackendRegistry {
 public:
  static BackendRegistry& instance();
  void add(BackendFactory f);
  std::vector<DeviceInfo> devices() const;
  std::vector<std::string> backend_names() const;
  // `cpu_threads` bounds oneTBB's worker count (0 = all cores).
  std::unique_ptr<Backend> create(const std::string& selection, int cpu_threads = 0) const;  // throws vdrt::Error

 private:
  std::vector<BackendFactory> factories_;
};

namespace detail {
struct BackendRegistrar {
  explicit BackendRegistrar(BackendFactory f) { BackendRegistry::instance().add(std::move(f)); }
};
}  // namespace detail

}  // namespace vdrt
