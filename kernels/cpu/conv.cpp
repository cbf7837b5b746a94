// Conv (1-D, 2-D, 3-D, any group) lowered to the GEMM core:
//   Y[n, group g] (M/g x O) = W_g (M/g x C/g*taps) * col (C/g*taps x O)
// with col from im2col, built in column blocks that bound its memory (a 3-D
// VAE layer would otherwise need gigabytes). Pointwise convolutions (1x1,
// stride 1, no padding) skip im2col: the input already is the column matrix.
// Y is pre-filled with the bias and the GEMM accumulates onto it. With
// enough (image, group, column block) tasks they run in parallel, each with
// a serial im2col + GEMM on its own cache-sized block; otherwise one at a
// time with a parallel im2col and GEMM.
#include <algorithm>
#include <string>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "graph/ops/conv_params.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/half_float.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/kernel.h"

namespace vdrt::cpu {
namespace {

// im2col column blocks: about half an L2 (512 KB) so that the GEMM packs
// them from cache right after im2col wrote them (for few output channels
// that packing is as costly as the multiply), but at least 256 columns so
// each block amortises packing the weights.
constexpr int64_t kColBlockFloats = int64_t(1) << 17;
constexpr int64_t kMinBlockColumns = 256;

struct ConvProblem {
  int64_t n, c, m, group, cg, mg;
  ConvGrid grid;
  bool pointwise;
};

ConvProblem conv_problem(const KernelContext& ctx) {
  const TensorView &x = ctx.in(0), &w = ctx.in(1);
  VDRT_CHECK(x.rank() >= 3 && w.rank() == x.rank(), "Conv needs X [N, C, D...] and W [M, C/group, K...] of equal rank");
  ConvProblem p;
  p.n = x.dims[0], p.c = x.dims[1], p.m = w.dims[0];
  p.group = ctx.attrs.get_int("group", 1);
  VDRT_CHECK(p.group >= 1 && p.c % p.group == 0 && p.m % p.group == 0 && w.dims[1] * p.group == p.c,
             "Conv channels do not fit: X has " + std::to_string(p.c) + ", W is " + dims_str(w.dims) + ", group " +
                 std::to_string(p.group));
  p.cg = p.c / p.group, p.mg = p.m / p.group;
  const std::vector<int64_t> in(x.dims.begin() + 2, x.dims.end()), k(w.dims.begin() + 2, w.dims.end());
  const std::vector<ConvAxis> axes = conv_axes(ctx.attrs, in, k);
  p.grid.image = in;
  p.pointwise = true;
  for (const ConvAxis& a : axes) {
    p.grid.grid.push_back(a.out);
    p.grid.kernel.push_back(a.kernel);
    p.grid.stride.push_back(a.stride);
    p.grid.dilation.push_back(a.dilation);
    p.grid.pad_begin.push_back(a.pad_begin);
    p.pointwise = p.pointwise && a.kernel == 1 && a.stride == 1 && a.pad_begin == 0 && a.pad_end == 0;
  }
  return p;
}

void conv_kernel(KernelContext& ctx) {
  const TensorView &x = ctx.in(0), &w = ctx.in(1);
  VDRT_CHECK(x.dtype == DType::F32 && w.dtype == DType::F32, "Conv supports f32 (and f16/bf16)");
  const ConvProblem p = conv_problem(ctx);
  TensorView& y = ctx.out(0);
  const int64_t O = p.grid.grid_size(), I = p.grid.image_size(), K = p.cg * p.grid.taps();
  VDRT_CHECK(y.numel() == p.n * p.m * O, "Conv output shape " + dims_str(y.dims) + " does not fit the input");
  const float* px = static_cast<const float*>(x.data);
  const float* pw = static_cast<const float*>(w.data);
  float* py = static_cast<float*>(y.data);
  if (y.numel() == 0) return;

  if (ctx.has(2)) {
    const TensorView& b = ctx.in(2);
    VDRT_CHECK(b.dtype == DType::F32 && b.numel() == p.m, "Conv bias must hold one f32 per output channel");
    const float* pb = static_cast<const float*>(b.data);
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, p.n * p.m), [&](const tbb::blocked_range<int64_t>& r) {
      for (int64_t i = r.begin(); i < r.end(); ++i) std::fill(py + i * O, py + (i + 1) * O, pb[i % p.m]);
    });
  }
  const float beta = ctx.has(2) ? 1.0f : 0.0f;
  const int64_t block =
      p.pointwise ? O : std::min(O, (std::max(kMinBlockColumns, kColBlockFloats / std::max<int64_t>(K, 1)) + 31) / 32 * 32);
  const int64_t blocks = (O + block - 1) / block;
  const int64_t pairs = p.n * p.group;

  // Each group's weights are packed once and shared by all its tasks.
  std::vector<PackedA> weights(static_cast<size_t>(p.group));
  tbb::parallel_for(int64_t(0), p.group, [&](int64_t g) { pack_a_f32(weights[g], p.mg, K, pw + g * p.mg * K, K, 1); });

  // One (image, group, column block) task.
  auto task = [&](int64_t n, int64_t g, int64_t j0, bool parallel, std::vector<float>& col) {
    const int64_t j1 = std::min(O, j0 + block);
    const float* image = px + (n * p.c + g * p.cg) * I;
    float* c = py + (n * p.m + g * p.mg) * O + j0;
    GemmOptions o;
    o.parallel = parallel;
    if (p.pointwise) {
      gemm_f32_packed(weights[g], j1 - j0, 1.0f, image + j0, O, 1, beta, c, O, o);
      return;
    }
    col.resize(static_cast<size_t>(K * (j1 - j0)));
    im2col(image, p.cg, p.grid, j0, j1, col.data(), parallel);
    gemm_f32_packed(weights[g], j1 - j0, 1.0f, col.data(), j1 - j0, 1, beta, c, O, o);
  };
  const int64_t threads = tbb::this_task_arena::max_concurrency();
  // Enough blocks: each task keeps its block in its own core's cache.
  if (pairs * blocks >= 2 * threads) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, pairs * blocks), [&](const tbb::blocked_range<int64_t>& r) {
      std::vector<float> col;
      for (int64_t t = r.begin(); t < r.end(); ++t) {
        const int64_t pair = t / blocks;
        task(pair / p.group, pair % p.group, (t % blocks) * block, false, col);
      }
    });
    return;
  }
  std::vector<float> col;
  for (int64_t pair = 0; pair < pairs; ++pair)
    for (int64_t b = 0; b < blocks; ++b) task(pair / p.group, pair % p.group, b * block, true, col);
}

VDRT_CPU_KERNEL_IF("", "Conv", with_half_float(conv_kernel), f32_or_half());

}  // namespace
}  // namespace vdrt::cpu
