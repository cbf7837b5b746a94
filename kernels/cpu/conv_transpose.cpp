// ConvTranspose via GEMM + col2im, the adjoint of Conv's lowering:
//   col (M/g*taps x I) = W_g^T (M/g*taps x C/g) * X_g (C/g x I)
// then every column scatters its taps into the output (col2im_add), which is
// race-free across output channels. Input columns are processed in blocks
// that bound the column buffer. Y starts as the bias (or zero).
#include <algorithm>
#include <string>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "graph/ops/conv_params.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/half_float.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/kernel.h"

namespace vdrt::cpu {
namespace {

constexpr int64_t kColBlockFloats = int64_t(1) << 22;

void conv_transpose_kernel(KernelContext& ctx) {
  const TensorView &x = ctx.in(0), &w = ctx.in(1);
  VDRT_CHECK(x.dtype == DType::F32 && w.dtype == DType::F32, "ConvTranspose supports f32 (and f16/bf16)");
  VDRT_CHECK(x.rank() >= 3 && w.rank() == x.rank(),
             "ConvTranspose needs X [N, C, D...] and W [C, M/group, K...] of equal rank");
  const int64_t n = x.dims[0], c = x.dims[1], group = ctx.attrs.get_int("group", 1);
  VDRT_CHECK(group >= 1 && c % group == 0 && w.dims[0] == c,
             "ConvTranspose channels do not fit: X has " + std::to_string(c) + ", W is " + dims_str(w.dims));
  const int64_t cg = c / group, mg = w.dims[1], m = mg * group;
  const std::vector<int64_t> in(x.dims.begin() + 2, x.dims.end()), k(w.dims.begin() + 2, w.dims.end());
  const std::vector<ConvAxis> axes = conv_transpose_axes(ctx.attrs, in, k);
  ConvGrid grid;
  grid.grid = in;
  for (const ConvAxis& a : axes) {
    grid.image.push_back(a.out);
    grid.kernel.push_back(a.kernel);
    grid.stride.push_back(a.stride);
    grid.dilation.push_back(a.dilation);
    grid.pad_begin.push_back(a.pad_begin);
  }
  TensorView& y = ctx.out(0);
  const int64_t I = grid.grid_size(), O = grid.image_size(), rows = mg * grid.taps();
  VDRT_CHECK(y.numel() == n * m * O, "ConvTranspose output shape " + dims_str(y.dims) + " does not fit the input");
  const float* px = static_cast<const float*>(x.data);
  const float* pw = static_cast<const float*>(w.data);
  float* py = static_cast<float*>(y.data);
  const float* pb = nullptr;
  if (ctx.has(2)) {
    VDRT_CHECK(ctx.in(2).dtype == DType::F32 && ctx.in(2).numel() == m,
               "ConvTranspose bias must hold one f32 per output channel");
    pb = static_cast<const float*>(ctx.in(2).data);
  }
  for (int64_t i = 0; i < n * m; ++i) std::fill(py + i * O, py + (i + 1) * O, pb ? pb[i % m] : 0.0f);
  if (I == 0) return;
  const int64_t block = std::clamp<int64_t>(kColBlockFloats / std::max<int64_t>(rows, 1), 64, I);
  std::vector<float> col;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t g = 0; g < group; ++g)
      for (int64_t j0 = 0; j0 < I; j0 += block) {
        const int64_t j1 = std::min(I, j0 + block), width = j1 - j0;
        col.resize(static_cast<size_t>(rows * width));
        // W_g^T: element (r, ci) of the transposed view is W[g*cg + ci, r].
        gemm_f32(rows, width, cg, 1.0f, pw + g * cg * rows, 1, rows, px + (b * c + g * cg) * I + j0, I, 1, 0.0f,
                 col.data(), width);
        col2im_add(col.data(), mg, grid, j0, j1, py + (b * m + g * mg) * O, true);
      }
}

VDRT_CPU_KERNEL_IF("", "ConvTranspose", with_half_float(conv_transpose_kernel), f32_or_half());

}  // namespace
}  // namespace vdrt::cpu
