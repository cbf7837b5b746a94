#include "backends/vulkan/vulkan_backend.h"

#include <cstdlib>

#include <spdlog/spdlog.h>

#include "backends/gpu_tuning.h"
#include "backends/gpu_backend_common.h"
#include "backends/registry.h"
#include "backends/vulkan/vulkan_device.h"
#include "backends/vulkan/vulkan_memory.h"
#include "backends/vulkan/vulkan_pipelines.h"
#include "backends/vulkan/vulkan_stream.h"
#include "kernels/gpu/gpu_kernel.h"
#include "kernels/gpu/matmul_tile.h"

namespace vdrt {
namespace {
using namespace vulkan;

class VulkanBackend;

class VulkanBuffer final : public Buffer {
 public:
  VulkanBuffer(VulkanBackend& b, Allocation a) : backend_(b), alloc_(a) {}
  ~VulkanBuffer() override;
  size_t size() const override { return alloc_.size; }
  Backend& backend() const override;
  const Allocation& allocation() const { return alloc_; }

 private:
  VulkanBackend& backend_;
  Allocation alloc_;
};

struct VulkanCompiledOp final : public CompiledOp {
  gpu::Program program;
  std::vector<const Pipeline*> pipelines;  // per dispatch
  std::vector<std::string> labels;          // per dispatch, for the profile: "op shader"
  std::vector<std::unique_ptr<VulkanBuffer>> scratch;
  gpu::OnceDispatches once;  // what its Dispatch::once dispatches last ran on
  std::string node_name, op;
  // What the program was planned for, to plan the stateful one (a device
  // state bound to the node) at its first run with one.
  const Node* node = nullptr;
  int64_t opset = 0;
  std::vector<TensorDesc> inputs, outputs;
  std::unique_ptr<VulkanCompiledOp> stateful;
};

// What `vdrt devices` and `vdrt tune` know of a device; the tuning file is
// keyed by name and driver (name, info and version).
gpu::DeviceDescription describe(const PhysicalDeviceInfo& pd) {
  return gpu::DeviceDescription{pd.name, pd.kind, pd.summary(), pd.driver + " " + std::to_string(pd.driver_version),
                                pd.device_local_bytes, pd.caps, pd.caps.coopmat_f16_16x16x16 ? 1 : 0};
}

class VulkanBackend final : public Backend {
 public:
  VulkanBackend(const PhysicalDeviceInfo& pd, int index, const std::string& precision)
      : device_(pd), device_pool_(device_, false), staging_pool_(device_, true), pipelines_(device_),
        stream_(device_, staging_pool_) {
    caps_ = pd.caps;
    caps_.precision = precision;
    VDRT_CHECK(precision == "fp32" || precision == "fp16", "unknown precision '" + precision + "' (fp32 or fp16)");
    if (precision == "fp16" && !caps_.fp16)
      throw Error("precision fp16 needs shaderFloat16 and 16-bit storage, which " + pd.name + " lacks");
    const std::string file = gpu::tuning_file_of("vulkan", describe(pd));
    const std::string source = tuning::apply_tuning(file, caps_);
    info_ = DeviceInfo{"vulkan", pd.name, pd.kind, pd.device_local_bytes, index};
    info_.details = pd.summary() + "; " + tuning::tuning_summary(file, pd.caps);
    spdlog::debug("vulkan: {} ({}), precision {}", pd.name, info_.details, precision);
    if (caps_.matmul_tile.set())
      spdlog::debug("vulkan: fp32 matmul tile {} from {}", gpu::to_string(caps_.matmul_tile), source);
  }
  ~VulkanBackend() override {
    try {
      synchronize();
    } catch (...) {
    }
  }

  const DeviceInfo& info() const override { return info_; }

  bool supports(const Node& node) const override { return gpu::plans(node, caps_); }

  std::unique_ptr<Buffer> allocate(size_t bytes) override {
    auto b = std::make_unique<VulkanBuffer>(*this, device_pool_.allocate(bytes));
    if (poison_ && bytes >= 4) stream_.fill(range(*b, 0, bytes / 4 * 4, true), gpu::kPoisonWord);
    return b;
  }

  void upload(Buffer& dst, size_t offset, const void* src, size_t bytes) override {
    if (!bytes) return;
    stream_.upload(range(dst, offset, bytes, true), src);
  }
  void download(const Buffer& src, size_t offset, void* dst, size_t bytes) override {
    if (!bytes) return;
    stream_.download(range(src, offset, bytes, false), dst);
  }

