#pragma once
// Helpers for the data-movement op tests: shape inference on symbolic or
// partly known inputs (run_op in math_test_util.h covers the concrete case),
// integer tensors, and a naive index walk used by the references.
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "math_test_util.h"

namespace vdrt::test {

// Runs only the shape function of `call` on hand-made input infos.
inline std::vector<ValueInfo> infer_op(const OpCall& call, const std::vector<ValueInfo>& inputs) {
  Graph g;
  std::vector<Value*> ins, outs;
  for (size_t i = 0; i < inputs.size(); ++i) ins.push_back(inputs[i].present ? g.value("in" + std::to_string(i)) : nullptr);
  for (size_t i = 0; i < call.num_outputs; ++i) outs.push_back(g.value("out" + std::to_string(i)));
  Node* node = g.add_node(call.op, ins, outs, "node", call.domain);
  for (const auto& [k, v] : call.attrs.all()) node->attrs().set(k, v);
  return infer_node(*node, inputs, call.opset);
}

inline ValueInfo info(DType t, Shape s, const Tensor* value = nullptr) { return ValueInfo{t, std::move(s), value, true}; }
inline ValueInfo info_of(const Tensor& t) { return ValueInfo{t.dtype(), Shape::from(t.dims()), &t, true}; }

inline Tensor ints(std::vector<int64_t> v) {
  int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector<int64_t>({n}, v);
}
inline Tensor iota_f32(std::vector<int64_t> dims) {
  std::vector<float> v(static_cast<size_t>(numel(dims)));
  std::iota(v.begin(), v.end(), 0.0f);
  return Tensor::from_vector<float>(dims, v);
}

inline AttributeMap attrs(std::initializer_list<std::pair<const char*, Attribute>> list) {
  AttributeMap m;
  for (const auto& [k, v] : list) m.set(k, v);
  return m;
}

// Flat index of `coord` in a row-major tensor of `dims`.
inline int64_t ravel(const std::vector<int64_t>& coord, const std::vector<int64_t>& dims) {
  int64_t i = 0;
  for (size_t d = 0; d < dims.size(); ++d) i = i * dims[d] + coord[d];
  return i;
}

// Expects `fn` to throw vdrt::Error whose message contains every fragment.
template <typename Fn>
void expect_error(Fn fn, std::vector<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected a vdrt::Error";
  } catch (const Error& e) {
    for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

}  // namespace vdrt::test
