#pragma once
// What the IR knows of each op: how many inputs and outputs it takes and how
// to infer output types and shapes. Backends decide separately whether they
// can run it. Ops register themselves from graph/ops/*.cpp:
//
//   VDRT_REGISTER_OP("", "Relu").inputs(1, 1).outputs(1, 1).infer(same_as_input(0));
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "graph/graph.h"

namespace vdrt {

struct ValueInfo {
  DType dtype = DType::Undefined;
  Shape shape;
  const Tensor* value = nullptr;  // known contents (constants, host-computed shapes)
  bool present = false;           // false for absent optional inputs
};

class InferContext {
 public:
  InferContext(const Node& node, std::vector<ValueInfo> inputs, int64_t opset)
      : node_(node), inputs_(std::move(inputs)), opset_(opset) {}

  const Node& node() const { return node_; }
  const AttributeMap& attrs() const { return node_.attrs(); }
  int64_t opset() const { return opset_; }
  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i].present; }
  const ValueInfo& input(size_t i) const;
  // Contents of input i, which the op needs to know its output shape; returns
  // nullptr when not known yet (symbolic inference then yields unknown dims).
  const Tensor* input_value(size_t i) const { return has_input(i) ? inputs_[i].value : nullptr; }

  void set_output(size_t i, DType dtype, Shape shape);
  const std::vector<ValueInfo>& outputs() const { return outputs_; }
  size_t num_outputs() const { return node_.outputs().size(); }

  [[noreturn]] void fail(const std::string& reason) const;

 private:
  const Node& node_;
  std::vector<ValueInfo> inputs_;
  std::vector<ValueInfo> outputs_;
  int64_t opset_;
};

using InferFn = std::function<void(InferContext&)>;

struct OpSchema {
  std::string domain;
  std::string name;
  int min_inputs = 0, max_inputs = 0;
  int min_outputs = 1, max_outputs = 1;
  std::vector<int> value_inputs;  // inputs whose contents determine output shapes
  InferFn infer;
  std::string doc;
  // The op reads runtime state that the Session binds per node (graph/op_state.h),
  // e.g. the KV cache of the sparse attention ops.
  bool runtime_state = false;

  OpSchema& inputs(int lo, int hi) { min_inputs = lo; max_inputs = hi; return *this; }
  OpSchema& outputs(int lo, int hi) { min_outputs = lo; max_outputs = hi; return *this; }
  OpSchema& needs_values(std::vector<int> idx) { value_inputs = std::move(idx); return *this; }
  OpSchema& set_infer(InferFn f) { infer = std::move(f); return *this; }
  OpSchema& describe(std::string d) { doc = std::move(d); return *this; }
  OpSchema& reads_runtime_state() { runtime_state = true; return *this; }
};

class OpRegistry {
 public:
  static OpRegistry& instance();
  OpSchema& add(const std::string& domain, const std::string& name);
  const OpSchema* find(const std::string& domain, const std::string& name) const;
  std::vector<const OpSchema*> all() const;

 private:
  std::vector<std::unique_ptr<OpSchema>> schemas_;
  std::unordered_map<std::string, const OpSchema*> index_;  // "domain|name": the first registration wins
};

// Runs the op's shape function for `node` with the given input infos;
// checks arity first. Errors name the node and op.
std::vector<ValueInfo> infer_node(const Node& node, const std::vector<ValueInfo>& inputs, int64_t opset,
                                  const std::string& file = "");

// Common shape functions.
InferFn same_as_input(int i);
InferFn broadcast_inputs(DType out = DType::Undefined);  // numpy broadcast of all inputs

namespace detail {
struct OpRegistrar {
  OpSchema& schema;
  OpRegistrar(const char* domain, const char* name) : schema(OpRegistry::instance().add(domain, name)) {}
};
}  // namespace detail

#define VDRT_CONCAT_INNER(a, b) a##b
#define VDRT_CONCAT(a, b) VDRT_CONCAT_INNER(a, b)
#define VDRT_REGISTER_OP(domain, name) \
  static ::vdrt::OpSchema& VDRT_CONCAT(vdrt_op_schema_, __COUNTER__) = ::vdrt::detail::OpRegistrar(domain, name).schema

}  // namespace vdrt
