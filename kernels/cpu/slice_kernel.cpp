// CPU kernel of Slice: the ONNX index rules are resolved by the shared
// resolve_slice() and the result is a strided view of the input (negative
// steps are negative strides), copied by the strided-copy engine.
#include "graph/ops/slice_params.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

std::vector<int64_t> arg(const KernelContext& ctx, const char* attr, size_t input) {
  if (ctx.opset < 10) return ctx.attrs.get_ints(attr, {});
  return ctx.has(input) ? ctx.in(input).to_int64() : std::vector<int64_t>{};
}

void slice_kernel(KernelContext& ctx) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  std::vector<SliceRange> ranges =
      resolve_slice(in.dims, arg(ctx, "starts", 1), arg(ctx, "ends", 2), arg(ctx, "axes", 3), arg(ctx, "steps", 4));
  const std::vector<int64_t> in_strides = contiguous_strides(in.dims);
  std::vector<int64_t> dims(in.rank()), src(in.rank());
  int64_t base = 0;
  for (size_t i = 0; i < in.rank(); ++i) {
    dims[i] = ranges[i].count;
    src[i] = in_strides[i] * ranges[i].step;
    base += ranges[i].start * in_strides[i];
  }
  VDRT_CHECK(dims == out.dims, "Slice output " + dims_str(out.dims) + " does not match the slice " + dims_str(dims));
  if (out.numel() == 0) return;
  const size_t es = dtype_size(in.dtype);
  strided_copy(es, dims, static_cast<const uint8_t*>(in.data) + base * static_cast<int64_t>(es), src, out.data,
               contiguous_strides(dims));
}

}  // namespace

VDRT_CPU_KERNEL("", "Slice", slice_kernel);

}  // namespace vdrt::cpu
