#include "backends/opencl/opencl_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <list>

#include <spdlog/spdlog.h>

#include "backends/gpu_tuning.h"
#include "backends/opencl/opencl_device.h"
#include "backends/opencl/opencl_programs.h"
#include "backends/opencl/opencl_tensor_cores.h"
#include "backends/gpu_backend_common.h"
#include "backends/kernel_profile.h"
#include "backends/registry.h"
#include "kernels/gpu/gpu_kernel.h"
#include "kernels/gpu/matmul_tile.h"

namespace vdrt {
namespace {
using namespace opencl;

class OpenCLBackend;

class OpenCLBuffer final : public Buffer {
 public:
  OpenCLBuffer(OpenCLBackend& b, cl_mem mem, size_t size) : backend_(b), mem_(mem), size_(size) {}
  // The driver keeps the memory alive until enqueued commands that use it
  // complete, so releasing here never races the queue.
  ~OpenCLBuffer() override { clReleaseMemObject(mem_); }
  size_t size() const override { return size_; }
  Backend& backend() const override;
  cl_mem mem() const { return mem_; }

 private:
  OpenCLBackend& backend_;
  cl_mem mem_;
  size_t size_;
};

struct OpenCLCompiledOp final : public CompiledOp {
  gpu::Program program;
  std::vector<const ProgramCache::Kernel*> kernels;  // per dispatch
  std::vector<cl_mem> params;                        // per dispatch: the parameter words
  std::vector<std::unique_ptr<OpenCLBuffer>> scratch;
  std::vector<std::string> labels;                   // per dispatch, for the profile: "op kernel"
  gpu::OnceDispatches once;  // what its Dispatch::once dispatches last ran on
  std::string node_name, op;
  // What the program was planned for, to plan the stateful one (a device
  // state bound to the node) at its first run with one.
  const Node* node = nullptr;
  int64_t opset = 0;
  std::vector<TensorDesc> inputs, outputs;
  std::unique_ptr<OpenCLCompiledOp> stateful;
  ~OpenCLCompiledOp() override {
    for (cl_mem m : params) clReleaseMemObject(m);
  }
};

// What `vdrt devices` and `vdrt tune` know of a device; the tuning file is
// keyed by name and driver version.
gpu::DeviceDescription describe(const DeviceEntry& d) {
  // Tier 2 before the probe, which a failing driver turns into a refusal (--device auto then moves on).
  return gpu::DeviceDescription{d.name, d.kind, d.summary(), d.driver_version, d.global_mem_bytes, d.caps,
                                d.ptx_unavailable().empty() ? 2 : 0};
}

Error fp16_refused(const DeviceEntry& dev, const std::string& why) {
  return Error("precision fp16 is not available on the OpenCL device " + dev.name + ": " + why +
               "; use --precision fp32 there, or a Vulkan device");
}

class OpenCLBackend final : public Backend {
 public:
  OpenCLBackend(const DeviceEntry& dev, int index, const std::string& precision) : dev_(dev) {
    VDRT_CHECK(precision == "fp32" || precision == "fp16", "unknown precision '" + precision + "' (fp32 or fp16)");
    // fp16 needs tensor cores (inline PTX on NVIDIA): refused before any context on other devices.
    if (precision == "fp16")
      if (std::string why = dev.ptx_unavailable(); !why.empty()) throw fp16_refused(dev, why);
    caps_ = dev.caps;
    caps_.precision = precision;
    const std::string file = gpu::tuning_file_of("opencl", describe(dev));
    const std::string source = tuning::apply_tuning(file, caps_);
    cl_int rc = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(dev.platform), 0};
    context_ = clCreateContext(props, 1, &dev_.device, nullptr, nullptr, &rc);
    check(rc, "clCreateContext on " + dev.name);
    profile_ = gpu::env_on("VDRT_OPENCL_PROFILE");
    queue_ = clCreateCommandQueue(context_, dev_.device, profile_ ? CL_QUEUE_PROFILING_ENABLE : 0, &rc);
    if (rc != CL_SUCCESS) clReleaseContext(context_);
    check(rc, "clCreateCommandQueue on " + dev.name);
    programs_ = std::make_unique<ProgramCache>(context_, dev_);
    if (precision == "fp16") {
      if (std::string why = probe_tensor_cores(context_, queue_, *programs_); !why.empty()) {
        programs_.reset();
        clReleaseCommandQueue(queue_);
        clReleaseContext(context_);
        throw fp16_refused(dev, why);
      }
      // Halves travel as 16-bit words and multiply on the tensor cores; the
      // plans take the PTX kernels where they exist (DeviceCaps::ptx_mma),
      // and KV caches (dense and block pools) keep f16, as on Vulkan.
      caps_.fp16 = caps_.coopmat_f16_16x16x16 = caps_.ptx_mma = caps_.half_kv_pools = true;
      spdlog::debug("opencl: fp16 on {} through tensor cores (inline PTX)", dev.name);
      // Float8 multiplies (8.9 and later) serve W8A8 vdrt.QMatMul; a device
      // whose driver fails their probe keeps the f16 kernel that decodes codes.
      const char* e4m3 = std::getenv("VDRT_OPENCL_E4M3_MMA");  // "0": off (A/B against the decoding kernel)
      if (dev.float8_mma() && !(e4m3 && std::string(e4m3) == "0")) {
        if (std::string why = probe_e4m3_tensor_cores(context_, queue_, *programs_); why.empty())
          caps_.ptx_mma_e4m3 = true;
        else
          spdlog::warn("opencl: {}: float8 tensor cores unused ({}); FP8 matmuls decode their weights to f16",
                       dev.name, why);
      }
    }
    info_ = DeviceInfo{"opencl", dev.name, dev.kind, dev.global_mem_bytes, index};
    info_.details = dev.summary() + "; " + tuning::tuning_summary(file, dev.caps);
    spdlog::debug("opencl: {} ({})", dev.name, info_.details);
    if (caps_.matmul_tile.set())
      spdlog::debug("opencl: fp32 matmul tile {} from {}", gpu::to_string(caps_.matmul_tile), source);
  }
  ~OpenCLBackend() override {
    try {
      synchronize();
    } catch (...) {
    }
    if (profile_) kernel_times_.print("opencl", " on " + dev_.name);
    programs_.reset();
    clReleaseCommandQueue(queue_);
    clReleaseContext(context_);
    ProgramStats s = program_stats();
    spdlog::debug("opencl: {} programs built from source, {} loaded from the binary cache", s.built, s.loaded);
  }

