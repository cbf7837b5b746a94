#include "backends/registry.h"

#include <algorithm>
#include <cstdlib>

#include "graph/error.h"

namespace vdrt {

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
    // Discrete GPUs first, then integrated ones; software devices (lavapipe,
    // PoCL) never win over the CPU backend. Among GPUs of one kind Vulkan
    // comes first: its kernels use the matrix units OpenCL cannot reach.
    std::vector<const BackendFactory*> ordered;
    for (const auto& f : factories_) ordered.push_back(&f);
    auto rank = [](const BackendFactory* f) { return f->name == "vulkan" ? 0 : f->name == "opencl" ? 1 : 2; };
    std::stable_sort(ordered.begin(), ordered.end(), [&](auto* a, auto* b) { return rank(a) < rank(b); });
    for (const char* kind : {"gpu", "igpu"})
      for (const BackendFactory* f : ordered)
        for (const auto& d : f->list_devices())
          if (d.kind == kind) return f->create(d.index, options);
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
