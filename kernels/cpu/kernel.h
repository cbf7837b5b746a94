#pragma once
// The CPU kernel interface: a kernel reads a node's attributes and tensor
// views and writes into pre-allocated outputs whose shapes the runtime has
// already inferred. Kernels register themselves:
//
//   VDRT_CPU_KERNEL("", "Relu", relu_kernel);                // any dtype accepted
//   VDRT_CPU_KERNEL_IF("", "Conv", conv_kernel, conv_supports);
#include <cstdint>
#include <deque>
#include <functional>
#include <unordered_map>
#include <string>
#include <vector>

#include "graph/attribute.h"
#include "graph/dtype.h"
#include "graph/error.h"
#include "graph/op_state.h"
#include "graph/shape.h"

namespace vdrt::cpu {

struct TensorView {
  DType dtype = DType::Undefined;
  std::vector<int64_t> dims;
  void* data = nullptr;

  bool present() const { return dtype != DType::Undefined; }
  int64_t numel() const { return vdrt::numel(dims); }
  size_t rank() const { return dims.size(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  template <typename T> T* as() const {
    VDRT_CHECK(dtype == DTypeOf<T>::value || (sizeof(T) == 1 && dtype == DType::Bool) ||
                   (sizeof(T) == 2 && (dtype == DType::F16 || dtype == DType::BF16)),
               std::string("kernel reads a ") + dtype_name(dtype) + " tensor with the wrong type");
    return static_cast<T*>(data);
  }
  std::vector<int64_t> to_int64() const;  // any integer dtype, for shape-like inputs
};

struct KernelContext {
  const AttributeMap& attrs;
  int64_t opset;
  std::vector<TensorView> inputs;   // absent optional inputs are not present()
  std::vector<TensorView> outputs;
  // Runtime state the Session bound to the node (OpSchema::runtime_state),
  // e.g. the KV cache of the sparse attention ops; nullptr when none is bound.
  OpState* state = nullptr;

  bool has(size_t i) const { return i < inputs.size() && inputs[i].present(); }
  const TensorView& in(size_t i) const;
  TensorView& out(size_t i);
};

using KernelFn = std::function<void(KernelContext&)>;
// Decides from attributes and input dtypes whether the kernel handles a node.
using SupportsFn = std::function<bool(const AttributeMap&, const std::vector<DType>& input_dtypes, int64_t opset)>;

struct Kernel {
  std::string domain, op;
  KernelFn run;
  SupportsFn supports;
};

class KernelRegistry {
 public:
  static KernelRegistry& instance();
  void add(Kernel k);
  const Kernel* find(const std::string& domain, const std::string& op) const;
  std::vector<const Kernel*> all() const;

 private:
  std::deque<Kernel> kernels_;  // stable addresses for the index
  std::unordered_map<std::string, const Kernel*> index_;  // "domain|op": the first registration wins
};

// Common support predicates.
SupportsFn float32_only();              // every present float input is f32
SupportsFn dtypes_in(std::vector<DType> allowed);  // every present input is one of these

namespace detail {
struct KernelRegistrar {
  KernelRegistrar(const char* domain, const char* op, KernelFn fn, SupportsFn sup = nullptr);
};
}  // namespace detail

#define VDRT_CPU_KERNEL(domain, op, fn) \
  static ::vdrt::cpu::detail::KernelRegistrar VDRT_CPU_CONCAT(vdrt_cpu_kernel_, __COUNTER__)(domain, op, fn)
#define VDRT_CPU_KERNEL_IF(domain, op, fn, sup) \
  static ::vdrt::cpu::detail::KernelRegistrar VDRT_CPU_CONCAT(vdrt_cpu_kernel_, __COUNTER__)(domain, op, fn, sup)
#define VDRT_CPU_CONCAT_INNER(a, b) a##b
#define VDRT_CPU_CONCAT(a, b) VDRT_CPU_CONCAT_INNER(a, b)

}  // namespace vdrt::cpu
