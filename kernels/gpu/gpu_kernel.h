#pragma once
// The GPU kernel interface, shared by the Vulkan and OpenCL backends. A kernel
// turns a node with concrete shapes into a Program: a list of compute
// dispatches, each naming a device kernel (kernels/vulkan/NAME.comp,
// kernels/opencl/NAME.cl), the tensors it binds, its compile-time constants
// and its 32-bit parameters. Planning a dispatch (tiles, strides, grids) is
// the same on every GPU API; only the device code differs, so it lives here
// once and each backend implements the kernels it names (docs/gpu_kernels.md
// gives the calling convention). Kernels never touch a GPU API.
//
//   VDRT_GPU_KERNEL("", "Relu", build_unary, supports_unary);
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "graph/graph.h"

namespace vdrt::gpu {

// A work-group tile of the fp32 GEMM (kernels/gpu/matmul_tile.h): BM x BN
// outputs, TM x TN per invocation, BK-deep K slices. All zero: none chosen.
struct MatmulTile {
  uint32_t bm = 0, bn = 0, bk = 0, tm = 0, tn = 0;
  bool set() const { return bm || bn || bk || tm || tn; }
  bool operator==(const MatmulTile&) const = default;
};

// What the device offers, as far as kernels care.
struct DeviceCaps {
  uint32_t subgroup_size = 32;
  uint32_t max_shared_bytes = 16384;
  uint32_t max_workgroup_invocations = 128;
  uint32_t max_groups_x = 65535, max_groups_y = 65535, max_groups_z = 65535;
  uint64_t min_storage_offset_alignment = 16;
  uint64_t max_storage_range = 1u << 27;
  bool fp16 = false;                 // fp16 arithmetic and 16-bit storage (Vulkan shaderFloat16; OpenCL: tensor-core sessions)
  bool coopmat_f16_16x16x16 = false; // cooperative-matrix kernels, f16 x f16 -> f32, used (Vulkan NV; OpenCL ptx_mma)
  // The cooperative-matrix kernels are OpenCL's inline-PTX versions (NVIDIA
  // tensor cores, kernels/opencl/tensor_core_ptx.cl): matmul_coopmat_f16
  // (BK 32), matmul_coopmat_e4m3 (BK 32), flash_attention_coopmat and
  // sparse_flash_coopmat exist; the batched matmul_coopmat does
  // not, so batched fp16 MatMuls take the portable kernel.
  bool ptx_mma = false;
  // With ptx_mma: the float8 tensor cores too (mma m16n8k32 e4m3, compute
  // capability 8.9+, checked by tensor_core_probe_e4m3.cl), so W8A8
  // vdrt.QMatMul multiplies codes by codes (matmul_e4m3_mma).
  bool ptx_mma_e4m3 = false;
  // The sparse kernels can keep a device KV cache's key / value pools as
  // packed f16 (Vulkan: packHalf2x16 words, no 16-bit storage needed); see
  // sparse_half_pools.
  bool half_kv_pools = false;
  // Session precision: "fp32" runs every op in fp32; "fp16" lets matmul,
  // conv and attention multiply in fp16 (fp32 accumulation) where supported.
  std::string precision = "fp32";
  // The fp32 GEMM tile measured fastest on this device (VDRT_MATMUL_TILE or
  // its tuning file, backends/gpu_tuning.h); zeros: chosen by shape.
  MatmulTile matmul_tile;
};

// Whether a device KV cache of the sparse ops (kernels/sparse_kv_device.h)
// keeps its key / value pools as packed f16 on this device: fp16 sessions
// where the kernels support it. Halves the cache's memory; the kernels round
// keys and values to f16 in these sessions anyway.
inline bool sparse_half_pools(const DeviceCaps& caps) { return caps.half_kv_pools && caps.precision == "fp16"; }

struct TensorInfo {
  DType dtype = DType::Undefined;  // Undefined: an absent optional tensor
  std::vector<int64_t> dims;
  int64_t numel() const { return vdrt::numel(dims); }
  bool present() const { return dtype != DType::Undefined; }
};

// A tensor a dispatch binds: an input or output of the node, a scratch
// buffer of the program, or a buffer of the runtime state bound to the node
// (backends/backend.h DeviceOpState; programs planned with
// KernelArgs::stateful only).
struct Arg {
  enum Kind : uint8_t { Input, Output, Scratch, State };
  Kind kind;
  uint32_t index;
};
inline Arg in(uint32_t i) { return {Arg::Input, i}; }
inline Arg out(uint32_t i) { return {Arg::Output, i}; }
inline Arg scratch(uint32_t i) { return {Arg::Scratch, i}; }
inline Arg state(uint32_t i) { return {Arg::State, i}; }

struct Dispatch {
  std::string shader;            // device kernel: file stem, or stem + variant (same name in every backend)
  std::vector<uint32_t> spec;    // compile-time constants: Vulkan constant_id = position, OpenCL -DSPEC<position>
  std::vector<uint32_t> push;    // parameters, 32-bit words (at most 32): Vulkan push constants, OpenCL a __constant block
  std::vector<Arg> args;         // binding b = args[b] (OpenCL: kernel arguments 2b and 2b+1, buffer and byte offset)
  std::vector<bool> writes;      // per arg: whether the shader writes it (default: outputs and scratch)
  uint32_t groups[3] = {1, 1, 1};  // work groups; their size is the kernel's own (local_size / reqd_work_group_size)
  std::string variant;           // shown after the kernel name in profiles (e.g. the GEMM tile), so a choice is visible
  // Reads only constant inputs of the node (initializers: weights) and writes
  // only scratch: the backend runs it at the program's first run and again
  // only when the buffers bound to those inputs change (weights converted or
  // transposed once per session instead of once per call).
  bool once = false;

