// Shape functions of the ops that permute elements: Transpose and the two
// block rearrangements DepthToSpace / SpaceToDepth, which are a reshape and a
// transpose in one (their kernels share the strided-copy engine).
#include <algorithm>

#include "graph/op_registry.h"
#include "graph/ops/shape_fn_util.h"

namespace vdrt {
namespace {

void infer_transpose(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  const bool has_perm = ctx.attrs().has("perm");
  if (!in.shape.rank_known())
    return ctx.set_output(0, in.dtype, has_perm ? unknown_dims(ctx.attrs().get_ints("perm").size()) : Shape());
  const size_t r = in.shape.rank();
  std::vector<int64_t> perm = ctx.attrs().get_ints("perm", {});
  if (!has_perm)
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  if (perm.size() != r)
    ctx.fail("Transpose perm has " + std::to_string(perm.size()) + " entries but the input " + in.shape.str() +
             " has rank " + std::to_string(r));
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < r; ++i)
    if (sorted[i] != static_cast<int64_t>(i)) ctx.fail("Transpose perm " + dims_str(perm) + " is not a permutation");
  std::vector<Dim> out;
  for (int64_t p : perm) out.push_back(in.shape[p]);
  ctx.set_output(0, in.dtype, Shape(out));
}

int64_t blocksize(InferContext& ctx) {
  int64_t b = ctx.attrs().get_int("blocksize");
  if (b <= 0) ctx.fail("blocksize must be positive, got " + std::to_string(b));
  return b;
}

void check_mode(InferContext& ctx) {
  std::string mode = ctx.attrs().get_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") ctx.fail("mode must be DCR or CRD, got '" + mode + "'");
}

void infer_depth_to_space(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  const int64_t b = blocksize(ctx);
  check_mode(ctx);
  if (!in.shape.rank_known()) return ctx.set_output(0, in.dtype, unknown_dims(4));
  const Shape& s = in.shape;
  if (s.rank() != 4) ctx.fail("DepthToSpace needs a 4-D input, got " + s.str());
  Dim c;
  if (s[1].known()) {
    if (s[1].value() % (b * b) != 0)
      ctx.fail("DepthToSpace channels " + std::to_string(s[1].value()) + " are not divisible by blocksize^2 = " +
               std::to_string(b * b));
    c = Dim(s[1].value() / (b * b));
  }
  ctx.set_output(0, in.dtype, Shape({s[0], c, s[2] * Dim(b), s[3] * Dim(b)}));
}

void infer_space_to_depth(InferContext& ctx) {
  const ValueInfo& in = ctx.input(0);
  const int64_t b = blocksize(ctx);
  check_mode(ctx);
  if (!in.shape.rank_known()) return ctx.set_output(0, in.dtype, unknown_dims(4));
  const Shape& s = in.shape;
  if (s.rank() != 4) ctx.fail("SpaceToDepth needs a 4-D input, got " + s.str());
  std::vector<Dim> out{s[0], s[1] * Dim(b * b), Dim(), Dim()};
  for (int i = 2; i < 4; ++i) {
    if (!s[i].known()) continue;
    if (s[i].value() % b != 0)
      ctx.fail("SpaceToDepth spatial dims " + s.str() + " are not divisible by blocksize " + std::to_string(b));
    out[i] = Dim(s[i].value() / b);
  }
  ctx.set_output(0, in.dtype, Shape(out));
}

}  // namespace

VDRT_REGISTER_OP("", "Transpose").inputs(1, 1).outputs(1, 1).set_infer(infer_transpose);
VDRT_REGISTER_OP("", "DepthToSpace").inputs(1, 1).outputs(1, 1).set_infer(infer_depth_to_space);
VDRT_REGISTER_OP("", "SpaceToDepth").inputs(1, 1).outputs(1, 1).set_infer(infer_space_to_depth);

}  // namespace vdrt
