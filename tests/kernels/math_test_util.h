#pragma once
// Runs one op the way the runtime does: the shape function through
// infer_node on a hand-built node, then the CPU kernel from the
// KernelRegistry on TensorViews over the test's host tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/op_registry.h"
#include "graph/tensor.h"
#include "kernels/cpu/kernel.h"

namespace vdrt::test {

struct OpCall {
  std::string op;
  std::string domain = "";
  int64_t opset = 23;
  size_t num_outputs = 1;
  AttributeMap attrs;
};

// Absent optional inputs are default-constructed Tensors; absent outputs
// are not requested when `output_present` says so.
inline std::vector<Tensor> run_op(const OpCall& call, const std::vector<Tensor>& inputs,
                                  std::vector<bool> output_present = {}) {
  Graph g;
  std::vector<Value*> ins, outs;
  std::vector<ValueInfo> infos;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      ins.push_back(nullptr);
      infos.emplace_back();
      continue;
    }
    Value* v = g.value("in" + std::to_string(i));
    v->set_dtype(inputs[i].dtype());
    v->set_shape(Shape::from(inputs[i].dims()));
    ins.push_back(v);
    infos.push_back(ValueInfo{inputs[i].dtype(), Shape::from(inputs[i].dims()), &inputs[i], true});
  }
  if (output_present.empty()) output_present.assign(call.num_outputs, true);
  for (size_t i = 0; i < call.num_outputs; ++i) outs.push_back(output_present[i] ? g.value("out" + std::to_string(i)) : nullptr);
  Node* node = g.add_node(call.op, ins, outs, "node", call.domain);
  for (const auto& [k, v] : call.attrs.all()) node->attrs().set(k, v);
  std::vector<ValueInfo> out_infos = infer_node(*node, infos, call.opset);

  const cpu::Kernel* kernel = cpu::KernelRegistry::instance().find(call.domain, call.op);
  if (!kernel) throw Error("no CPU kernel for " + call.op);
  std::vector<Tensor> results;
  cpu::KernelContext ctx{node->attrs(), call.opset, {}, {}};
  for (const Tensor& t : inputs) {
    cpu::TensorView v;
    if (t.defined()) v = cpu::TensorView{t.dtype(), t.dims(), const_cast<void*>(t.raw())};
    ctx.inputs.push_back(v);
  }
  for (size_t i = 0; i < call.num_outputs; ++i) {
    if (!output_present[i]) {
      results.emplace_back();
      ctx.outputs.emplace_back();
      continue;
    }
    results.emplace_back(out_infos[i].dtype, out_infos[i].shape.concrete());
    ctx.outputs.push_back(cpu::TensorView{results.back().dtype(), results.back().dims(), results.back().raw()});
  }
  kernel->run(ctx);
  return results;
}

inline Tensor run_op1(const OpCall& call, const std::vector<Tensor>& inputs) { return run_op(call, inputs)[0]; }

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

inline Tensor random_tensor(std::vector<int64_t> dims, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  return Tensor::from_vector<float>(dims, random_floats(static_cast<size_t>(numel(dims)), seed, lo, hi));
}

// Largest |actual - expected| over elements, with expected in float64.
inline double max_error(const Tensor& actual, const std::vector<double>& expected) {
  auto a = actual.as_double();
  EXPECT_EQ(a.size(), expected.size());
  if (a.size() != expected.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(expected[i]) || std::isnan(a[i])) {
      if (std::isnan(expected[i]) != std::isnan(a[i])) return INFINITY;
      continue;
    }
    if (a[i] == expected[i]) continue;
    m = std::max(m, std::fabs(a[i] - expected[i]));
  }
  return m;
}

// Row-major strides of `dims`.
inline std::vector<int64_t> strides_of(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (int i = static_cast<int>(dims.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

// Flat index into `dims` of the output coordinate `coord` (of rank >= dims),
// with numpy broadcasting (size-1 dims repeat).
inline int64_t broadcast_index(const std::vector<int64_t>& dims, const std::vector<int64_t>& coord) {
  int64_t idx = 0, stride = 1;
  for (size_t j = 0; j < dims.size(); ++j) {
    const size_t d = dims.size() - 1 - j, c = coord.size() - 1 - j;
    if (dims[d] != 1) idx += coord[c] * stride;
    stride *= dims[d];
  }
  return idx;
}

inline std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& dims) {
  std::vector<int64_t> c(dims.size());
  for (int i = static_cast<int>(dims.size()) - 1; i >= 0; --i) {
    c[i] = dims[i] ? flat % dims[i] : 0;
    flat = dims[i] ? flat / dims[i] : 0;
  }
  return c;
}

}  // namespace vdrt::test
