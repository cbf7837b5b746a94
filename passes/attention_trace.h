#pragma once
// Tracing attention operands back to the tensors fuse-attention feeds to
// vdrt.Attention, in its [batch, seq, heads, head_dim] layout.
//
// Exporters reach the [B, H, S, D] (or, for K^T, [B, H, D, S]) operands of
// the score MatMul through Transposes, scalar scale multiplies and, in the
// dynamo exporter, a Reshape -> Transpose(0,2,1) -> Reshape sandwich that
// swaps the last two axes of a 4-D tensor. A trace walks back through
// those, tracking which logical axis (B, S, H, D) sits where, and stops at
// the first other producer: that value is the operand, possibly still
// needing a transpose to [B, S, H, D].
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace vdrt {

// Logical axes of an attention operand.
enum AttnAxis : int64_t { kAxisB = 0, kAxisS = 1, kAxisH = 2, kAxisD = 3 };
using Layout = std::vector<int64_t>;  // layout[i] = logical axis at position i
inline const Layout kBSHD = {kAxisB, kAxisS, kAxisH, kAxisD};
inline const Layout kBHSD = {kAxisB, kAxisH, kAxisS, kAxisD};
inline const Layout kBHDS = {kAxisB, kAxisH, kAxisD, kAxisS};

struct TracedOperand {
  Value* base = nullptr;       // where the trace stopped
  Layout layout;               // layout of `base`
  double scale = 1.0;          // product of scalar multiplies walked through
  std::vector<Node*> walked;   // Transposes, sandwiches, scale nodes passed
  // Set when `base` is Concat(past, new) along S with `past` a graph input:
  // the KV cache of MODEL_CONTRACT.md.
  Value* past = nullptr;
  Value* fresh = nullptr;

  // Permutation turning `base` (or past/fresh) into [B, S, H, D]; empty when already there.
  std::vector<int64_t> perm_to_bshd() const;
};

struct TraceOptions {
  bool through_scale = true;  // absorb Mul/Div by scalar constants (q and k only)
};

// Traces `v`, whose layout is `layout`, back to its base. Fails (nullopt,
// `why` set) when a scale multiply has a non-constant factor: the exporter's
// scale has not been folded, and fusing would leave it behind.
std::optional<TracedOperand> trace_operand(const Graph& graph, Value* v, Layout layout, const TraceOptions& options,
                                           std::string* why);

// Splits a traced K or V whose base is Concat(past, fresh) along S, with
// `past` a graph input, into past/fresh. Returns false (leaving the
// operand as is) when the base is not such a Concat.
bool split_cache_concat(const Graph& graph, TracedOperand& op);

// The layer index of a cache input such as "past_key.3" (trailing digits), or -1.
int64_t cache_layer_index(const std::string& name);

// Whether queries and keys come from the same activations (self-attention)
// or different ones (cross-attention): each is traced back through
// everything but projections (MatMul/Gemm with a constant weight); the
// projections' activation inputs, and graph inputs reached without one,
// are its sources. Shared sources mean self-attention.
bool same_source(const Graph& graph, Value* query, Value* key, const Value* ignore = nullptr);

// The sandwich Reshape(Transpose(Reshape(x, [d0*d1, d2, d3]), [0,2,1]), [d0, d1, d3, d2])
// equals Transpose(x, [0,1,3,2]); returns x and the three nodes, or nullopt.
std::optional<std::pair<Value*, std::vector<Node*>>> last_two_axes_swap(const Value* v);

}  // namespace vdrt