  void copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset, size_t bytes) override {
    if (!bytes) return;
    BoundRange s = range(src, src_offset, bytes, false), d = range(dst, dst_offset, bytes, true);
    s.size = d.size = bytes;
    stream_.copy(s, d);
  }

  std::unique_ptr<CompiledOp> compile(const Node& node, int64_t opset, const std::vector<TensorDesc>& inputs,
                                      const std::vector<TensorDesc>& outputs,
                                      const std::vector<const Tensor*>& known) override {
    return build(node, opset, inputs, outputs, known, false);
  }

  bool accepts_state(const Node& node, const OpState& state) const override {
    return gpu::accepts_state(*this, node, state, caps_);
  }

  bool half_kv_pools() const override { return gpu::sparse_half_pools(caps_); }

  std::unique_ptr<VulkanCompiledOp> build(const Node& node, int64_t opset, const std::vector<TensorDesc>& inputs,
                                          const std::vector<TensorDesc>& outputs,
                                          const std::vector<const Tensor*>& known, bool stateful) {
    ErrorSite site{"", node.name(), node.qualified_op()};
    auto op = std::make_unique<VulkanCompiledOp>();
    op->node_name = node.name();
    op->op = node.qualified_op();
    op->node = &node;
    op->opset = opset;
    op->inputs = inputs;
    op->outputs = outputs;
    try {
      op->program = gpu::plan("Vulkan", node, opset, inputs, outputs, known, caps_, stateful);
      for (const gpu::Dispatch& d : op->program.dispatches) {
        op->pipelines.push_back(&pipelines_.get(d.shader, d.spec, static_cast<uint32_t>(d.args.size())));
        op->labels.push_back(node.qualified_op() + " " + d.shader + (d.variant.empty() ? "" : " " + d.variant));
      }
      for (size_t bytes : op->program.scratch_bytes)
        op->scratch.push_back(std::make_unique<VulkanBuffer>(*this, device_pool_.allocate(bytes)));
    } catch (const Error& e) {
      throw e.with_site(site);
    }
    return op;
  }

  void enqueue(CompiledOp& compiled, const std::vector<DeviceTensor>& inputs,
               const std::vector<DeviceTensor>& outputs) override {
    run(static_cast<VulkanCompiledOp&>(compiled), inputs, outputs, nullptr);
  }

  // A node with a device state (a KV cache in this device's memory) runs the
  // program planned for it, which binds the state's buffers.
  void enqueue(CompiledOp& compiled, const std::vector<DeviceTensor>& inputs, const std::vector<DeviceTensor>& outputs,
               OpState* state) override {
    auto& op = static_cast<VulkanCompiledOp&>(compiled);
    if (!state) return run(op, inputs, outputs, nullptr);
    auto* ds = dynamic_cast<DeviceOpState*>(state);
    VDRT_CHECK(ds && &ds->device() == this, "the Vulkan backend reads only runtime state held in its own memory",
               {"", op.node_name, op.op});
    if (!op.stateful)
      op.stateful = build(*op.node, op.opset, op.inputs, op.outputs,
                          std::vector<const Tensor*>(op.inputs.size(), nullptr), true);
    run(*op.stateful, inputs, outputs, ds);
  }

  void run(VulkanCompiledOp& op, const std::vector<DeviceTensor>& inputs, const std::vector<DeviceTensor>& outputs,
           const DeviceOpState* state) {
    std::vector<BoundRange> ranges;
    for (size_t i = 0; i < op.program.dispatches.size(); ++i) {
      const gpu::Dispatch& d = op.program.dispatches[i];
      if (op.once.done(i, d, inputs)) continue;  // prepared at an earlier run
      ranges.clear();
      for (size_t b = 0; b < d.args.size(); ++b) {
        const gpu::Arg& a = d.args[b];
        bool write = b < d.writes.size() ? d.writes[b] : a.kind != gpu::Arg::Input;
        if (a.kind == gpu::Arg::Scratch) {
          const Allocation& s = op.scratch.at(a.index)->allocation();
          ranges.push_back(BoundRange{s.buffer, s.offset, s.size, write});
          continue;
        }
        if (a.kind == gpu::Arg::State) {
          VDRT_CHECK(state != nullptr, "Vulkan kernel binds runtime state the node does not have", {"", op.node_name, op.op});
          const DeviceTensor t = state->buffer(a.index);
          VDRT_CHECK(t.buffer != nullptr, "the runtime state has no buffer " + std::to_string(a.index),
                     {"", op.node_name, op.op});
          ranges.push_back(range(*t.buffer, t.offset, t.desc.nbytes(), write));
          continue;
        }
        const std::vector<DeviceTensor>& ts = a.kind == gpu::Arg::Input ? inputs : outputs;
        VDRT_CHECK(a.index < ts.size() && ts[a.index].buffer, "Vulkan kernel binds a tensor the node does not have",
                   {"", op.node_name, op.op});
        const DeviceTensor& t = ts[a.index];
        ranges.push_back(range(*t.buffer, t.offset, t.desc.nbytes(), write));
      }
      stream_.dispatch(*op.pipelines[i], ranges, d.push, d.groups, &op.labels[i]);
      op.once.ran(i, d, inputs);
    }
  }

