#include "backends/cpu/cpu_backend.h"

#include <cstring>
#include <fstream>
#include <thread>

#include <tbb/global_control.h>
#include <tbb/info.h>

#include "backends/registry.h"
#include "kernels/cpu/kernel.h"

namespace vdrt {
namespace {

class CpuBuffer final : public Buffer {
 public:
  CpuBuffer(Backend& b, size_t bytes) : backend_(b), bytes_(bytes), data_(aligned_alloc_shared(bytes)) {}
  size_t size() const override { return bytes_; }
  Backend& backend() const override { return backend_; }
  uint8_t* data() const { return data_.get(); }

 private:
  Backend& backend_;
  size_t bytes_;
  std::shared_ptr<uint8_t[]> data_;
};

class CpuCompiledOp final : public CompiledOp {
 public:
  const cpu::Kernel* kernel = nullptr;
  const AttributeMap* attrs = nullptr;
  int64_t opset = 0;
  std::string node_name, op;
};

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) return line.substr(p + 2);
    }
  return "CPU";
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) {
    int n = threads > 0 ? threads : tbb::info::default_concurrency();
    control_ = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, n);
    info_ = DeviceInfo{"cpu", cpu_model_name() + " (" + std::to_string(n) + " threads, oneTBB)", "cpu", 0, 0};
  }

  const DeviceInfo& info() const override { return info_; }

  bool supports(const Node& node) const override {
    const cpu::Kernel* k = cpu::KernelRegistry::instance().find(node.domain(), node.op_type());
    if (!k) return false;
    if (!k->supports) return true;
    std::vector<DType> dts;
    for (Value* v : node.inputs()) dts.push_back(v ? v->dtype() : DType::Undefined);
    try {
      return k->supports(node.attrs(), dts, 0);
    } catch (const std::exception&) {
      return false;
    }
  }

  std::unique_ptr<Buffer> allocate(size_t bytes) override { return std::make_unique<CpuBuffer>(*this, bytes); }

  void upload(Buffer& dst, size_t offset, const void* src, size_t bytes) override {
    check_range(dst, offset, bytes);
    if (bytes) std::memcpy(static_cast<CpuBuffer&>(dst).data() + offset, src, bytes);
  }
  void download(const Buffer& src, size_t offset, void* dst, size_t bytes) override {
    check_range(src, offset, bytes);
    if (bytes) std::memcpy(dst, static_cast<const CpuBuffer&>(src).data() + offset, bytes);
  }

  void copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset, size_t bytes) override {
    check_range(src, src_offset, bytes);
    check_range(dst, dst_offset, bytes);
    if (bytes)
      std::memmove(static_cast<CpuBuffer&>(dst).data() + dst_offset,
                   static_cast<const CpuBuffer&>(src).data() + src_offset, bytes);
  }

  std::unique_ptr<CompiledOp> compile(const Node& node, int64_t opset, const std::vector<TensorDesc>&,
                                      const std::vector<TensorDesc>&, const std::vector<const Tensor*>&) override {
    const cpu::Kernel* k = cpu::KernelRegistry::instance().find(node.domain(), node.op_type());
    VDRT_CHECK(k != nullptr, "the CPU backend has no kernel for this op", {"", node.name(), node.qualified_op()});
    auto op = std::make_unique<CpuCompiledOp>();
    op->kernel = k;
    op->attrs = &node.attrs();
    op->opset = opset;
    op->node_name = node.name();
    op->op = node.qualified_op();
    return op;
  }

  // CPU kernels read runtime state through KernelContext::state.
  bool accepts_state(const Node&, const OpState&) const override { return true; }

  void enqueue(CompiledOp& compiled, const std::vector<DeviceTensor>& inputs,
               const std::vector<DeviceTensor>& outputs) override {
    enqueue(compiled, inputs, outputs, nullptr);
  }

  void enqueue(CompiledOp& compiled, const std::vector<DeviceTensor>& inputs,
               const std::vector<DeviceTensor>& outputs, OpState* state) override {
    auto& op = static_cast<CpuCompiledOp&>(compiled);
    cpu::KernelContext ctx{*op.attrs, op.opset, view_all(inputs), view_all(outputs)};
    ctx.state = state;
    try {
      op.kernel->run(ctx);
    } catch (const Error& e) {
      throw e.with_site({"", op.node_name, op.op});
    }
  }

  void synchronize() override {}  // kernels run to completion inside enqueue

 private:
  static void check_range(const Buffer& b, size_t offset, size_t bytes) {
    VDRT_CHECK(offset + bytes <= b.size(), "buffer access out of range");
  }
  static std::vector<cpu::TensorView> view_all(const std::vector<DeviceTensor>& ts) {
    std::vector<cpu::TensorView> views;
    views.reserve(ts.size());
    for (const DeviceTensor& t : ts) {
      cpu::TensorView v;
      if (t.buffer) {
        v.dtype = t.desc.dtype;
        v.dims = t.desc.dims;
        v.data = static_cast<CpuBuffer*>(t.buffer)->data() + t.offset;
      }
      views.push_back(std::move(v));
    }
    return views;
  }

  DeviceInfo info_;
  std::unique_ptr<tbb::global_control> control_;
};

size_t total_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  size_t kb = 0;
  in >> key >> kb;
  return kb * 1024;
}

detail::BackendRegistrar cpu_registrar(BackendFactory{
    "cpu",
    [] {
      DeviceInfo d{"cpu", cpu_model_name() + " (" + std::to_string(tbb::info::default_concurrency()) + " threads)",
                   "cpu", total_memory_bytes(), 0};
      return std::vector<DeviceInfo>{d};
    },
    [](int, const BackendOptions& o) { return make_cpu_backend(o.cpu_threads); }});

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace vdrt
