// vdrt.PBSAttention and vdrt.HSAttention: block-sparse self-attention of an
// autoregressive video model over its KV cache (docs/vdrt_ops.md,
// /work/shared/ALGORITHMS.md). Inputs as vdrt.Attention:
//
//   query [B, S, H, D], key [B, S_k, H_kv, D], value [B, S_k, H_kv, D_v]
//   (this chunk's tokens), optional past_key / past_value [B, T, H_kv, D].
//
// The cache normally comes from runtime state the rollout binds to the node
// (kernels/sparse_kv_state.h), and past_* are then bound empty; without
// that state (vdrt run, golden tests) the past inputs are read as the local
// window. Output [B, S, H, D_v]. S must be whole frames of frame_grid.
#include "graph/op_registry.h"
#include "graph/ops/sparse_attention_params.h"

namespace vdrt {
namespace {

InferFn infer_sparse(SparseMethod method) {
  return [method](InferContext& ctx) {
    SparseAttentionParams p;
    try {
      p = SparseAttentionParams::from_attributes(method, ctx.attrs());
    } catch (const Error& e) {
      ctx.fail(e.reason());
    }
    const char* names[] = {"query", "key", "value", "past_key", "past_value"};
    for (size_t i = 0; i < 5; ++i) {
      if (!ctx.has_input(i)) continue;
      const Shape& s = ctx.input(i).shape;
      if (s.rank_known() && s.rank() != 4)
        ctx.fail(std::string(names[i]) + " must be 4-D [batch, seq, heads, head_dim], got " + s.str());
      DType t = ctx.input(i).dtype;
      if (t != DType::Undefined && t != DType::F32) ctx.fail(std::string(names[i]) + " must be float32");
    }
    if (ctx.has_input(3) != ctx.has_input(4)) ctx.fail("past_key and past_value must be given together");
    const Shape& q = ctx.input(0).shape;
    const Shape& k = ctx.input(1).shape;
    const Shape& v = ctx.input(2).shape;
    if (!q.rank_known()) return ctx.set_output(0, DType::F32, Shape(std::vector<Dim>(4)));
    const int64_t per_frame = p.layout.tokens_per_frame();
    if (q[1].known() && q[1].value() % per_frame != 0)
      ctx.fail("query length " + q[1].str() + " is not a whole number of frames of " + std::to_string(per_frame) +
               " tokens (frame_grid)");
    if (k.rank_known() && q[3].known() && k[3].known() && q[3].value() != k[3].value())
      ctx.fail("query head_dim " + q[3].str() + " differs from key head_dim " + k[3].str());
    if (k.rank_known() && q[2].known() && k[2].known() && (k[2].value() == 0 || q[2].value() % k[2].value() != 0))
      ctx.fail("query heads " + q[2].str() + " are not a multiple of key heads " + k[2].str());
    if (p.num_heads > 0 && q[2].known() && q[2].value() != p.num_heads)
      ctx.fail("num_heads is " + std::to_string(p.num_heads) + " but query has " + q[2].str() + " heads");
    if (ctx.has_input(3) && ctx.input(3).shape.rank_known() && ctx.input(3).shape[1].known() &&
        ctx.input(3).shape[1].value() % per_frame != 0)
      ctx.fail("past_key holds " + ctx.input(3).shape[1].str() + " tokens, not whole frames of " +
               std::to_string(per_frame));
    ctx.set_output(0, DType::F32, Shape({q[0], q[1], q[2], v.rank_known() ? v[3] : Dim()}));
  };
}

const char* kDoc =
    " in [B, S, H, D] layout over this chunk's keys (dense) and the cached blocks the method selects; "
    "the KV cache is runtime state bound by the rollout, or past_key/past_value when none is bound. "
    "See docs/vdrt_ops.md for the attributes.";

VDRT_REGISTER_OP("vdrt", "PBSAttention")
    .inputs(3, 5)
    .outputs(1, 1)
    .set_infer(infer_sparse(SparseMethod::Pbsa))
    .reads_runtime_state()
    .describe(std::string("Persistent block-sparse attention (local window top-k + salient persistent memory)") +
              kDoc);

VDRT_REGISTER_OP("vdrt", "HSAttention")
    .inputs(3, 5)
    .outputs(1, 1)
    .set_infer(infer_sparse(SparseMethod::Hsa))
    .reads_runtime_state()
    .describe(std::string("Hierarchical sparse attention (frame top-F, then block top-B; CAG schedule)") + kDoc);

}  // namespace
}  // namespace vdrt
