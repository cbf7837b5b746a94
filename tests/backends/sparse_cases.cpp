#include "backends/sparse_cases.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "graph/shape_inference.h"
#include "passes/graph_builder.h"

namespace vdrt::test {

SparseAttentionParams tiles(SparseMethod m, int64_t grid_h, int64_t grid_w, int64_t tile_h, int64_t tile_w) {
  SparseAttentionParams p;
  p.method = m;
  p.layout.grid_h = grid_h, p.layout.grid_w = grid_w, p.layout.tile_h = tile_h, p.layout.tile_w = tile_w;
  p.window_frames = 6;
  p.sink_frames = m == SparseMethod::Hsa ? 1 : 0;
  return p;
}

SparseAttentionParams tokens(SparseMethod m, int64_t grid_h, int64_t grid_w, int64_t block) {
  SparseAttentionParams p = tiles(m, grid_h, grid_w, 0, 0);
  p.layout.block_tokens = block;
  return p;
}

std::unique_ptr<Graph> build(const SparseCase& c, bool dense) {
  const SparseAttentionParams& p = c.params;
  const int64_t P = p.layout.tokens_per_frame(), S = c.frames * P, T = std::max<int64_t>(c.past_frames, 0) * P;
  const int64_t dv = c.value_dim();
  GraphBuilder g(18);
  std::vector<Value*> ins{g.input("q", {c.b, S, c.hq, c.d}), g.input("k", {c.b, S, c.hkv, c.d}),
                          g.input("v", {c.b, S, c.hkv, dv})};
  if (c.past) {
    ins.push_back(g.input("past_k", {c.b, T, c.hkv, c.d}));
    ins.push_back(g.input("past_v", {c.b, T, c.hkv, dv}));
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.d));
  AttributeMap a;
  if (dense) {
    a.set("scale", scale);
    g.output(g.op("Attention", ins, a, "vdrt"));
  } else {
    SparseAttentionParams q = p;
    q.scale = scale;
    q.to_attributes(a);
    g.output(g.op(sparse_method_op(p.method), ins, a, "vdrt"));
  }
  std::unique_ptr<Graph> graph = g.take();
  infer_shapes(*graph);
  return graph;
}

double max_rel_diff(const Tensor& got, const Tensor& want) {
  std::vector<double> x = got.as_double(), y = want.as_double();
  double scale = 1, worst = 0;
  for (double w : y) scale = std::max(scale, std::fabs(w));
  for (size_t i = 0; i < x.size(); ++i) {
    const double e = std::fabs(x[i] - y[i]);
    if (!(e <= worst)) worst = e;  // NaN counts as worst
  }
  return worst / scale;
}

}  // namespace vdrt::test
