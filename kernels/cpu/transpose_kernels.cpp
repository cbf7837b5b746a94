// CPU kernels of Transpose, DepthToSpace and SpaceToDepth. Each one only
// builds the (dims, source strides) description of its permutation; the
// strided-copy engine does the copying, cache-blocked when the innermost
// axes are swapped.
#include <string>

#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

void transpose_kernel(KernelContext& ctx) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  const size_t r = in.rank();
  std::vector<int64_t> perm = ctx.attrs.get_ints("perm", {});
  if (!ctx.attrs.has("perm"))
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  VDRT_CHECK(perm.size() == r, "Transpose perm does not match the input rank");
  const std::vector<int64_t> in_strides = contiguous_strides(in.dims);
  std::vector<int64_t> src(r);
  for (size_t i = 0; i < r; ++i) {
    VDRT_CHECK(perm[i] >= 0 && perm[i] < static_cast<int64_t>(r), "Transpose perm entry out of range");
    src[i] = in_strides[perm[i]];
  }
  strided_copy(dtype_size(in.dtype), out.dims, in.data, src, out.data, contiguous_strides(out.dims));
}

// Both ops view the 4-D tensor as 6-D and permute. The loops run over the
// output's 6-D view [N, C', H, b1, W, b2] (DepthToSpace) or the input's 6-D
// view (SpaceToDepth); `strides` gives the other side's step for each.
void depth_to_space_kernel(KernelContext& ctx) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  const int64_t b = ctx.attrs.get_int("blocksize");
  const bool crd = ctx.attrs.get_string("mode", "DCR") == "CRD";
  VDRT_CHECK(in.rank() == 4 && b > 0 && in.dims[1] % (b * b) == 0, "DepthToSpace input does not fit the blocksize");
  const int64_t n = in.dims[0], c = in.dims[1] / (b * b), h = in.dims[2], w = in.dims[3];
  // Input channel of (c', b1, b2): DCR = (b1 * b + b2) * C' + c', CRD = c' * b * b + b1 * b + b2.
  const int64_t hw = h * w;
  const int64_t s_c = crd ? b * b * hw : hw;
  const int64_t s_b1 = crd ? b * hw : b * c * hw;
  const int64_t s_b2 = crd ? hw : c * hw;
  std::vector<int64_t> dims{n, c, h, b, w, b};
  std::vector<int64_t> src{in.dims[1] * hw, s_c, w, s_b1, 1, s_b2};
  strided_copy(dtype_size(in.dtype), dims, in.data, src, out.data, contiguous_strides(dims));
}

void space_to_depth_kernel(KernelContext& ctx) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  const int64_t b = ctx.attrs.get_int("blocksize");
  const bool crd = ctx.attrs.get_string("mode", "DCR") == "CRD";
  VDRT_CHECK(in.rank() == 4 && b > 0 && in.dims[2] % b == 0 && in.dims[3] % b == 0,
             "SpaceToDepth input does not fit the blocksize");
  const int64_t n = in.dims[0], c = in.dims[1], h = in.dims[2] / b, w = in.dims[3] / b;
  // Iterate the input as [N, C, H', b1, W', b2]; output channel of (c, b1, b2)
  // is DCR: (b1 * b + b2) * C + c, CRD: c * b * b + b1 * b + b2.
  const int64_t hw = h * w;
  const int64_t d_c = crd ? b * b * hw : hw;
  const int64_t d_b1 = crd ? b * hw : b * c * hw;
  const int64_t d_b2 = crd ? hw : c * hw;
  std::vector<int64_t> dims{n, c, h, b, w, b};
  std::vector<int64_t> dst{c * b * b * hw, d_c, w, d_b1, 1, d_b2};
  strided_copy(dtype_size(in.dtype), dims, in.data, contiguous_strides(dims), out.data, dst);
}

}  // namespace

VDRT_CPU_KERNEL("", "Transpose", transpose_kernel);
VDRT_CPU_KERNEL("", "DepthToSpace", depth_to_space_kernel);
VDRT_CPU_KERNEL("", "SpaceToDepth", space_to_depth_kernel);

}  // namespace vdrt::cpu
