#include "backends/registry.h"

#include <algorithm>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "graph/error.h"

namespace vdrt {

std::vector<DeviceInfo> auto_candidates(const std::vector<DeviceInfo>& devices, const std::string& precision) {
  auto kind_rank = [](const DeviceInfo& d) { return d.kind == "gpu" ? 0 : d.kind == "igpu" ? 1 : 2; };
  auto backend_rank = [](const DeviceInfo& d) { return d.backend == "vulkan" ? 0 : d.backend == "opencl" ? 1 : 2; };
  const bool fp16 = precision == "fp16";
  std::vector<DeviceInfo> out;
  for (const DeviceInfo& d : devices)
    if (kind_rank(d) < 2) out.push_back(d);
  std::stable_sort(out.begin(), out.end(), [&](const DeviceInfo& a, const DeviceInfo& b) {
    if (kind_rank(a) != kind_rank(b)) return kind_rank(a) < kind_rank(b);
    if (fp16 && a.fp16_tier != b.fp16_tier) return a.fp16_tier > b.fp16_tier;
    return backend_rank(a) < backend_rank(b);
  });
  return out;
}

BackendRegistry& BackendRegistry::instance() {
  static BackendRegistry r;
  return r;
}

void BackendRegistry::add(BackendFactory f) { factories_.push_back(std::move(f)); }

std::vector<DeviceInfo> BackendRegistry::devices() const {
  std::vector<DeviceInfo> out;
  for (const auto& f : factories_)
    for (auto& d : f.list_devices()) out.push_back(std::move(d));
  return out;
}

std::vector<std::string> BackendRegistry::backend_names() const {
  std::vector<std::string> out;
  for (const auto& f : factories_) out.push_back(f.name);
  return out;
}

std::vector<std::string> BackendRegistry::unavailable() const {
  std::vector<std::string> out;
  for (const auto& f : factories_)
    if (f.list_devices().empty()) {
      std::string why = f.unavailable_reason ? f.unavailable_reason() : std::string();
      out.push_back(f.name + ": " + (why.empty() ? "no device found" : why));
    }
  return out;
}

std::unique_ptr<Backend> BackendRegistry::create(const std::string& selection_in, const BackendOptions& options) const {
  std::string selection = selection_in.empty() ? "auto" : selection_in;
  if (selection == "auto") {
    if (const char* env = std::getenv("VDRT_DEVICE"); env && *env) selection = env;
  }
  if (selection == "auto") {
    // A candidate that cannot be created (a driver that refuses the
    // precision, a failed tensor-core probe) gives way to the next.
    bool refused = false;
    for (const DeviceInfo& d : auto_candidates(devices(), options.precision)) {
      for (const auto& f : factories_) {
        if (f.name != d.backend) continue;
        try {
          return f.create(d.index, options);
        } catch (const Error& e) {
          spdlog::warn("--device auto: {}:{} ({}) not used: {}", d.backend, d.index, d.name, e.what());
          refused = true;
        }
      }
    }
    if (refused) spdlog::warn("--device auto: running on the CPU");
    selection = "cpu";
  }
  std::string name = selection;
  int index = 0;
  if (auto colon = selection.find(':'); colon != std::string::npos) {
    name = selection.substr(0, colon);
    try {
      index = std::stoi(selection.substr(colon + 1));
    } catch (const std::exception&) {
      throw Error("bad device index in '" + selection + "' (expected e.g. opencl:0)");
    }
  }
  for (const auto& f : factories_) {
    if (f.name != name) continue;
    auto devs = f.list_devices();
    if (devs.empty()) {
      std::string why = f.unavailable_reason ? f.unavailable_reason() : std::string();
      throw Error("backend '" + name + "' has no device" + (why.empty() ? "" : ": " + why));
    }
    VDRT_CHECK(index >= 0 && index < static_cast<int>(devs.size()),
               "backend '" + name + "' has " + std::to_string(devs.size()) + " device(s); index " +
                   std::to_string(index) + " does not exist");
    return f.create(index, options);
  }
  std::string known;
  for (const auto& f : factories_) known += (known.empty() ? "" : ", ") + f.name;
  throw Error("unknown backend '" + name + "' (available: " + known + ", auto)");
}

}  // namespace vdrt
