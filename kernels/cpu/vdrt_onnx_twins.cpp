// CPU kernels of vdrt.RMSNormalization, vdrt.LayerNormalization and
// vdrt.Gelu (graph/ops/vdrt_onnx_twins.cpp): the ONNX kernels of the same
// names, looked up when first run (static registration order across files
// is unspecified) and called with the opset that defines the op.
#include "kernels/cpu/kernel.h"

namespace vdrt::cpu {
namespace {

KernelFn forward_to_onnx(const char* op, int64_t opset) {
  return [op, opset](KernelContext& ctx) {
    const Kernel* k = KernelRegistry::instance().find("", op);
    VDRT_CHECK(k != nullptr, std::string("vdrt.") + op + " needs the CPU kernel of ONNX " + op);
    KernelContext inner{ctx.attrs, opset, ctx.inputs, ctx.outputs};
    k->run(inner);
  };
}

SupportsFn forward_supports(const char* op, int64_t opset) {
  return [op, opset](const AttributeMap& attrs, const std::vector<DType>& dts, int64_t) {
    const Kernel* k = KernelRegistry::instance().find("", op);
    return k != nullptr && (!k->supports || k->supports(attrs, dts, opset));
  };
}

VDRT_CPU_KERNEL_IF("vdrt", "RMSNormalization", forward_to_onnx("RMSNormalization", 23),
                   forward_supports("RMSNormalization", 23));
VDRT_CPU_KERNEL_IF("vdrt", "LayerNormalization", forward_to_onnx("LayerNormalization", 17),
                   forward_supports("LayerNormalization", 17));
VDRT_CPU_KERNEL_IF("vdrt", "Gelu", forward_to_onnx("Gelu", 20), forward_supports("Gelu", 20));

}  // namespace
}  // namespace vdrt::cpu
