#pragma once
// What the GPU backends (Vulkan, OpenCL) share around the dispatch plans of
// kernels/gpu: whether a node has a kernel, planning a node for concrete
// shapes, and registering a backend's devices for `vdrt devices` and
// `vdrt tune` from one description per device.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/registry.h"
#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {

// Whether kernels/gpu plans `node` for a device with `caps`. Never throws.
bool plans(const Node& node, const DeviceCaps& caps);

// The dispatches of `node` for these shapes (`stateful`: with a device state
// bound, KernelArgs::stateful). Throws vdrt::Error when no kernel plans the
// op (`api` names the backend in the message) or the plan refuses the shapes.
Program plan(const std::string& api, const Node& node, int64_t opset, const std::vector<TensorDesc>& inputs,
             const std::vector<TensorDesc>& outputs, const std::vector<const Tensor*>& known, const DeviceCaps& caps,
             bool stateful = false);

// A compiled program's Dispatch::once dispatches: what each last ran on (the
// buffer and offset of every input it reads), so that a backend enqueues it
// again only when that changes.
class OnceDispatches {
 public:
  // Whether dispatch i (`d`) is a once dispatch that already ran on these inputs.
  bool done(size_t i, const Dispatch& d, const std::vector<DeviceTensor>& inputs) const;
  // Dispatch i was enqueued on these inputs (called after the enqueue succeeded).
  void ran(size_t i, const Dispatch& d, const std::vector<DeviceTensor>& inputs);

 private:
  using Binding = std::vector<std::pair<const Buffer*, size_t>>;
  static Binding binding(const Dispatch& d, const std::vector<DeviceTensor>& inputs);
  std::vector<Binding> bound_;  // per dispatch; empty: never ran
};

// Whether a GPU backend runs `node` with `state` bound: a DeviceOpState in
// `backend`'s memory, on a node kernels/gpu plans.
bool accepts_state(const Backend& backend, const Node& node, const OpState& state, const DeviceCaps& caps);

// Whether environment switch `name` is on: set, and neither empty nor "0".
bool env_on(const char* name);

// VDRT_GPU_POISON=1 (debugging): every buffer a GPU backend allocates starts
// filled with kPoisonWord, a quiet NaN, so that a kernel reading entries no
// one wrote shows NaN instead of the zeros fresh memory often holds.
constexpr uint32_t kPoisonWord = 0x7FC00000u;
bool poison_new_buffers();

// One device of a GPU backend, as the driver reports it.
struct DeviceDescription {
  std::string name, kind, summary, driver;
  size_t memory_bytes = 0;
  DeviceCaps caps;  // before tuning
  int fp16_tier = 0;  // DeviceInfo::fp16_tier
};

// The device's tuning file (backends/gpu_tuning.h), keyed by name and driver.
std::string tuning_file_of(const std::string& backend, const DeviceDescription& d);

// Registers `backend` with the backend registry (its devices, with their
// tuning state in the details) and with `vdrt tune`.
void register_backend(const std::string& backend, std::function<std::vector<DeviceDescription>()> devices,
                      std::function<std::unique_ptr<Backend>(int index, const BackendOptions&)> create,
                      std::function<std::string()> unavailable_reason);

}  // namespace vdrt::gpu
