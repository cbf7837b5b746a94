#include "backends/gpu_backend_common.h"

#include <cstdlib>

#include "backends/gpu_tuning.h"

namespace vdrt::gpu {

bool plans(const Node& node, const DeviceCaps& caps) {
  const Kernel* k = KernelRegistry::instance().find(node.domain(), node.op_type());
  if (!k) return false;
  try {
    return !k->supports || k->supports(node, caps);
  } catch (const std::exception&) {
    return false;
  }
}

Program plan(const std::string& api, const Node& node, int64_t opset, const std::vector<TensorDesc>& inputs,
             const std::vector<TensorDesc>& outputs, const std::vector<const Tensor*>& known, const DeviceCaps& caps,
             bool stateful) {
  ErrorSite site{"", node.name(), node.qualified_op()};
  const Kernel* k = KernelRegistry::instance().find(node.domain(), node.op_type());
  VDRT_CHECK(k != nullptr, "the " + api + " backend has no kernel for this op", site);
  std::vector<TensorInfo> ins, outs;
  for (const auto& d : inputs) ins.push_back(TensorInfo{d.dtype, d.dims});
  for (const auto& d : outputs) outs.push_back(TensorInfo{d.dtype, d.dims});
  const KernelArgs args{node, opset, ins, outs, known, caps, stateful};
  Program p;
  try {
    p = k->build(args);
  } catch (const Error& e) {
    throw e.with_site(site);
  }
  // A dispatch run once may read only the node's constants and write only scratch.
  for (const Dispatch& d : p.dispatches) {
    if (!d.once) continue;
    // At least one input: its binding is how the backend knows it ran.
    bool reads_input = false;
    for (const Arg& a : d.args) reads_input |= a.kind == Arg::Input;
    VDRT_CHECK(reads_input, "the " + api + " kernel " + d.shader + " runs once but reads no input", site);
    for (size_t b = 0; b < d.args.size(); ++b) {
      const Arg& a = d.args[b];
      const bool write = b < d.writes.size() ? d.writes[b] : a.kind != Arg::Input;
      const bool ok =
          write ? a.kind == Arg::Scratch : a.kind == Arg::Scratch || (a.kind == Arg::Input && args.constant(a.index));
      VDRT_CHECK(ok, "the " + api + " kernel " + d.shader + " runs once but binds more than constants and scratch", site);
    }
  }
  return p;
}

OnceDispatches::Binding OnceDispatches::binding(const Dispatch& d, const std::vector<DeviceTensor>& inputs) {
  Binding b;
  for (const Arg& a : d.args)
    if (a.kind == Arg::Input && a.index < inputs.size()) b.emplace_back(inputs[a.index].buffer, inputs[a.index].offset);
  return b;
}

bool OnceDispatches::done(size_t i, const Dispatch& d, const std::vector<DeviceTensor>& inputs) const {
  return d.once && i < bound_.size() && !bound_[i].empty() && bound_[i] == binding(d, inputs);
}

void OnceDispatches::ran(size_t i, const Dispatch& d, const std::vector<DeviceTensor>& inputs) {
  if (!d.once) return;
  if (bound_.size() <= i) bound_.resize(i + 1);
  bound_[i] = binding(d, inputs);
}

bool env_on(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::string(v) != "0";
}

bool poison_new_buffers() { return env_on("VDRT_GPU_POISON"); }

bool accepts_state(const Backend& backend, const Node& node, const OpState& state, const DeviceCaps& caps) {
  const auto* ds = dynamic_cast<const DeviceOpState*>(&state);
  return ds && &ds->device() == &backend && plans(node, caps);
}

std::string tuning_file_of(const std::string& backend, const DeviceDescription& d) {
  return tuning::tuning_file(backend, tuning::device_key(d.name, d.driver));
}

void register_backend(const std::string& backend, std::function<std::vector<DeviceDescription>()> devices,
                      std::function<std::unique_ptr<Backend>(int index, const BackendOptions&)> create,
                      std::function<std::string()> unavailable_reason) {
  BackendRegistry::instance().add(BackendFactory{
      backend,
      [backend, devices] {
        std::vector<DeviceInfo> out;
        const std::vector<DeviceDescription> ds = devices();
        for (size_t i = 0; i < ds.size(); ++i) {
          DeviceInfo d{backend, ds[i].name, ds[i].kind, ds[i].memory_bytes, static_cast<int>(i)};
          d.details = ds[i].summary + "; " + tuning::tuning_summary(tuning_file_of(backend, ds[i]), ds[i].caps);
          d.fp16_tier = ds[i].fp16_tier;
          out.push_back(std::move(d));
        }
        return out;
      },
      std::move(create), std::move(unavailable_reason)});
  tuning::register_tunable(backend, [backend, devices](int index) -> std::optional<tuning::TunableDevice> {
    const std::vector<DeviceDescription> ds = devices();
    if (index < 0 || index >= static_cast<int>(ds.size())) return std::nullopt;
    const DeviceDescription& d = ds[index];
    return tuning::TunableDevice{backend, d.name, d.driver, tuning::device_key(d.name, d.driver),
                                 tuning_file_of(backend, d), d.caps};
  });
}

}  // namespace vdrt::gpu
