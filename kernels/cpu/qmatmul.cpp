// vdrt.QMatMul on the CPU: A [..., K] f32 folds its leading dims into M and
// runs one float8-weight GEMM (qgemm_f8.cpp); a folded GELU and residual
// (fuse-gemm-epilogue) follow as the fused GEMM's epilogue, in one pass over
// the rows (gemm.h).
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/qgemm_f8.h"

namespace vdrt::cpu {
namespace {

void qmatmul_kernel(KernelContext& ctx) {
  const TensorView &a = ctx.in(0), &w = ctx.in(1), &s = ctx.in(2);
  TensorView& y = ctx.out(0);
  VDRT_CHECK(a.dtype == DType::F32 && w.dtype == DType::F8E4M3 && s.dtype == DType::F32,
             std::string("vdrt.QMatMul takes f32 A, f8e4m3 W and f32 scale, got ") + dtype_name(a.dtype) + ", " +
                 dtype_name(w.dtype) + ", " + dtype_name(s.dtype));
  VDRT_CHECK(a.rank() >= 1 && w.rank() == 2, "vdrt.QMatMul needs A [..., K] and W [K, N]");
  const int64_t K = w.dims[0], N = w.dims[1];
  VDRT_CHECK(a.dims.back() == K, "vdrt.QMatMul: A's last dim " + std::to_string(a.dims.back()) + " is not W's K " +
                                     std::to_string(K));
  VDRT_CHECK(s.numel() == N, "vdrt.QMatMul: scale has " + std::to_string(s.numel()) + " entries, W has N = " +
                                 std::to_string(N));
  const float* bias = nullptr;
  if (ctx.has(3)) {
    const TensorView& b = ctx.in(3);
    VDRT_CHECK(b.dtype == DType::F32 && b.numel() == N, "vdrt.QMatMul: bias must be f32 [N]");
    bias = b.as<float>();
  }
  const std::string act = ctx.attrs.get_string("act_quant", "none");
  VDRT_CHECK(act == "none" || act == "per_token_e4m3", "vdrt.QMatMul: unknown act_quant \"" + act + "\"");
  GemmEpilogue e;  // the bias is the float8 GEMM's own
  e.activation = gemm_activation(ctx.attrs.get_string("activation", "none"), "vdrt.QMatMul");
  if (ctx.has(4)) {
    const TensorView& r = ctx.in(4);
    VDRT_CHECK(r.dtype == DType::F32 && r.numel() == y.numel(), "vdrt.QMatMul: residual must be f32 of Y's shape");
    e.residual = r.as<float>();
    e.residual_ld = N;
  }
  const int64_t M = K > 0 ? a.numel() / K : y.numel() / std::max<int64_t>(N, 1);
  qmatmul_f8e4m3(M, N, K, a.as<float>(), static_cast<const uint8_t*>(w.data), s.as<float>(), bias,
                 act == "per_token_e4m3", y.as<float>());
  apply_gemm_epilogue(M, N, y.as<float>(), N, e);
}

}  // namespace

VDRT_CPU_KERNEL_IF("vdrt", "QMatMul", qmatmul_kernel, dtypes_in({DType::F32, DType::F8E4M3}));

}  // namespace vdrt::cpu
