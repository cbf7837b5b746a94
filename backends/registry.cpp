#include "backends/registry.h"

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

std::unique_ptr<Backend> BackendRegistry::create(const std::string& selection_in, int cpu_threads) const {
  std::string selection = selection_in.empty() ? "auto" : selection_in;
  if (selection == "auto") {
    if (const char* env = std::getenv("VDRT_DEVICE"); env && *env) selection = env;
  }
  if (selection == "auto") {
    for (const auto& f : factories_)
      for (const auto& d : f.list_devices())
        if (d.kind == "gpu") return f.create(d.index, cpu_threads);
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
    VDRT_CHECK(index >= 0 && index < static_cast<int>(devs.size()),
               "backend '" + name + "' has " + std::to_string(devs.size()) + " device(s); index " +
                   std::to_string(index) + " does not exist");
    return f.create(index, cpu_threads);
  }
  std::string known;
  for (const auto& f : factories_) known += (known.empty() ? "" : ", ") + f.name;
  throw Error("unknown backend '" + name + "' (available: " + known + ", auto)");
}

}  // namespace vdrt
