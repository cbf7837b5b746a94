// CPU kernel of vdrt.Attention (graph/ops/vdrt_attention.cpp): dense
// softmax(scale * Q K^T) V in [B, S, H, D] layout over the keys
// [past_key ; key] without concatenating them, grouped-query heads allowed.
//
// One query row at a time: scores for the row, a max-subtracted softmax and
// the weighted sum of values, so memory stays O(keys) per thread whatever
// the cache length.
#include <algorithm>
#include <cmath>
#include <vector>

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include "kernels/cpu/kernel.h"

namespace vdrt::cpu {
namespace {

struct KeySegment {
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t len = 0;
};

void attention_kernel(KernelContext& ctx) {
  const TensorView& q = ctx.in(0);
  const TensorView& k = ctx.in(1);
  const TensorView& v = ctx.in(2);
  const bool has_past = ctx.has(3) && ctx.has(4);
  TensorView& y = ctx.out(0);
  for (const TensorView* t : {&q, &k, &v})
    VDRT_CHECK(t->rank() == 4, "vdrt.Attention inputs must be 4-D [batch, seq, heads, head_dim]");
  const int64_t B = q.dims[0], Sq = q.dims[1], Hq = q.dims[2], D = q.dims[3];
  const int64_t S = k.dims[1], Hk = k.dims[2], Dv = v.dims[3];
  const int64_t T = has_past ? ctx.in(3).dims[1] : 0;
  VDRT_CHECK(k.dims[0] == B && v.dims[0] == B && k.dims[3] == D && v.dims[1] == S && v.dims[2] == Hk,
             "vdrt.Attention: key/value shapes do not fit the query");
  VDRT_CHECK(Hk > 0 && Hq % Hk == 0, "vdrt.Attention: query heads must be a multiple of key heads");
  if (has_past) {
    const TensorView& pk = ctx.in(3);
    const TensorView& pv = ctx.in(4);
    VDRT_CHECK(pk.rank() == 4 && pv.rank() == 4 && pk.dims[0] == B && pk.dims[2] == Hk && pk.dims[3] == D &&
                   pv.dims[0] == B && pv.dims[1] == T && pv.dims[2] == Hk && pv.dims[3] == Dv,
               "vdrt.Attention: past_key/past_value shapes do not fit key/value");
  }
  const float scale = ctx.attrs.get_float("scale");
  const int64_t group = Hq / Hk;
  const float* qd = q.as<float>();
  float* yd = y.as<float>();
  KeySegment segments[2] = {{has_past ? ctx.in(3).as<float>() : nullptr, has_past ? ctx.in(4).as<float>() : nullptr, T},
                            {k.as<float>(), v.as<float>(), S}};
  const int64_t total = T + S;

  tbb::enumerable_thread_specific<std::vector<float>> scratch([&] { return std::vector<float>(total); });
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, B * Sq * Hq), [&](const tbb::blocked_range<int64_t>& r) {
    std::vector<float>& p = scratch.local();
    for (int64_t row = r.begin(); row < r.end(); ++row) {
      const int64_t h = row % Hq, i = (row / Hq) % Sq, b = row / (Hq * Sq);
      const int64_t kh = h / group;
      const float* qrow = qd + ((b * Sq + i) * Hq + h) * D;
      float* out = yd + ((b * Sq + i) * Hq + h) * Dv;
      std::fill(out, out + Dv, 0.0f);
      if (total == 0) continue;
      float m = -INFINITY;
      int64_t j = 0;
      for (const KeySegment& seg : segments)
        for (int64_t t = 0; t < seg.len; ++t, ++j) {
          const float* krow = seg.k + ((b * seg.len + t) * Hk + kh) * D;
          float dot = 0.0f;
          for (int64_t d = 0; d < D; ++d) dot += qrow[d] * krow[d];
          p[j] = dot * scale;
          m = std::max(m, p[j]);
        }
      float sum = 0.0f;
      for (int64_t t = 0; t < total; ++t) sum += p[t] = std::exp(p[t] - m);
      const float inv = 1.0f / sum;
      j = 0;
      for (const KeySegment& seg : segments)
        for (int64_t t = 0; t < seg.len; ++t, ++j) {
          const float* vrow = seg.v + ((b * seg.len + t) * Hk + kh) * Dv;
          const float w = p[j] * inv;
          for (int64_t d = 0; d < Dv; ++d) out[d] += w * vrow[d];
        }
    }
  });
}

VDRT_CPU_KERNEL_IF("vdrt", "Attention", attention_kernel, float32_only());

}  // namespace
}  // namespace vdrt::cpu
