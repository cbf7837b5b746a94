// CPU kernel of vdrt.MulAdd (graph/ops/vdrt_muladd.cpp): Y = A * (B + offset) + C
// in float32, broadcast like the Add and Mul it replaces. The broadcast loop
// hands out runs along the innermost dim where each operand is contiguous or
// one repeated value; one inner loop per combination keeps every case a
// plain loop the compiler vectorises (adaLN's scale, shift and gate are
// [B, 1, D] rows, contiguous along D, so the all-contiguous loop is the hot one).
// Memory-bound: baseline SSE vectors already keep up with the loads.
#include "kernels/cpu/binary_loop.h"

namespace vdrt::cpu {
namespace {

// One run of n outputs; SA/SB/SC: whether A/B/C advance (else one value).
template <bool SA, bool SB, bool SC>
void muladd_run(const float* a, const float* b, const float* c, float* y, int64_t n, float k) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[SA ? i : 0] * (b[SB ? i : 0] + k) + c[SC ? i : 0];
}

using RunFn = void (*)(const float*, const float*, const float*, float*, int64_t, float);
constexpr RunFn kRuns[8] = {muladd_run<false, false, false>, muladd_run<false, false, true>,
                            muladd_run<false, true, false>,  muladd_run<false, true, true>,
                            muladd_run<true, false, false>,  muladd_run<true, false, true>,
                            muladd_run<true, true, false>,   muladd_run<true, true, true>};

void muladd_kernel(KernelContext& ctx) {
  const TensorView &a = ctx.in(0), &b = ctx.in(1), &c = ctx.in(2);
  TensorView& y = ctx.out(0);
  const float k = ctx.attrs.get_float("offset", 0.0f);
  const float *pa = a.as<float>(), *pb = b.as<float>(), *pc = c.as<float>();
  float* py = y.as<float>();
  const BroadcastPlan plan = make_broadcast_plan(y.dims, {a.dims, b.dims, c.dims});
  for_each_broadcast_run<3>(plan, kElementwiseGrain,
                            [&](int64_t o, int64_t n, const std::array<int64_t, 3>& off,
                                const std::array<int64_t, 3>& s) {
                              kRuns[(s[0] ? 4 : 0) | (s[1] ? 2 : 0) | (s[2] ? 1 : 0)](
                                  pa + off[0], pb + off[1], pc + off[2], py + o, n, k);
                            });
}

}  // namespace

VDRT_CPU_KERNEL_IF("vdrt", "MulAdd", muladd_kernel, dtypes_in({DType::F32}));

}  // namespace vdrt::cpu
