// vdrt.Attention: the one attention op every exporter's spelling is fused
// into (passes/fuse_attention.cpp); docs/vdrt_ops.md documents it.
//
//   Y = softmax(scale * Q K^T) V, per batch and head, in [B, S, H, D] layout,
//   where K and V are [past_key ; key] and [past_value ; value] along S.
//
// The KV cache inputs stay separate (rather than a Concat in front) so that
// the runtime and the sparse-attention rewrites can see, and replace, the
// cache: kv_cache_layer says which layer's cache they are.
#include "graph/op_registry.h"

namespace vdrt {
namespace {

void check_rank4(InferContext& ctx, size_t i, const char* what) {
  const Shape& s = ctx.input(i).shape;
  if (s.rank_known() && s.rank() != 4)
    ctx.fail(std::string(what) + " must be 4-D [batch, seq, heads, head_dim], got " + s.str());
}

bool both_known_differ(const Dim& a, const Dim& b) { return a.known() && b.known() && a.value() != b.value(); }

void infer_attention(InferContext& ctx) {
  const char* names[] = {"query", "key", "value", "past_key", "past_value"};
  for (size_t i = 0; i < 5; ++i)
    if (ctx.has_input(i)) check_rank4(ctx, i, names[i]);
  if (ctx.has_input(3) != ctx.has_input(4)) ctx.fail("past_key and past_value must be given together");
  if (ctx.has_input(5)) {
    const ValueInfo& m = ctx.input(5);
    if (m.shape.rank_known() && (m.shape.rank() < 1 || m.shape.rank() > 4))
      ctx.fail("mask must have rank 1 to 4 [B, H, S_q, S_kv], got " + m.shape.str());
    if (m.dtype != DType::Undefined && ctx.input(0).dtype != DType::Undefined && m.dtype != ctx.input(0).dtype)
      ctx.fail(std::string("mask has dtype ") + dtype_name(m.dtype) + ", query has " + dtype_name(ctx.input(0).dtype));
  }
  const ValueInfo& q = ctx.input(0);
  const ValueInfo& k = ctx.input(1);
  const ValueInfo& v = ctx.input(2);
  if (!is_float(q.dtype) && q.dtype != DType::Undefined) ctx.fail("query must be a float tensor");
  for (size_t i = 1; i < 5; ++i)
    if (ctx.has_input(i) && ctx.input(i).dtype != q.dtype && ctx.input(i).dtype != DType::Undefined &&
        q.dtype != DType::Undefined)
      ctx.fail(std::string(names[i]) + " has dtype " + dtype_name(ctx.input(i).dtype) + ", query has " +
               dtype_name(q.dtype));
  float scale = ctx.attrs().get_float("scale", 0.0f);
  if (!(scale > 0.0f)) ctx.fail("scale must be a positive float");
  if (!q.shape.rank_known()) return ctx.set_output(0, q.dtype, Shape(std::vector<Dim>(4)));
  Dim dv = v.shape.rank_known() ? v.shape[3] : Dim();
  if (k.shape.rank_known()) {
    if (both_known_differ(q.shape[3], k.shape[3]))
      ctx.fail("query head_dim " + q.shape[3].str() + " differs from key head_dim " + k.shape[3].str());
    if (q.shape[2].known() && k.shape[2].known() && k.shape[2].value() > 0 &&
        q.shape[2].value() % k.shape[2].value() != 0)
      ctx.fail("query heads " + q.shape[2].str() + " are not a multiple of key heads " + k.shape[2].str());
    if (v.shape.rank_known() && both_known_differ(k.shape[1], v.shape[1]))
      ctx.fail("key length " + k.shape[1].str() + " differs from value length " + v.shape[1].str());
  }
  if (ctx.has_input(3) && ctx.input(3).shape.rank_known() && ctx.input(4).shape.rank_known() &&
      both_known_differ(ctx.input(3).shape[1], ctx.input(4).shape[1]))
    ctx.fail("past_key length differs from past_value length");
  int64_t heads = ctx.attrs().get_int("num_heads", 0);
  if (heads > 0 && q.shape[2].known() && q.shape[2].value() != heads)
    ctx.fail("num_heads is " + std::to_string(heads) + " but query has " + q.shape[2].str() + " heads");
  ctx.set_output(0, q.dtype, Shape({q.shape[0], q.shape[1], q.shape[2], dv}));
}

VDRT_REGISTER_OP("vdrt", "Attention")
    .inputs(3, 6)
    .outputs(1, 1)
    .set_infer(infer_attention)
    .describe("softmax(scale * Q K^T) V in [B, S, H, D] layout; optional past_key/past_value (the KV cache) "
              "are prepended to key/value along S; optional mask is added to the scores [B, H, S_q, S_kv]. Attributes: scale, num_heads, kv_num_heads, "
              "kv_cache_layer, kind, source.");

}  // namespace
}  // namespace vdrt
