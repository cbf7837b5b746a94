#include "graph_builder.h"

#include "graph/shape_inference.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "runtime/host_eval.h"

namespace vdrt::test {

TensorMap random_inputs(const Graph& g, uint32_t seed, const std::map<std::string, int64_t>& symbols) {
  TensorMap m;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  for (const Value* v : g.inputs()) {
    std::vector<int64_t> dims;
    for (const Dim& d : v->shape().dims()) dims.push_back(d.known() ? d.value() : symbols.at(d.name()));
    Tensor t(v->dtype(), dims);
    if (v->dtype() == DType::F32)
      for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = nd(rng);
    m[v->name()] = t;
  }
  return m;
}

TensorMap run_graph(const Graph& g, const TensorMap& inputs) {
  SessionOptions o;
  o.device = "cpu";
  Session s(g.clone(), o);
  return s.run(inputs);
}

bool run_pass(const std::string& name, Graph& g, PassContext* ctx) {
  PassContext local;
  PassContext& c = ctx ? *ctx : local;
  c.evaluator = [](const Node& node, const std::vector<Tensor>& inputs, int64_t opset) {
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs) ptrs.push_back(t.defined() ? &t : nullptr);
    return evaluate_on_host(node, opset, ptrs);
  };
  PassManager pm;
  pm.add(PassRegistry::instance().create(name));
  auto records = pm.run(g, c);
  return records.at(0).changed;
}

int count_ops(const Graph& g, const std::string& qualified_op) {
  int n = 0;
  for (const auto& node : g.nodes()) n += node->qualified_op() == qualified_op;
  return n;
}

std::string explained(const PassContext& ctx) {
  std::string s;
  for (const auto& e : ctx.explanations()) s += e.str() + "\n";
  return s;
}

}  // namespace vdrt::test
