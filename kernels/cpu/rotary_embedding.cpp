// CPU kernel of RotaryEmbedding (ONNX opset 23) and vdrt.RotaryEmbedding
// (graph/ops/rotary_embedding.cpp): f32. One head row of H channels at a
// time: its first R are rotated in pairs by the row's cos/sin entries,
// (x[2i], x[2i+1]) when interleaved, else (x[i], x[i + R/2]); the rest are
// copied. Rows are split across threads; position ids out of the cache's
// range are an error.
#include <cstring>

#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

void rotary_kernel(KernelContext& ctx) {
  const TensorView& x = ctx.in(0);
  const TensorView& cos = ctx.in(1);
  const TensorView& sin = ctx.in(2);
  TensorView& y = ctx.out(0);
  VDRT_CHECK(x.rank() == 3 || x.rank() == 4, "RotaryEmbedding needs a 3-D or 4-D X, got " + dims_str(x.dims));
  const bool four = x.rank() == 4;
  const int64_t heads = four ? x.dims[1] : ctx.attrs.get_int("num_heads", 0);
  VDRT_CHECK(heads > 0 && (four || x.dims[2] % heads == 0), "RotaryEmbedding: bad num_heads for " + dims_str(x.dims));
  const int64_t batch = x.dims[0], seq = four ? x.dims[2] : x.dims[1];
  const int64_t head = four ? x.dims[3] : x.dims[2] / heads;
  const int64_t rot = ctx.attrs.get_int("rotary_embedding_dim", 0) ? ctx.attrs.get_int("rotary_embedding_dim", 0) : head;
  const bool interleaved = ctx.attrs.get_int("interleaved", 0) != 0;
  VDRT_CHECK(rot % 2 == 0 && rot <= head, "RotaryEmbedding: rotary_embedding_dim " + std::to_string(rot) +
                                              " must be even and at most the head size " + std::to_string(head));
  const int64_t half = rot / 2;
  VDRT_CHECK(cos.dims == sin.dims && !cos.dims.empty() && cos.dims.back() == half,
             "RotaryEmbedding: cos/sin caches " + dims_str(cos.dims) + ", " + dims_str(sin.dims) + " must end in R/2 = " +
                 std::to_string(half));
  const bool positions = ctx.has(3);
  std::vector<int64_t> pos;
  int64_t cache_rows = 0;
  if (positions) {
    VDRT_CHECK(cos.rank() == 2, "RotaryEmbedding: caches must be 2-D with position_ids");
    VDRT_CHECK(ctx.in(3).numel() == batch * seq, "RotaryEmbedding: position_ids must be [B, S]");
    pos = ctx.in(3).to_int64();
    cache_rows = cos.dims[0];
    for (int64_t p : pos)
      VDRT_CHECK(p >= 0 && p < cache_rows, "RotaryEmbedding: position id " + std::to_string(p) +
                                               " outside the cache's " + std::to_string(cache_rows) + " rows");
  } else {
    VDRT_CHECK(cos.rank() == 3 && cos.dims[0] == batch && cos.dims[1] == seq,
               "RotaryEmbedding: caches must be [B, S, R/2] without position_ids, got " + dims_str(cos.dims));
  }
  const float* xs = x.as<float>();
  const float* cs = cos.as<float>();
  const float* ss = sin.as<float>();
  float* ys = y.as<float>();
  const int64_t rows = batch * seq * heads;
  parallel_rows(rows, head * 4, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      // Row r is (b, n, s) for 4-D X, (b, s, n) for 3-D.
      const int64_t bs = four ? (r / (heads * seq)) * seq + r % seq : r / heads;
      const int64_t c_row = positions ? pos[bs] : bs;
      const float* c = cs + c_row * half;
      const float* s = ss + c_row * half;
      const float* in = xs + r * head;
      float* out = ys + r * head;
      const int64_t step = interleaved ? 2 : 1, second = interleaved ? 1 : half;
      for (int64_t i = 0; i < half; ++i) {
        const float x1 = in[i * step], x2 = in[i * step + second];
        out[i * step] = c[i] * x1 - s[i] * x2;
        out[i * step + second] = s[i] * x1 + c[i] * x2;
      }
      if (head > rot) std::memcpy(out + rot, in + rot, static_cast<size_t>(head - rot) * 4);
    }
  });
}

bool rotary_supports(const AttributeMap&, const std::vector<DType>& dts, int64_t) {
  if (dts.size() < 3) return false;
  for (size_t i = 0; i < 3; ++i)
    if (dts[i] != DType::F32) return false;
  return dts.size() < 4 || dts[3] == DType::Undefined || dts[3] == DType::I64;
}

}  // namespace

VDRT_CPU_KERNEL_IF("", "RotaryEmbedding", rotary_kernel, rotary_supports);
VDRT_CPU_KERNEL_IF("vdrt", "RotaryEmbedding", rotary_kernel, rotary_supports);

}  // namespace vdrt::cpu