  const DeviceInfo& info() const override { return info_; }

  bool supports(const Node& node) const override { return gpu::plans(node, caps_); }

  std::unique_ptr<Buffer> allocate(size_t bytes) override {
    if (bytes > dev_.max_alloc_bytes)
      throw OutOfMemory("OpenCL: " + std::to_string(bytes >> 20) + " MiB in one buffer exceeds " + dev_.name +
                        "'s largest allocation (" + std::to_string(dev_.max_alloc_bytes >> 20) + " MiB)");
    cl_int rc = CL_SUCCESS;
    cl_mem m = clCreateBuffer(context_, CL_MEM_READ_WRITE, std::max<size_t>(bytes, 16), nullptr, &rc);
    if (rc != CL_SUCCESS)
      throw OutOfMemory("OpenCL: cannot allocate " + std::to_string(bytes >> 20) + " MiB on " + dev_.name + ": " +
                        error_name(rc));
    if (poison_ && bytes >= 4) {
      const cl_uint word = gpu::kPoisonWord;
      check(clEnqueueFillBuffer(queue_, m, &word, sizeof(word), 0, bytes / 4 * 4, 0, nullptr, nullptr),
            "clEnqueueFillBuffer");
    }
    return std::make_unique<OpenCLBuffer>(*this, m, bytes);
  }

  void upload(Buffer& dst, size_t offset, const void* src, size_t bytes) override {
    if (!bytes) return;
    cl_mem m = mem_of(dst, offset, bytes);
    // Small uploads (latents, timesteps, tables) are copied aside and
    // written without blocking, so a call never waits for the queue to
    // drain; large ones (weights at load) are written in place.
    if (bytes <= kStagedUploadBytes) {
      staged_.emplace_back(static_cast<const unsigned char*>(src), static_cast<const unsigned char*>(src) + bytes);
      check(clEnqueueWriteBuffer(queue_, m, CL_FALSE, offset, bytes, staged_.back().data(), 0, nullptr, nullptr),
            "clEnqueueWriteBuffer");
      staged_bytes_ += bytes;
      if (staged_bytes_ > kStagedLimitBytes) synchronize();
    } else {
      check(clEnqueueWriteBuffer(queue_, m, CL_TRUE, offset, bytes, src, 0, nullptr, nullptr), "clEnqueueWriteBuffer");
    }
  }

  void download(const Buffer& src, size_t offset, void* dst, size_t bytes) override {
    if (!bytes) return;
    check(clEnqueueReadBuffer(queue_, mem_of(src, offset, bytes), CL_TRUE, offset, bytes, dst, 0, nullptr, nullptr),
          "clEnqueueReadBuffer");
  }

  void copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset, size_t bytes) override {
    if (!bytes) return;
    check(clEnqueueCopyBuffer(queue_, mem_of(src, src_offset, bytes), mem_of(dst, dst_offset, bytes), src_offset,
                              dst_offset, bytes, 0, nullptr, nullptr),
          "clEnqueueCopyBuffer");
  }