  Dispatch& u32(uint32_t v) { push.push_back(v); return *this; }
  Dispatch& i32(int32_t v) { push.push_back(static_cast<uint32_t>(v)); return *this; }
  Dispatch& f32(float v) { uint32_t b; std::memcpy(&b, &v, 4); push.push_back(b); return *this; }
};

struct Program {
  std::vector<Dispatch> dispatches;
  std::vector<size_t> scratch_bytes;  // per scratch index
};

struct KernelArgs {
  const Node& node;
  int64_t opset;
  const std::vector<TensorInfo>& inputs;
  const std::vector<TensorInfo>& outputs;
  const std::vector<const Tensor*>& known;  // host contents of shape-argument inputs, else nullptr
  const DeviceCaps& caps;
  // A device state is bound to the node (its KV cache on the GPU): the
  // program reads it through Arg::State instead of the node's cache inputs.
  bool stateful = false;

  const AttributeMap& attrs() const { return node.attrs(); }
  bool has(size_t i) const { return i < inputs.size() && inputs[i].present(); }
  // Whether input i is a constant of the graph (an initializer or a folded
  // value), whose contents never change between runs: see Dispatch::once.
  bool constant(size_t i) const {
    return i < node.inputs().size() && node.input(i) && node.input(i)->is_constant();
  }
};

using BuildFn = std::function<Program(const KernelArgs&)>;
// Whether the kernel handles the node (attributes, input/output dtypes) on a
// device with these capabilities. Must not throw.
using SupportsFn = std::function<bool(const Node&, const DeviceCaps&)>;

struct Kernel {
  std::string domain, op;
  BuildFn build;
  SupportsFn supports;
};

class KernelRegistry {
 public:
  static KernelRegistry& instance();
  void add(Kernel k);
  const Kernel* find(const std::string& domain, const std::string& op) const;

 private:
  std::deque<Kernel> kernels_;
  std::unordered_map<std::string, const Kernel*> index_;
};

// Groups of `local` invocations covering `n` items, folded into y (and z)
// when x would exceed the device limit. Shaders recover the flat index as
// gl_WorkGroupID.x + gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z).
void set_groups_1d(Dispatch& d, uint64_t n, uint32_t local, const DeviceCaps& caps);
// A gx x gy grid of tiles (GEMMs); an error naming `op` past the device's limits.
void set_groups_2d(Dispatch& d, int64_t gx, int64_t gy, const DeviceCaps& caps, const std::string& op);

// Common supports predicates.
bool all_float32(const Node& node);  // every present input and output is f32

namespace detail {
struct KernelRegistrar {
  KernelRegistrar(const char* domain, const char* op, BuildFn build, SupportsFn supports);
};
}  // namespace detail

#define VDRT_GPU_KERNEL(domain, op, build, supports) \
  static ::vdrt::gpu::detail::KernelRegistrar VDRT_GPU_CONCAT(vdrt_gpu_kernel_, __COUNTER__)(domain, op, build, supports)
#define VDRT_GPU_CONCAT_INNER(a, b) a##b
#define VDRT_GPU_CONCAT(a, b) VDRT_GPU_CONCAT_INNER(a, b)

}  // namespace vdrt::gpu