  void synchronize() override {
    stream_.wait();
    for (const Allocation& a : retired_) device_pool_.free(a);
    retired_.clear();
    retired_bytes_ = 0;
  }

  // The GPU may still read a released buffer (recorded or in-flight work):
  // its memory returns to the pool at the next synchronize, not here, so
  // freeing a buffer (a KV cache growing chunk by chunk) never stalls the
  // stream. Past 1 GiB waiting, the stream is drained at once.
  void release(const Allocation& a) {
    retired_.push_back(a);
    retired_bytes_ += a.size;
    if (retired_bytes_ > (size_t(1) << 30)) {
      try {
        synchronize();
      } catch (...) {
      }
    }
  }

 private:
  BoundRange range(const Buffer& b, size_t offset, size_t bytes, bool write) const {
    const auto* vb = dynamic_cast<const VulkanBuffer*>(&b);
    VDRT_CHECK(vb != nullptr, "Vulkan backend given a buffer of backend " + b.backend().info().backend);
    VDRT_CHECK(offset + bytes <= vb->size(), "Vulkan buffer access out of range");
    const Allocation& a = vb->allocation();
    size_t off = a.offset + offset;
    VDRT_CHECK(off % caps_.min_storage_offset_alignment == 0,
               "Vulkan: tensor offset " + std::to_string(offset) + " is not aligned to the device's " +
                   std::to_string(caps_.min_storage_offset_alignment) + " bytes");
    // Bind whole 16-byte words where the buffer has them: vec4 loads of a
    // tensor whose size is not a multiple of 16 stay in bounds.
    size_t size = std::min((bytes + 15) / 16 * 16, a.size - offset);
    return BoundRange{a.buffer, off, std::max<size_t>(size, 1), write};
  }

  Device device_;
  MemoryPool device_pool_;
  MemoryPool staging_pool_;
  PipelineCache pipelines_;
  Stream stream_;
  gpu::DeviceCaps caps_;
  DeviceInfo info_;
  const bool poison_ = gpu::poison_new_buffers();
  std::vector<Allocation> retired_;  // released buffers the GPU may still use
  size_t retired_bytes_ = 0;
};

VulkanBuffer::~VulkanBuffer() { backend_.release(alloc_); }
Backend& VulkanBuffer::backend() const { return backend_; }

const bool vulkan_registered = [] {
  gpu::register_backend(
      "vulkan",
      [] {
        std::vector<gpu::DeviceDescription> out;
        for (const PhysicalDeviceInfo& pd : physical_devices()) out.push_back(describe(pd));
        return out;
      },
      [](int index, const BackendOptions& o) { return make_vulkan_backend(index, o.precision); },
      [] { return vulkan_unavailable_reason(); });
  return true;
}();

}  // namespace

std::string vulkan_unavailable_reason() {
  const Instance& inst = Instance::get();
  if (!inst.available()) return inst.why_unavailable();
  if (physical_devices().empty()) return "the Vulkan loader found no device with Vulkan 1.2 compute and push descriptors";
  return {};
}

std::unique_ptr<Backend> make_vulkan_backend(int index, const std::string& precision) {
  const auto& pds = physical_devices();
  if (pds.empty()) throw Error("no Vulkan device: " + vulkan_unavailable_reason());
  VDRT_CHECK(index >= 0 && index < static_cast<int>(pds.size()),
             "Vulkan device " + std::to_string(index) + " does not exist (" + std::to_string(pds.size()) + " found)");
  return std::make_unique<VulkanBackend>(pds[index], index, precision);
}

}  // namespace vdrt
