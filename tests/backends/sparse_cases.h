#pragma once
// What the sparse-attention device tests (parity_sparse_attention_test,
// sparse_coopmat_test) share: one case, the makers of its block layout, the
// graph of one vdrt.PBSAttention / vdrt.HSAttention node, and the error measure.
#include <cstdint>
#include <memory>
#include <string>

#include "graph/graph.h"
#include "graph/ops/sparse_attention_params.h"
#include "graph/tensor.h"

namespace vdrt::test {

struct SparseCase {
  std::string name;
  SparseAttentionParams params;
  // past_frames < 0: empty past inputs [B, 0, Hkv, D] (a bound cache fills them).
  int64_t b = 1, frames = 1, past_frames = 3, hq = 2, hkv = 1, d = 16;
  int64_t dv = 0;       // the value head dim; 0: d
  bool past = true;     // false: no past inputs at all
  bool sparse = true;   // the selection drops blocks (checked against dense attention)

  int64_t value_dim() const { return dv > 0 ? dv : d; }
};

// 2-D tiles of tile_h x tile_w over a grid_h x grid_w frame; a window of 6
// frames, HSA with one sink frame.
SparseAttentionParams tiles(SparseMethod m, int64_t grid_h, int64_t grid_w, int64_t tile_h, int64_t tile_w);
// The same with 1-D blocks of `block` tokens.
SparseAttentionParams tokens(SparseMethod m, int64_t grid_h, int64_t grid_w, int64_t block);

// One sparse node (or, `dense`, vdrt.Attention) over [B, S, H, D] inputs
// q, k, v and, where c.past, past_k and past_v; shapes inferred.
std::unique_ptr<Graph> build(const SparseCase& c, bool dense = false);

// max |got - want| / max(1, max |want|); a NaN anywhere in got counts as the worst.
double max_rel_diff(const Tensor& got, const Tensor& want);

}  // namespace vdrt::test
