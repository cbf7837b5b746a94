// CPU kernel of Trilu: each matrix row is a copy of the input row with a
// prefix or suffix zeroed, so it is one memcpy and one memset per row.
#include <algorithm>

#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

void trilu_kernel(KernelContext& ctx) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  VDRT_CHECK(in.rank() >= 2, "Trilu needs rank >= 2, got " + dims_str(in.dims));
  const bool upper = ctx.attrs.get_int("upper", 1) != 0;
  int64_t k = 0;
  if (ctx.has(1)) {
    VDRT_CHECK(ctx.in(1).numel() == 1, "Trilu k must be a scalar");
    k = ctx.in(1).to_int64()[0];
  }
  const int64_t n = in.dims[in.rank() - 2], m = in.dims[in.rank() - 1];
  const int64_t rows = in.numel() / std::max<int64_t>(m, 1);
  if (in.numel() == 0) return;
  // Clamp k so that i + k below cannot overflow.
  k = std::clamp<int64_t>(k, -n - 1, m + 1);
  const size_t es = dtype_size(in.dtype);
  const auto* src = static_cast<const uint8_t*>(in.data);
  auto* dst = static_cast<uint8_t*>(out.data);
  parallel_rows(rows, m * static_cast<int64_t>(es), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      const int64_t i = row % n;
      // Kept columns: upper j >= i + k, lower j <= i + k.
      const int64_t keep_lo = upper ? std::clamp<int64_t>(i + k, 0, m) : 0;
      const int64_t keep_hi = upper ? m : std::clamp<int64_t>(i + k + 1, 0, m);
      uint8_t* d = dst + row * m * static_cast<int64_t>(es);
      const uint8_t* s = src + row * m * static_cast<int64_t>(es);
      std::memset(d, 0, static_cast<size_t>(keep_lo) * es);
      if (keep_hi > keep_lo) std::memcpy(d + keep_lo * es, s + keep_lo * es, static_cast<size_t>(keep_hi - keep_lo) * es);
      std::memset(d + keep_hi * es, 0, static_cast<size_t>(m - keep_hi) * es);
    }
  });
}

}  // namespace

VDRT_CPU_KERNEL("", "Trilu", trilu_kernel);

}  // namespace vdrt::cpu
