#include "runtime/host_eval.h"

#include "kernels/cpu/kernel.h"

namespace vdrt {

bool host_can_evaluate(const Node& node) {
  return cpu::KernelRegistry::instance().find(node.domain(), node.op_type()) != nullptr;
}

std::vector<Tensor> evaluate_on_host(const Node& node, int64_t opset, const std::vector<const Tensor*>& inputs) {
  ErrorSite site{"", node.name(), node.qualified_op()};
  const cpu::Kernel* kernel = cpu::KernelRegistry::instance().find(node.domain(), node.op_type());
  VDRT_CHECK(kernel != nullptr, "no CPU kernel for this op", site);
  std::vector<ValueInfo> infos;
  for (const Tensor* t : inputs) {
    if (!t) { infos.emplace_back(); continue; }
    infos.push_back(ValueInfo{t->dtype(), Shape::from(t->dims()), t, true});
  }
  std::vector<ValueInfo> out_infos = infer_node(node, infos, opset);
  std::vector<Tensor> outputs;
  cpu::KernelContext ctx{node.attrs(), opset, {}, {}};
  for (const Tensor* t : inputs) {
    cpu::TensorView v;
    if (t) v = cpu::TensorView{t->dtype(), t->dims(), const_cast<void*>(t->raw())};
    ctx.inputs.push_back(v);
  }
  for (size_t i = 0; i < out_infos.size(); ++i) {
    if (!out_infos[i].present || !node.output(i)) {
      outputs.emplace_back();
      ctx.outputs.emplace_back();
      continue;
    }
    outputs.emplace_back(out_infos[i].dtype, out_infos[i].shape.concrete());
  }
  for (Tensor& t : outputs)
    if (t.defined()) ctx.outputs.push_back(cpu::TensorView{t.dtype(), t.dims(), t.raw()});
  // Re-align views with output indices when some outputs were absent.
  if (ctx.outputs.size() != outputs.size()) {
    ctx.outputs.clear();
    for (Tensor& t : outputs)
      ctx.outputs.push_back(t.defined() ? cpu::TensorView{t.dtype(), t.dims(), t.raw()} : cpu::TensorView{});
  }
  try {
    kernel->run(ctx);
  } catch (const Error& e) {
    throw e.with_site(site);
  }
  return outputs;
}

}  // namespace vdrt
