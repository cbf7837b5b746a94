// CPU kernels of Concat and Split. Both see the tensors as [outer, axis *
// inner] rows: for every outer index each input (output) contributes one
// contiguous run, so the work is one memcpy per run, parallel over rows.
#include <string>

#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

int64_t outer_of(const std::vector<int64_t>& dims, int64_t axis) {
  int64_t p = 1;
  for (int64_t i = 0; i < axis; ++i) p *= dims[i];
  return p;
}

void concat_kernel(KernelContext& ctx) {
  TensorView& out = ctx.out(0);
  const int64_t axis = normalize_axis(ctx.attrs.get_int("axis"), static_cast<int64_t>(out.rank()));
  const size_t es = dtype_size(out.dtype);
  const int64_t outer = outer_of(out.dims, axis);
  const int64_t out_row = out.numel() / std::max<int64_t>(outer, 1) * static_cast<int64_t>(es);
  struct Part { const uint8_t* src; int64_t bytes, offset; };
  std::vector<Part> parts;
  int64_t offset = 0;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const TensorView& in = ctx.in(i);
    VDRT_CHECK(in.rank() == out.rank() && in.dtype == out.dtype, "Concat input " + std::to_string(i) +
                                                                      " does not match the output");
    const int64_t bytes = outer ? in.numel() / outer * static_cast<int64_t>(es) : 0;
    if (bytes) parts.push_back({static_cast<const uint8_t*>(in.data), bytes, offset});
    offset += bytes;
  }
  VDRT_CHECK(offset == out_row || outer == 0, "Concat inputs do not fill the output " + dims_str(out.dims));
  auto* dst = static_cast<uint8_t*>(out.data);
  parallel_rows(outer, out_row, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (const Part& p : parts) copy_slice(dst + o * out_row + p.offset, p.src + o * p.bytes, p.bytes);
  });
}

void split_kernel(KernelContext& ctx) {
  const TensorView& in = ctx.in(0);
  const int64_t axis = normalize_axis(ctx.attrs.get_int("axis", 0), static_cast<int64_t>(in.rank()));
  const size_t es = dtype_size(in.dtype);
  const int64_t outer = outer_of(in.dims, axis);
  const int64_t in_row = outer ? in.numel() / outer * static_cast<int64_t>(es) : 0;
  struct Part { uint8_t* dst; int64_t bytes, offset; };
  std::vector<Part> parts;
  int64_t offset = 0;
  for (TensorView& out : ctx.outputs) {
    VDRT_CHECK(out.present(), "Split needs every output allocated to know where each part starts");
    const int64_t bytes = outer ? out.numel() / outer * static_cast<int64_t>(es) : 0;
    if (bytes) parts.push_back({static_cast<uint8_t*>(out.data), bytes, offset});
    offset += bytes;
  }
  VDRT_CHECK(offset == in_row, "Split outputs do not cover the input " + dims_str(in.dims));
  auto* src = static_cast<const uint8_t*>(in.data);
  parallel_rows(outer, in_row, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (const Part& p : parts) std::memcpy(p.dst + o * p.bytes, src + o * in_row + p.offset, p.bytes);
  });
}

}  // namespace

VDRT_CPU_KERNEL("", "Concat", concat_kernel);
VDRT_CPU_KERNEL("", "Split", split_kernel);

}  // namespace vdrt::cpu