  std::unique_ptr<CompiledOp> compile(const Node& node, int64_t opset, const std::vector<TensorDesc>& inputs,
                                      const std::vector<TensorDesc>& outputs,
                                      const std::vector<const Tensor*>& known) override {
    return build(node, opset, inputs, outputs, known, false);
  }

  bool half_kv_pools() const override { return gpu::sparse_half_pools(caps_); }

  bool accepts_state(const Node& node, const OpState& state) const override {
    return gpu::accepts_state(*this, node, state, caps_);
  }

  std::unique_ptr<OpenCLCompiledOp> build(const Node& node, int64_t opset, const std::vector<TensorDesc>& inputs,
                                          const std::vector<TensorDesc>& outputs,
                                          const std::vector<const Tensor*>& known, bool stateful) {
    ErrorSite site{"", node.name(), node.qualified_op()};
    auto op = std::make_unique<OpenCLCompiledOp>();
    op->node_name = node.name();
    op->op = node.qualified_op();
    op->node = &node;
    op->opset = opset;
    op->inputs = inputs;
    op->outputs = outputs;
    try {
      op->program = gpu::plan("OpenCL", node, opset, inputs, outputs, known, caps_, stateful);
      for (const gpu::Dispatch& d : op->program.dispatches) {
        op->kernels.push_back(&programs_->get(d.shader, d.spec));
        op->labels.push_back(node.qualified_op() + " " + d.shader + (d.variant.empty() ? "" : " " + d.variant));
        // Parameters are fixed once shapes are: one small read-only buffer
        // per dispatch, written at compile time, bound at every enqueue.
        std::vector<uint32_t> words = d.push;
        if (words.empty()) words.push_back(0);
        cl_int rc = CL_SUCCESS;
        cl_mem m = clCreateBuffer(context_, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, words.size() * 4, words.data(), &rc);
        check(rc, "clCreateBuffer (kernel parameters)");
        op->params.push_back(m);
      }
      for (size_t bytes : op->program.scratch_bytes) {
        auto buf = allocate(bytes);
        op->scratch.emplace_back(static_cast<OpenCLBuffer*>(buf.release()));
      }
    } catch (const Error& e) {
      throw e.with_site(site);
    }
    return op;
  }

  void enqueue(CompiledOp& compiled, const std::vector<DeviceTensor>& inputs,
               const std::vector<DeviceTensor>& outputs) override {
    run(static_cast<OpenCLCompiledOp&>(compiled), inputs, outputs, nullptr);
  }

  // A node with a device state (a KV cache in this device's memory) runs the
  // program planned for it, which binds the state's buffers.
  void enqueue(CompiledOp& compiled, const std::vector<DeviceTensor>& inputs, const std::vector<DeviceTensor>& outputs,
               OpState* state) override {
    auto& op = static_cast<OpenCLCompiledOp&>(compiled);
    if (!state) return run(op, inputs, outputs, nullptr);
    auto* ds = dynamic_cast<DeviceOpState*>(state);
    VDRT_CHECK(ds && &ds->device() == this, "the OpenCL backend reads only runtime state held in its own memory",
               {"", op.node_name, op.op});
    if (!op.stateful)
      op.stateful = build(*op.node, op.opset, op.inputs, op.outputs,
                          std::vector<const Tensor*>(op.inputs.size(), nullptr), true);
    run(*op.stateful, inputs, outputs, ds);
  }

  void run(OpenCLCompiledOp& op, const std::vector<DeviceTensor>& inputs, const std::vector<DeviceTensor>& outputs,
           const DeviceOpState* state) {
    for (size_t i = 0; i < op.program.dispatches.size(); ++i) {
      const gpu::Dispatch& d = op.program.dispatches[i];
      const ProgramCache::Kernel& k = *op.kernels[i];
      if (op.once.done(i, d, inputs)) continue;  // prepared at an earlier run
      cl_uint arg = 0;
      for (const gpu::Arg& a : d.args) {
        cl_mem m;
        cl_ulong off = 0;
        if (a.kind == gpu::Arg::Scratch) {
          m = op.scratch.at(a.index)->mem();
        } else if (a.kind == gpu::Arg::State) {
          VDRT_CHECK(state != nullptr, "OpenCL kernel binds runtime state the node does not have",
                     {"", op.node_name, op.op});
          const DeviceTensor t = state->buffer(a.index);
          VDRT_CHECK(t.buffer != nullptr, "the runtime state has no buffer " + std::to_string(a.index),
                     {"", op.node_name, op.op});
          m = mem_of(*t.buffer, t.offset, t.desc.nbytes());
          off = t.offset;
        } else {
          const std::vector<DeviceTensor>& ts = a.kind == gpu::Arg::Input ? inputs : outputs;
          VDRT_CHECK(a.index < ts.size() && ts[a.index].buffer, "OpenCL kernel binds a tensor the node does not have",
                     {"", op.node_name, op.op});
          const DeviceTensor& t = ts[a.index];
          m = mem_of(*t.buffer, t.offset, t.desc.nbytes());
          off = t.offset;
        }
        set_arg(k.kernel, arg++, sizeof m, &m, op, d);
        set_arg(k.kernel, arg++, sizeof off, &off, op, d);
      }
      set_arg(k.kernel, arg++, sizeof(cl_mem), &op.params[i], op, d);
      size_t global[3];
      for (int j = 0; j < 3; ++j) global[j] = size_t(d.groups[j]) * k.local[j];
      cl_event ev = nullptr;
      cl_int rc = clEnqueueNDRangeKernel(queue_, k.kernel, 3, nullptr, global, k.local.data(), 0, nullptr,
                                         profile_ ? &ev : nullptr);
      if (rc != CL_SUCCESS)
        throw Error("OpenCL: launching kernel " + d.shader + " failed: " + error_name(rc), {"", op.node_name, op.op});
      if (ev) events_.emplace_back(op.labels[i], ev);
      op.once.ran(i, d, inputs);
      // NVIDIA's driver holds commands until a flush: start the GPU while
      // later nodes are still being enqueued.
      if (++unflushed_ >= 64) {
        clFlush(queue_);
        unflushed_ = 0;
      }
    }
  }

