// MatMul (numpy semantics) and Gemm on the shared f32 GEMM core (MatMul of
// f64 or integers takes a plain loop). MatMul
// folds A's batch dims into M when B is a plain matrix (the Linear-layer
// case: one big GEMM instead of many small ones); otherwise it runs one GEMM
// per broadcast batch index, in parallel over batches when each is small.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <type_traits>

#include "kernels/cpu/binary_loop.h"
#include "kernels/cpu/dtype_dispatch.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/half_float.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/wrapping.h"

namespace vdrt::cpu {
namespace {

// Below this many multiply-adds per batch, batches run in parallel with a
// serial GEMM each; above, the GEMM itself is parallel.
constexpr int64_t kSmallBatchFlops = int64_t(1) << 23;

// Flat offset of batch `t` (over `out_batch`) in an operand with batch dims
// `batch` (right-aligned, broadcast) and `mat` elements per matrix.
int64_t batch_offset(int64_t t, const std::vector<int64_t>& out_batch, const std::vector<int64_t>& batch, int64_t mat) {
  int64_t off = 0, stride = mat;
  for (size_t j = 0; j < out_batch.size(); ++j) {
    const size_t o = out_batch.size() - 1 - j;
    const int64_t c = t % out_batch[o];
    t /= out_batch[o];
    if (j < batch.size()) {
      const size_t d = batch.size() - 1 - j;
      if (batch[d] != 1) off += c * stride;
      stride *= batch[d];
    }
  }
  return off;
}

// Other numeric dtypes (f64, integers): a plain triple loop per batch,
// accumulating in double or int64 (integers wrap like ONNX Runtime's).
void matmul_generic(const TensorView& a, const TensorView& b, TensorView& y, int64_t M, int64_t N, int64_t K,
                    const std::vector<int64_t>& ob, const std::vector<int64_t>& ab, const std::vector<int64_t>& bb) {
  dispatch_numeric(a.dtype, "MatMul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    const T* pa = static_cast<const T*>(a.data);
    const T* pb = static_cast<const T*>(b.data);
    T* py = static_cast<T*>(y.data);
    const int64_t batches = numel(ob);
    tbb::parallel_for(int64_t(0), batches * M, [&](int64_t row) {
      const int64_t t = row / M, i = row % M;
      const T* ar = pa + batch_offset(t, ob, ab, M * K) + i * K;
      const T* bm = pb + batch_offset(t, ob, bb, K * N);
      T* yr = py + t * M * N + i * N;
      for (int64_t j = 0; j < N; ++j) {
        Acc s = 0;
        for (int64_t k = 0; k < K; ++k) s = wrapping_add<Acc>(s, wrapping_mul<Acc>(Acc(ar[k]), Acc(bm[k * N + j])));
        yr[j] = static_cast<T>(s);
      }
    });
  });
}

void matmul_kernel(KernelContext& ctx) {
  const TensorView &a = ctx.in(0), &b = ctx.in(1);
  TensorView& y = ctx.out(0);
  VDRT_CHECK(a.dtype == b.dtype, std::string("MatMul inputs have different dtypes: ") + dtype_name(a.dtype) + " and " +
                                     dtype_name(b.dtype));
  const size_t ra = a.rank(), rb = b.rank();
  const int64_t K = a.dims[ra - 1];
  const int64_t M = ra >= 2 ? a.dims[ra - 2] : 1;
  const int64_t N = rb >= 2 ? b.dims[rb - 1] : 1;
  VDRT_CHECK((rb >= 2 ? b.dims[rb - 2] : b.dims[0]) == K, "MatMul inner dimensions differ");
  std::vector<int64_t> ab(a.dims.begin(), a.dims.end() - std::min<size_t>(ra, 2));
  std::vector<int64_t> bb(b.dims.begin(), b.dims.end() - std::min<size_t>(rb, 2));
  const float* pa = static_cast<const float*>(a.data);
  const float* pb = static_cast<const float*>(b.data);
  float* py = static_cast<float*>(y.data);
  if (y.numel() == 0) return;
  if (a.dtype != DType::F32) {
    matmul_generic(a, b, y, M, N, K, broadcast_dims(ab, bb), ab, bb);
    return;
  }

  // B is a single matrix (or vector): A's batch folds into M.
  if (numel(bb) == 1 && ra >= 2) {
    const int64_t rows = numel(ab) * M;
    gemm_f32(rows, N, K, 1.0f, pa, K, 1, pb, N, 1, 0.0f, py, N);
    return;
  }
  const std::vector<int64_t> ob = broadcast_dims(ab, bb);
  const int64_t batches = numel(ob);
  auto one = [&](int64_t t, bool parallel) {
    GemmOptions o;
    o.parallel = parallel;
    gemm_f32(M, N, K, 1.0f, pa + batch_offset(t, ob, ab, M * K), K, 1, pb + batch_offset(t, ob, bb, K * N), N, 1, 0.0f,
             py + t * M * N, N, o);
  };
  if (batches > 1 && M * N * K < kSmallBatchFlops) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, batches), [&](const tbb::blocked_range<int64_t>& r) {
      for (int64_t t = r.begin(); t < r.end(); ++t) one(t, false);
    });
  } else {
    for (int64_t t = 0; t < batches; ++t) one(t, true);
  }
}

void gemm_kernel(KernelContext& ctx) {
  const TensorView &a = ctx.in(0), &b = ctx.in(1);
  TensorView& y = ctx.out(0);
  VDRT_CHECK(a.dtype == DType::F32 && b.dtype == DType::F32,
             std::string("Gemm supports f32 (and f16/bf16), got ") + dtype_name(a.dtype));
  const bool ta = ctx.attrs.get_int("transA", 0) != 0, tb = ctx.attrs.get_int("transB", 0) != 0;
  const float alpha = ctx.attrs.get_float("alpha", 1.0f), beta = ctx.attrs.get_float("beta", 1.0f);
  const int64_t M = y.dims[0], N = y.dims[1], K = ta ? a.dims[0] : a.dims[1];
  float* py = static_cast<float*>(y.data);
  float gemm_beta = 0.0f;
  if (ctx.has(2) && beta != 0.0f) {
    // Y starts as C broadcast to [M, N]; the GEMM then adds alpha * A * B.
    const TensorView& c = ctx.in(2);
    const float* pc = static_cast<const float*>(c.data);
    binary_loop(pc, c.dims, pc, c.dims, py, y.dims, [](float v, float) { return v; });
    gemm_beta = beta;
  }
  gemm_f32(ta, tb, M, N, K, alpha, static_cast<const float*>(a.data), a.dims[1], static_cast<const float*>(b.data),
           b.dims[1], gemm_beta, py, N);
}

VDRT_CPU_KERNEL("", "MatMul", with_half_float(matmul_kernel));
VDRT_CPU_KERNEL_IF("", "Gemm", with_half_float(gemm_kernel), f32_or_half());

}  // namespace
}  // namespace vdrt::cpu
