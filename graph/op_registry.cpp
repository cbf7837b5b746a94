#include "graph/op_registry.h"

#include "graph/error.h"

namespace vdrt {

const ValueInfo& InferContext::input(size_t i) const {
  if (!has_input(i)) fail("required input " + std::to_string(i) + " is missing");
  return inputs_[i];
}

void InferContext::set_output(size_t i, DType dtype, Shape shape) {
  if (outputs_.size() <= i) outputs_.resize(i + 1);
  outputs_[i] = ValueInfo{dtype, std::move(shape), nullptr, true};
}

void InferContext::fail(const std::string& reason) const {
  throw Error(reason, {"", node_.name(), node_.qualified_op()});
}

OpRegistry& OpRegistry::instance() {
  static OpRegistry registry;
  return registry;
}

OpSchema& OpRegistry::add(const std::string& domain, const std::string& name) {
  auto s = std::make_unique<OpSchema>();
  s->domain = domain;
  s->name = name;
  index_.emplace(s->domain + "|" + s->name, s.get());
  schemas_.push_back(std::move(s));
  return *schemas_.back();
}

const OpSchema* OpRegistry::find(const std::string& domain, const std::string& name) const {
  auto it = index_.find((domain == "ai.onnx" ? std::string() : domain) + "|" + name);
  return it == index_.end() ? nullptr : it->second;
}

std::vector<const OpSchema*> OpRegistry::all() const {
  std::vector<const OpSchema*> out;
  for (const auto& s : schemas_) out.push_back(s.get());
  return out;
}

std::vector<ValueInfo> infer_node(const Node& node, const std::vector<ValueInfo>& inputs, int64_t opset,
                                  const std::string& file) {
  ErrorSite site{file, node.name(), node.qualified_op()};
  const OpSchema* schema = OpRegistry::instance().find(node.domain(), node.op_type());
  VDRT_CHECK(schema != nullptr, "unsupported op: vdrt has no definition of " + node.qualified_op(), site);
  int nin = static_cast<int>(node.inputs().size());
  int nout = static_cast<int>(node.outputs().size());
  VDRT_CHECK(nin >= schema->min_inputs && nin <= schema->max_inputs,
             "takes " + std::to_string(schema->min_inputs) + ".." + std::to_string(schema->max_inputs) +
                 " inputs, got " + std::to_string(nin), site);
  VDRT_CHECK(nout >= schema->min_outputs && nout <= schema->max_outputs,
             "takes " + std::to_string(schema->min_outputs) + ".." + std::to_string(schema->max_outputs) +
                 " outputs, got " + std::to_string(nout), site);
  InferContext ctx(node, inputs, opset);
  try {
    schema->infer(ctx);
  } catch (const Error& e) {
    throw e.with_site(site);
  }
  std::vector<ValueInfo> outs = ctx.outputs();
  outs.resize(node.outputs().size());
  return outs;
}

InferFn same_as_input(int i) {
  return [i](InferContext& ctx) {
    const ValueInfo& in = ctx.input(i);
    ctx.set_output(0, in.dtype, in.shape);
  };
}

InferFn broadcast_inputs(DType out) {
  return [out](InferContext& ctx) {
    Shape s = ctx.input(0).shape;
    for (size_t i = 1; i < ctx.num_inputs(); ++i)
      if (ctx.has_input(i)) s = broadcast_shapes(s, ctx.input(i).shape);
    ctx.set_output(0, out == DType::Undefined ? ctx.input(0).dtype : out, s);
  };
}

}  // namespace vdrt
