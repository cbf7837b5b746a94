// Shape function of RotaryEmbedding (ONNX opset 23) and of vdrt.RotaryEmbedding,
// its twin for models of older opsets (fuse-rope emits it there; the
// semantics are the ONNX op's, docs/vdrt_ops.md):
//
//   X [B, N, S, H] (4-D) or [B, S, N*H] (3-D, attribute num_heads), cos_cache and
//   sin_cache [B, S, R/2] or, with position_ids [B, S], [P, R/2]; R = rotary_embedding_dim
//   (0: H). Each head's first R channels are rotated in pairs, (x[2i], x[2i+1])
//   when interleaved = 1, else (x[i], x[i + R/2]); the rest are copied. Y has X's shape.
#include <string>

#include "graph/op_registry.h"

namespace vdrt {
namespace {

std::string dim_str(const Dim& d) { return d.str(); }

// Fails when two known dims differ.
void same_dim(InferContext& ctx, const Dim& a, const Dim& b, const std::string& what) {
  if (a.known() && b.known() && a.value() != b.value())
    ctx.fail(what + ": " + dim_str(a) + " vs " + dim_str(b));
}

void infer_rotary(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  const int64_t interleaved = ctx.attrs().get_int("interleaved", 0);
  const int64_t rot = ctx.attrs().get_int("rotary_embedding_dim", 0);
  const int64_t heads = ctx.attrs().get_int("num_heads", 0);
  if (interleaved != 0 && interleaved != 1) ctx.fail("interleaved must be 0 or 1, got " + std::to_string(interleaved));
  if (rot < 0 || rot % 2) ctx.fail("rotary_embedding_dim must be even and >= 0, got " + std::to_string(rot));
  if (x.dtype != DType::Undefined && !is_float(x.dtype)) ctx.fail("X must be a float tensor");
  ctx.set_output(0, x.dtype, x.shape);
  if (!x.shape.rank_known()) return;
  const size_t rank = x.shape.rank();
  if (rank != 3 && rank != 4) ctx.fail("X must be 3-D [B, S, N*H] or 4-D [B, N, S, H], got " + x.shape.str());
  Dim batch = x.shape[0], seq = rank == 4 ? x.shape[2] : x.shape[1], head;
  if (rank == 3) {
    if (heads <= 0) ctx.fail("a 3-D X needs num_heads");
    const Dim& hidden = x.shape[2];
    if (hidden.known()) {
      if (hidden.value() % heads) ctx.fail("num_heads " + std::to_string(heads) + " does not divide " + dim_str(hidden));
      head = Dim(hidden.value() / heads);
    }
  } else {
    head = x.shape[3];
    if (heads > 0) same_dim(ctx, x.shape[1], Dim(heads), "num_heads does not match X's heads");
  }
  const int64_t r = rot ? rot : (head.known() ? head.value() : -1);
  if (rot && head.known() && rot > head.value())
    ctx.fail("rotary_embedding_dim " + std::to_string(rot) + " exceeds the head size " + dim_str(head));
  if (r >= 0 && r % 2) ctx.fail("the rotated width " + std::to_string(r) + " is odd");
  const bool positions = ctx.has_input(3);
  for (size_t i : {size_t{1}, size_t{2}}) {
    const Shape& c = ctx.input(i).shape;
    if (!c.rank_known()) continue;
    const std::string name = i == 1 ? "cos_cache" : "sin_cache";
    if (positions) {
      if (c.rank() != 2) ctx.fail(name + " must be [max_position + 1, R/2] with position_ids, got " + c.str());
    } else {
      if (c.rank() != 3) ctx.fail(name + " must be [B, S, R/2] without position_ids, got " + c.str());
      same_dim(ctx, c[0], batch, name + " batch differs from X's");
      same_dim(ctx, c[1], seq, name + " sequence differs from X's");
    }
    if (r >= 0) same_dim(ctx, c[c.rank() - 1], Dim(r / 2), name + " last dim is not R/2");
  }
  if (positions) {
    const Shape& p = ctx.input(3).shape;
    if (p.rank_known()) {
      if (p.rank() != 2) ctx.fail("position_ids must be [B, S], got " + p.str());
      same_dim(ctx, p[0], batch, "position_ids batch differs from X's");
      same_dim(ctx, p[1], seq, "position_ids sequence differs from X's");
    }
  }
}

}  // namespace

VDRT_REGISTER_OP("", "RotaryEmbedding")
    .inputs(3, 4)
    .outputs(1, 1)
    .set_infer(infer_rotary)
    .describe("ONNX RotaryEmbedding-23 (X, cos_cache, sin_cache, position_ids; interleaved, num_heads, "
              "rotary_embedding_dim).");

VDRT_REGISTER_OP("vdrt", "RotaryEmbedding")
    .inputs(3, 4)
    .outputs(1, 1)
    .set_infer(infer_rotary)
    .describe("ONNX RotaryEmbedding-23 at any opset (X, cos_cache, sin_cache, position_ids; interleaved, "
              "num_heads, rotary_embedding_dim).");

}  // namespace vdrt
