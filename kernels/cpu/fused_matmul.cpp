// CPU kernel of vdrt.FusedMatMul (graph/ops/vdrt_fused_matmul.cpp):
// act(X W + bias) + residual on the shared GEMM core, whose epilogue applies
// bias, activation and residual to each output tile right after its last K
// block, while the tile is in L1, and writes split outputs in place (no copy
// of a fused Q/K/V product into q, k and v). float32 only.
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/kernel.h"

namespace vdrt::cpu {
namespace {

void fused_matmul_kernel(KernelContext& ctx) {
  const TensorView &x = ctx.in(0), &w = ctx.in(1);
  VDRT_CHECK(w.rank() == 2 && x.rank() >= 1, "vdrt.FusedMatMul needs X [..., K] and W [K, N]");
  const int64_t K = w.dims[0], N = w.dims[1];
  VDRT_CHECK(x.dims.back() == K, "vdrt.FusedMatMul inner dimensions differ");
  const int64_t M = K > 0 ? x.numel() / K : 0;

  GemmEpilogue e;
  e.activation = gemm_activation(ctx.attrs.get_string("activation", "none"), "vdrt.FusedMatMul");
  if (ctx.has(2)) {
    VDRT_CHECK(ctx.in(2).numel() == N, "vdrt.FusedMatMul bias must hold N values");
    e.bias = ctx.in(2).as<float>();
  }
  if (ctx.has(3)) {
    VDRT_CHECK(ctx.in(3).numel() == M * N, "vdrt.FusedMatMul residual must have the product's shape");
    e.residual = ctx.in(3).as<float>();
    e.residual_ld = N;
  }
  std::vector<GemmColumns> outputs;
  int64_t begin = 0;
  for (size_t i = 0; i < ctx.outputs.size(); ++i) {
    TensorView& y = ctx.out(i);
    const int64_t width = y.dims.empty() ? 1 : y.dims.back();
    outputs.push_back(GemmColumns{begin, width, y.as<float>(), width});
    begin += width;
  }
  VDRT_CHECK(begin == N, "vdrt.FusedMatMul outputs hold " + std::to_string(begin) + " of " + std::to_string(N) +
                             " columns");
  if (M == 0 || N == 0) return;
  gemm_f32_epilogue(M, N, K, x.as<float>(), K, 1, w.as<float>(), N, 1, outputs, e);
}

}  // namespace

VDRT_CPU_KERNEL_IF("vdrt", "FusedMatMul", fused_matmul_kernel, dtypes_in({DType::F32}));

}  // namespace vdrt::cpu
