#pragma once
// The small interface every device implements (in the spirit of ggml's
// backends): buffers owned by the backend, explicit upload/download, per-node
// compilation into a cached executable, asynchronous enqueue, synchronize.
// Backends see graph Nodes and tensors, never ONNX.
#include <cstddef>
#include <memory>
#include <string>
#include <cstdint>
#include <vector>

#include "graph/graph.h"
#include "graph/op_state.h"

namespace vdrt {

struct DeviceInfo {
  std::string backend;     // "cpu", "opencl", "vulkan"
  std::string name;        // e.g. "AMD EPYC 7B13 (2 threads)"
  std::string kind;        // "cpu", "gpu" (discrete), "igpu" (integrated), "other"
  size_t memory_bytes = 0;
  int index = 0;           // among devices of the same backend
  std::string details;     // features for `vdrt devices` (subgroup size, fp16, matrix units, driver)
  // How fp16 sessions reach the device's matrix units, for --device auto:
  // 0 not at all, 1 through a portable extension (Vulkan's NV cooperative
  // matrices), 2 through the vendor's own instructions (OpenCL inline PTX on
  // NVIDIA, about twice as fast on the H200: bench/RESULTS.md).
  int fp16_tier = 0;
};

class Backend;

// Device memory. On the CPU it is host memory; elsewhere it is opaque.
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual size_t size() const = 0;
  virtual Backend& backend() const = 0;
};

struct TensorDesc {
  DType dtype = DType::Undefined;
  std::vector<int64_t> dims;
  size_t nbytes() const { return static_cast<size_t>(numel(dims)) * dtype_size(dtype); }
};

// A tensor placed in a backend buffer. `buffer == nullptr` marks an absent
// optional input.
struct DeviceTensor {
  Buffer* buffer = nullptr;
  size_t offset = 0;
  TensorDesc desc;
};

// A node compiled for concrete input/output shapes (a kernel choice, an
// OpenCL program, a Vulkan pipeline...). Opaque to the runtime.
class CompiledOp {
 public:
  virtual ~CompiledOp() = default;
};

// Runtime state held in a backend's memory (e.g. a KV cache on the GPU):
// the node's GPU kernels bind its buffers next to the node's tensors. What
// each buffer holds is agreed between the op's kernels and the state's
// owner (kernels/sparse_kv_device.h for the sparse attention ops).
class DeviceOpState : public OpState {
 public:
  virtual const Backend& device() const = 0;
  virtual DeviceTensor buffer(uint32_t index) const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const DeviceInfo& info() const = 0;

  // Whether this backend can run `node` (op, attributes, dtypes). Must not
  // throw; the runtime falls back to the CPU when it returns false.
  virtual bool supports(const Node& node) const = 0;

  virtual std::unique_ptr<Buffer> allocate(size_t bytes) = 0;  // throws OutOfMemory
  virtual void upload(Buffer& dst, size_t offset, const void* src, size_t bytes) = 0;
  virtual void download(const Buffer& src, size_t offset, void* dst, size_t bytes) = 0;
  // Device-to-device copy within this backend, in stream order. The default
  // goes through the host.
  virtual void copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset, size_t bytes) {
    std::vector<uint8_t> staging(bytes);
    download(src, src_offset, staging.data(), bytes);
    upload(dst, dst_offset, staging.data(), bytes);
  }

  // `known_values[i]` holds the contents of input i when the runtime knows it
  // on the host (constants, shape tensors), else nullptr; backends may bake
  // such values into the compiled op.
  // `opset` is the graph's opset for the node's domain.
  virtual std::unique_ptr<CompiledOp> compile(const Node& node, int64_t opset, const std::vector<TensorDesc>& inputs,
                                              const std::vector<TensorDesc>& outputs,
                                              const std::vector<const Tensor*>& known_values) = 0;
  virtual void enqueue(CompiledOp& op, const std::vector<DeviceTensor>& inputs,
                       const std::vector<DeviceTensor>& outputs) = 0;
  // Whether enqueue can run `node` with `state` bound (runtime state the op
  // reads, e.g. a KV cache; see Session::bind_state). The Session runs a
  // node whose state its backend cannot read on the CPU fallback.
  virtual bool accepts_state(const Node& node, const OpState& state) const { return false; }
  // Whether the sparse ops' device KV cache (runtime/device_block_kv_cache.h)
  // on this backend keeps its key / value pools as packed f16.
  virtual bool half_kv_pools() const { return false; }
  // The same for a node that reads runtime state (OpSchema::runtime_state,
  // bound through Session::bind_state). Backends without stateful kernels
  // keep this default, which refuses a bound state.
  virtual void enqueue(CompiledOp& op, const std::vector<DeviceTensor>& inputs,
                       const std::vector<DeviceTensor>& outputs, OpState* state) {
    VDRT_CHECK(state == nullptr, "backend " + info().backend + " cannot run ops that read runtime state");
    enqueue(op, inputs, outputs);
  }
  virtual void synchronize() = 0;
};

}  // namespace vdrt
