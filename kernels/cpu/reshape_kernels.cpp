// CPU kernels of Reshape, Flatten, Squeeze and Unsqueeze: the element order
// never changes, so each is one (parallel) memcpy into the output the runtime
// allocated with the inferred shape.
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

void copy_kernel(KernelContext& ctx) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  VDRT_CHECK(in.numel() == out.numel(), "cannot reshape " + dims_str(in.dims) + " (" + std::to_string(in.numel()) +
                                            " elements) to " + dims_str(out.dims) + " (" +
                                            std::to_string(out.numel()) + " elements)");
  parallel_memcpy(out.data, in.data, in.nbytes());
}

}  // namespace

VDRT_CPU_KERNEL("", "Reshape", copy_kernel);
VDRT_CPU_KERNEL("", "Flatten", copy_kernel);
VDRT_CPU_KERNEL("", "Squeeze", copy_kernel);
VDRT_CPU_KERNEL("", "Unsqueeze", copy_kernel);

}  // namespace vdrt::cpu
