// `vdrt devices`: every device of every compiled-in backend, with the index
// to pass to --device.
#include <cstdio>

#include "backends/registry.h"
#include "tools/command.h"
#include "tools/json_output.h"

namespace vdrt::cli {
namespace {

Action setup_devices(CLI::App& sub) {
  auto json = std::make_shared<bool>(false);
  add_json_flag(sub, *json);
  return [json] {
    if (*json) {
      print_json(devices_json());
      return kExitOk;
    }
    auto devices = BackendRegistry::instance().devices();
    std::printf("%-14s %-6s %-10s %s\n", "DEVICE", "KIND", "MEMORY", "NAME");
    for (const DeviceInfo& d : devices) {
      std::string id = d.backend + ":" + std::to_string(d.index);
      std::string mem = d.memory_bytes ? std::to_string(d.memory_bytes >> 20) + " MiB" : "-";
      std::printf("%-14s %-6s %-10s %s\n", id.c_str(), d.kind.c_str(), mem.c_str(), d.name.c_str());
      if (!d.details.empty()) std::printf("%-14s %s\n", "", d.details.c_str());
    }
    // A compiled-in backend without a device says why (no driver, no loader).
    for (const std::string& why : BackendRegistry::instance().unavailable()) std::printf("(no device) %s\n", why.c_str());
    // What --device auto would try first (a device that then refuses gives way to the next).
    auto first = [&](const char* precision) {
      const std::vector<DeviceInfo> c = auto_candidates(devices, precision);
      return c.empty() ? std::string("cpu:0") : c.front().backend + ":" + std::to_string(c.front().index);
    };
    std::printf("--device auto: %s (fp32), %s (fp16)\n", first("fp32").c_str(), first("fp16").c_str());
    return kExitOk;
  };
}

CommandRegistrar reg("devices", "List the devices vdrt can run on (use as --device BACKEND:INDEX)", setup_devices);

}  // namespace
}  // namespace vdrt::cli
