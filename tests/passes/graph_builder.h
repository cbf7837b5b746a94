#pragma once
// Builds small graphs for the pass tests, and runs them through a Session
// to compare a graph before and after a pass.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "passes/pass.h"
#include "runtime/session.h"

namespace vdrt::test {

class GraphBuilder {
 public:
  explicit GraphBuilder(int64_t opset = 17) {
    g_ = std::make_unique<Graph>();
    g_->name = "test";
    g_->opsets.push_back({"", opset});
  }

  Value* input(const std::string& name, std::vector<Dim> dims, DType dt = DType::F32) {
    Value* v = g_->value(name);
    v->set_dtype(dt);
    v->set_shape(Shape(std::move(dims)));
    g_->inputs().push_back(v);
    return v;
  }
  Value* constant(const std::string& name, Tensor t) { return g_->add_constant(name, std::move(t)); }
  Value* scalar(float x) { return g_->add_constant(g_->unique_name("c"), Tensor::scalar<float>(x)); }
  Value* ints(std::vector<int64_t> v) {
    return g_->add_constant(g_->unique_name("i"), Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v));
  }
  // A constant [dims] tensor of N(0, 1) values.
  Value* random(const std::vector<int64_t>& dims, uint32_t seed = 1) {
    Tensor t(DType::F32, dims);
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd;
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = nd(rng);
    return g_->add_constant(g_->unique_name("w"), t);
  }

  Value* op(const std::string& type, std::vector<Value*> inputs, AttributeMap attrs = {},
            const std::string& domain = "") {
    Value* out = g_->value(g_->unique_name(type + "_out"));
    Node* n = g_->add_node(type, inputs, {out}, g_->unique_name(type), domain);
    n->attrs() = attrs;
    return out;
  }
  Node* node_of(Value* v) { return v->producer(); }
  void output(Value* v) { g_->outputs().push_back(v); }

  Graph& graph() { return *g_; }
  std::unique_ptr<Graph> take() { return std::move(g_); }

 private:
  std::unique_ptr<Graph> g_;
};

inline AttributeMap attrs(std::initializer_list<std::pair<const char*, Attribute>> list) {
  AttributeMap m;
  for (const auto& [k, v] : list) m.set(k, v);
  return m;
}

// Random inputs for every graph input (floats N(0,1), ints 0); symbolic
// dims take their size from `symbols`.
TensorMap random_inputs(const Graph& g, uint32_t seed = 7, const std::map<std::string, int64_t>& symbols = {});
// Runs a copy of `g` on `inputs` through a CPU Session.
TensorMap run_graph(const Graph& g, const TensorMap& inputs);
// Runs one pass (default options) with the host evaluator; returns whether it changed the graph.
bool run_pass(const std::string& name, Graph& g, PassContext* ctx = nullptr);
int count_ops(const Graph& g, const std::string& qualified_op);
// The explanations a context collected, joined, for failure messages and substring checks.
std::string explained(const PassContext& ctx);

}  // namespace vdrt::test
