#pragma once
// Shared by the sparse-attention tests (kernels, runtime): running
// vdrt.PBSAttention / vdrt.HSAttention on host tensors with an optional
// bound KV-cache state, and an independent float64 dense attention.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "graph/graph.h"
#include "graph/op_registry.h"
#include "graph/ops/sparse_attention_params.h"
#include "graph/tensor.h"
#include "kernels/cpu/kernel.h"

namespace vdrt::test {

// Runs the op through its shape function and CPU kernel. `past_k`/`past_v`
// may be undefined (absent inputs).
inline Tensor run_sparse_op(SparseMethod method, const SparseAttentionParams& p, const Tensor& q, const Tensor& k,
                            const Tensor& v, const Tensor& past_k = {}, const Tensor& past_v = {},
                            OpState* state = nullptr) {
  Graph g;
  std::vector<const Tensor*> in = {&q, &k, &v};
  if (past_k.defined()) in.insert(in.end(), {&past_k, &past_v});
  std::vector<Value*> values;
  std::vector<ValueInfo> infos;
  for (size_t i = 0; i < in.size(); ++i) {
    Value* val = g.value("in" + std::to_string(i));
    val->set_dtype(in[i]->dtype());
    val->set_shape(Shape::from(in[i]->dims()));
    values.push_back(val);
    infos.push_back(ValueInfo{in[i]->dtype(), Shape::from(in[i]->dims()), nullptr, true});
  }
  Node* node = g.add_node(sparse_method_op(method), values, {g.value("y")}, "sparse", "vdrt");
  SparseAttentionParams params = p;
  params.method = method;
  params.to_attributes(node->attrs());
  std::vector<ValueInfo> outs = infer_node(*node, infos, 1);
  Tensor y(DType::F32, outs[0].shape.concrete());
  const cpu::Kernel* kernel = cpu::KernelRegistry::instance().find("vdrt", sparse_method_op(method));
  if (!kernel) throw Error("no CPU kernel");
  cpu::KernelContext ctx{node->attrs(), 1, {}, {}};
  for (const Tensor* t : in) ctx.inputs.push_back(cpu::TensorView{t->dtype(), t->dims(), const_cast<void*>(t->raw())});
  ctx.outputs.push_back(cpu::TensorView{y.dtype(), y.dims(), y.raw()});
  ctx.state = state;
  kernel->run(ctx);
  return y;
}

inline Tensor random_tensor(std::vector<int64_t> dims, std::mt19937& rng, float stddev = 1.0f) {
  Tensor t(DType::F32, std::move(dims));
  std::normal_distribution<float> dist(0.0f, stddev);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// softmax(scale * Q [K_past ; K]^T) [V_past ; V] in float64, [B, S, H, D]
// layout, grouped-query heads; past may be undefined.
inline std::vector<double> dense_attention_f64(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& pk,
                                               const Tensor& pv, double scale) {
  const int64_t B = q.dims()[0], S = q.dims()[1], Hq = q.dims()[2], D = q.dims()[3];
  const int64_t Sk = k.dims()[1], Hk = k.dims()[2], Dv = v.dims()[3];
  const int64_t T = pk.defined() ? pk.dims()[1] : 0;
  const float* qd = q.data<float>();
  auto key = [&](int64_t b, int64_t j, int64_t h) -> const float* {
    return j < T ? pk.data<float>() + ((b * T + j) * Hk + h) * D : k.data<float>() + ((b * Sk + j - T) * Hk + h) * D;
  };
  auto val = [&](int64_t b, int64_t j, int64_t h) -> const float* {
    return j < T ? pv.data<float>() + ((b * T + j) * Hk + h) * Dv : v.data<float>() + ((b * Sk + j - T) * Hk + h) * Dv;
  };
  std::vector<double> out(static_cast<size_t>(B * S * Hq * Dv), 0.0);
  std::vector<double> s(static_cast<size_t>(T + Sk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < S; ++i)
      for (int64_t h = 0; h < Hq; ++h) {
        const int64_t kh = h / (Hq / Hk);
        double m = -INFINITY;
        for (int64_t j = 0; j < T + Sk; ++j) {
          double acc = 0;
          const float* kr = key(b, j, kh);
          for (int64_t d = 0; d < D; ++d) acc += static_cast<double>(qd[((b * S + i) * Hq + h) * D + d]) * kr[d];
          s[j] = acc * scale;
          m = std::max(m, s[j]);
        }
        double sum = 0;
        for (double& x : s) sum += x = std::exp(x - m);
        double* o = out.data() + ((b * S + i) * Hq + h) * Dv;
        for (int64_t j = 0; j < T + Sk; ++j) {
          const float* vr = val(b, j, kh);
          for (int64_t c = 0; c < Dv; ++c) o[c] += s[j] / sum * vr[c];
        }
      }
  return out;
}

inline double max_abs_error(const Tensor& y, const std::vector<double>& ref) {
  EXPECT_EQ(static_cast<size_t>(y.numel()), ref.size());
  double e = 0;
  for (size_t i = 0; i < ref.size(); ++i) e = std::max(e, std::abs(y.data<float>()[i] - ref[i]));
  return e;
}

inline double relative_error(const Tensor& y, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = y.data<float>()[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / den);
}

// [B, T1, ...] ++ [B, T2, ...] along the token axis.
inline Tensor concat_tokens_t(const Tensor& a, const Tensor& b) {
  if (!a.defined() || a.dims()[1] == 0) return b.clone();
  std::vector<int64_t> dims = a.dims();
  dims[1] += b.dims()[1];
  Tensor out(DType::F32, dims);
  const int64_t row_a = a.numel() / a.dims()[0], row_b = b.numel() / b.dims()[0];
  for (int64_t n = 0; n < dims[0]; ++n) {
    std::copy_n(a.data<float>() + n * row_a, row_a, out.data<float>() + n * (row_a + row_b));
    std::copy_n(b.data<float>() + n * row_b, row_b, out.data<float>() + n * (row_a + row_b) + row_a);
  }
  return out;
}

inline SparseAttentionParams sparse_params(SparseMethod method, int64_t grid_h, int64_t grid_w, int64_t tile_h,
                                           int64_t tile_w, float scale) {
  SparseAttentionParams p;
  p.method = method;
  p.scale = scale;
  p.layout = BlockLayout{grid_h, grid_w, tile_h, tile_w};
  p.window_frames = 1000;
  p.sink_frames = method == SparseMethod::Hsa ? 1 : 0;
  return p;
}

}  // namespace vdrt::test