  void synchronize() override {
    cl_int rc = clFinish(queue_);
    staged_.clear();
    staged_bytes_ = 0;
    unflushed_ = 0;
    collect_profile();
    check(rc, "clFinish (a kernel failed or the device ran out of memory)");
  }

 private:
  static constexpr size_t kStagedUploadBytes = size_t(16) << 20;
  static constexpr size_t kStagedLimitBytes = size_t(256) << 20;

  cl_mem mem_of(const Buffer& b, size_t offset, size_t bytes) const {
    const auto* cb = dynamic_cast<const OpenCLBuffer*>(&b);
    VDRT_CHECK(cb != nullptr, "OpenCL backend given a buffer of backend " + b.backend().info().backend);
    VDRT_CHECK(offset + bytes <= cb->size(), "OpenCL buffer access out of range");
    return cb->mem();
  }

  void set_arg(cl_kernel k, cl_uint index, size_t size, const void* value, const OpenCLCompiledOp& op,
               const gpu::Dispatch& d) {
    cl_int rc = clSetKernelArg(k, index, size, value);
    if (rc != CL_SUCCESS)
      throw Error("OpenCL: kernel " + d.shader + " argument " + std::to_string(index) + ": " + error_name(rc) +
                      " (does its signature follow docs/gpu_kernels.md?)",
                  {"", op.node_name, op.op});
  }

  void collect_profile() {
    for (auto& [label, ev] : events_) {
      cl_ulong t0 = 0, t1 = 0;
      clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, nullptr);
      clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, nullptr);
      kernel_times_.add(label, t1 > t0 ? double(t1 - t0) : 0.0);
      clReleaseEvent(ev);
    }
    events_.clear();
  }


  const DeviceEntry& dev_;
  gpu::DeviceCaps caps_;
  DeviceInfo info_;
  cl_context context_ = nullptr;
  cl_command_queue queue_ = nullptr;
  const bool poison_ = gpu::poison_new_buffers();
  std::unique_ptr<ProgramCache> programs_;
  std::list<std::vector<unsigned char>> staged_;  // host copies of uploads still in flight
  size_t staged_bytes_ = 0;
  size_t unflushed_ = 0;
  bool profile_ = false;
  std::vector<std::pair<std::string, cl_event>> events_;
  KernelProfile kernel_times_;
};

Backend& OpenCLBuffer::backend() const { return backend_; }

const bool opencl_registered = [] {
  gpu::register_backend(
      "opencl",
      [] {
        std::vector<gpu::DeviceDescription> out;
        for (const DeviceEntry& d : devices()) out.push_back(describe(d));
        return out;
      },
      [](int index, const BackendOptions& o) { return make_opencl_backend(index, o.precision); },
      [] { return opencl_unavailable_reason(); });
  return true;
}();

}  // namespace

std::string opencl_unavailable_reason() { return opencl::unavailable_reason(); }

std::unique_ptr<Backend> make_opencl_backend(int index, const std::string& precision) {
  const auto& ds = opencl::devices();
  if (ds.empty()) throw Error("no OpenCL device: " + opencl_unavailable_reason());
  VDRT_CHECK(index >= 0 && index < static_cast<int>(ds.size()),
             "OpenCL device " + std::to_string(index) + " does not exist (" + std::to_string(ds.size()) + " found)");
  return std::make_unique<OpenCLBackend>(ds[index], index, precision);
}

}  // namespace vdrt
