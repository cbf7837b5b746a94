// LayerNormalization (ONNX 17 and vdrt), RMSNormalization (ONNX 23 and
// vdrt), GroupNormalization and InstanceNormalization, all as rows of
// reduce_rows.comp: a row is the normalised block (the dims from `axis` on,
// or one (n, group) block of C/G channels x spatial), its scale and bias read
// through a (e / div) % mod index. Also the row/column dispatch planners
// shared with softmax.cpp and reduce.cpp.
#include <algorithm>
#include <limits>

#include "kernels/gpu/row_kernels.h"

namespace vdrt::gpu {

namespace {

uint32_t u32_checked(uint64_t v, const char* what) {
  VDRT_CHECK(v <= std::numeric_limits<uint32_t>::max(), std::string("GPU: ") + what + " exceeds 32-bit indexing");
  return static_cast<uint32_t>(v);
}

}  // namespace

Dispatch row_dispatch(RowOp op, uint64_t rows, uint64_t n, Arg x, RowParam scale, const RowParam* bias, Arg y,
                      float eps, const DeviceCaps& caps) {
  u32_checked(rows * std::max<uint64_t>(n, 1), "tensor size");
  constexpr uint32_t kMaxK = 8;  // MAXK in reduce_rows.comp
  const uint32_t sg = std::max<uint32_t>(1, caps.subgroup_size);
  const bool v4 = n % 4 == 0 && n > 0;
  const uint64_t nu = v4 ? n / 4 : n;
  const uint32_t max_inv = std::max<uint32_t>(sg, std::min<uint32_t>(caps.max_workgroup_invocations, 1024));
  Dispatch d;
  d.shader = "reduce_rows";
  uint32_t local, k, rpg = 1;
  bool subgroup_rows = nu <= uint64_t(kMaxK) * sg;
  if (subgroup_rows) {
    // One subgroup per row, several rows per work group.
    k = static_cast<uint32_t>(std::max<uint64_t>(1, (nu + sg - 1) / sg));
    local = std::max(sg, std::min<uint32_t>(256, max_inv) / sg * sg);
    rpg = local / sg;
  } else {
    // One work group per row, about four units per invocation.
    uint32_t cap = std::max(sg, std::min<uint32_t>({512, max_inv, 256 * sg}) / sg * sg);
    uint64_t want = (nu + 3) / 4;
    want = (want + sg - 1) / sg * sg;
    local = static_cast<uint32_t>(std::clamp<uint64_t>(want, sg, cap));
    k = static_cast<uint32_t>(std::min<uint64_t>(kMaxK, (nu + local - 1) / local));
  }
  d.spec = {local, static_cast<uint32_t>(op), v4 ? 1u : 0u, k, subgroup_rows ? 1u : 0u, rpg};
  d.args = {x, scale.arg, bias ? bias->arg : scale.arg, y};
  d.u32(static_cast<uint32_t>(rows)).u32(static_cast<uint32_t>(n));
  d.u32(scale.div).u32(scale.mod);
  d.u32(bias ? bias->div : 1).u32(bias ? bias->mod : 1);
  d.f32(eps).u32(bias ? 1 : 0);
  set_groups_1d(d, rows, rpg, caps);
  return d;
}

Dispatch col_dispatch(RowOp op, uint64_t outer, uint64_t len, uint64_t inner, Arg x, Arg y, const DeviceCaps& caps) {
  u32_checked(outer * std::max<uint64_t>(len, 1) * inner, "tensor size");
  Dispatch d;
  d.shader = "reduce_cols";
  d.spec = {static_cast<uint32_t>(op)};
  d.args = {x, y};
  d.u32(static_cast<uint32_t>(outer)).u32(static_cast<uint32_t>(len)).u32(static_cast<uint32_t>(inner));
  set_groups_1d(d, outer * inner, 256, caps);
  return d;
}

Dispatch reduce_dispatch(RowOp op, int64_t outer, int64_t len, int64_t inner, const DeviceCaps& caps) {
  if (inner == 1)
    return row_dispatch(op, static_cast<uint64_t>(outer), static_cast<uint64_t>(len), in(0), RowParam{in(0)}, nullptr,
                        out(0), 0.0f, caps);
  return col_dispatch(op, static_cast<uint64_t>(outer), static_cast<uint64_t>(len), static_cast<uint64_t>(inner), in(0),
                      out(0), caps);
}

bool param_mapping(const std::vector<int64_t>& param, const std::vector<int64_t>& target, RowParam& out) {
  if (numel(param) == 1) {
    out.div = 4;  // any multiple of 4: the shader broadcasts one value
    out.mod = 1;
    return true;
  }
  std::vector<int64_t> pd = param;
  while (pd.size() > target.size()) {
    if (pd.front() != 1) return false;
    pd.erase(pd.begin());
  }
  const size_t r = target.size(), off = r - pd.size();
  auto at = [&](size_t j) { return j < off ? int64_t(1) : pd[j - off]; };
  size_t a = r, b = 0;
  for (size_t j = 0; j < r; ++j) {
    if (at(j) != 1 && at(j) != target[j]) return false;
    if (at(j) != 1) {
      a = std::min(a, j);
      b = j + 1;
    }
  }
  if (a >= b) return false;  // numel 1 handled above; numel 0
  uint64_t mod = 1, div = 1;
  for (size_t j = a; j < b; ++j) {
    if (at(j) != target[j]) return false;
    mod *= static_cast<uint64_t>(target[j]);
  }
  for (size_t j = b; j < r; ++j) div *= static_cast<uint64_t>(target[j]);
  if (mod > std::numeric_limits<uint32_t>::max() || div > std::numeric_limits<uint32_t>::max()) return false;
  out.div = static_cast<uint32_t>(div);
  out.mod = static_cast<uint32_t>(mod);
  return true;
}

namespace {

// LayerNormalization / RMSNormalization: rows are the dims before `axis`.
Program build_row_norm(const KernelArgs& a) {
  const bool rms = a.node.op_type() == "RMSNormalization";
  const auto& dims = a.inputs[0].dims;
  const int64_t rank = static_cast<int64_t>(dims.size());
  const int64_t axis = normalize_axis(a.attrs().get_int("axis", -1), rank);
  int64_t rows = 1;
  for (int64_t i = 0; i < axis; ++i) rows *= dims[i];
  std::vector<int64_t> norm_dims(dims.begin() + axis, dims.end());
  const int64_t n = numel(norm_dims);
  RowParam scale{in(1)}, bias{in(2)};
  VDRT_CHECK(param_mapping(a.inputs[1].dims, norm_dims, scale),
             "GPU " + a.node.op_type() + ": scale " + dims_str(a.inputs[1].dims) + " does not broadcast to " +
                 dims_str(norm_dims));
  const bool has_bias = !rms && a.has(2);
  if (has_bias)
    VDRT_CHECK(param_mapping(a.inputs[2].dims, norm_dims, bias),
               "GPU LayerNormalization: B " + dims_str(a.inputs[2].dims) + " does not broadcast to " +
                   dims_str(norm_dims));
  Program prog;
  if (rows == 0 || n == 0) return prog;
  prog.dispatches.push_back(row_dispatch(rms ? kRowRmsNorm : kRowLayerNorm, static_cast<uint64_t>(rows),
                                         static_cast<uint64_t>(n), in(0), scale, has_bias ? &bias : nullptr, out(0),
                                         a.attrs().get_float("epsilon", 1e-5f), a.caps));
  return prog;
}

// A parameter shape is statically known to map onto X's trailing dims.
bool param_ok(const Value* p, const Value* x, int64_t axis_attr) {
  if (!p || !p->shape().fully_known()) return false;
  const std::vector<int64_t> pd = p->shape().concrete();
  if (numel(pd) == 1) return true;
  // Rank unknown at load: a [D] parameter over the last axis always maps.
  if (!x->shape().rank_known()) return axis_attr == -1 && pd.size() == 1;
  const int64_t rank = static_cast<int64_t>(x->shape().rank());
  if (axis_attr < -rank || axis_attr >= rank) return false;
  const int64_t axis = axis_attr < 0 ? axis_attr + rank : axis_attr;
  if (x->shape().fully_known()) {
    const std::vector<int64_t> xd = x->shape().concrete();
    RowParam rp;
    return param_mapping(pd, std::vector<int64_t>(xd.begin() + axis, xd.end()), rp);
  }
  // Symbolic X: accept a parameter equal to a suffix of the normalised dims.
  std::vector<int64_t> s = pd;
  while (!s.empty() && s.front() == 1) s.erase(s.begin());
  if (static_cast<int64_t>(s.size()) > rank - axis) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const Dim& d = x->shape()[static_cast<size_t>(rank) - s.size() + i];
    if (s[i] == 1 || (d.known() && d.value() != s[i])) return false;
  }
  return true;
}

bool supports_row_norm(const Node& node, const DeviceCaps&) {
  if (!all_float32(node) || !node.input(0) || !node.input(1)) return false;
  for (size_t i = 1; i < node.outputs().size(); ++i)
    if (node.output(i)) return false;  // Mean / InvStdDev outputs: CPU
  const int64_t axis = node.attrs().get_int("axis", -1);
  if (!param_ok(node.input(1), node.input(0), axis)) return false;
  if (node.op_type() == "LayerNormalization" && node.input(2) && !param_ok(node.input(2), node.input(0), axis))
    return false;
  if (node.op_type() == "RMSNormalization" && node.inputs().size() > 2) return false;
  return true;
}

// GroupNormalization / InstanceNormalization: X [N, C, S...], a row is one
// (n, group) block of C/G channels x S.
Program build_group_norm(const KernelArgs& a) {
  const auto& dims = a.inputs[0].dims;
  VDRT_CHECK(dims.size() >= 2, "GPU " + a.node.op_type() + " needs an [N, C, ...] input");
  const bool instance = a.node.op_type() == "InstanceNormalization";
  const int64_t nb = dims[0], c = dims[1];
  int64_t spatial = 1;
  for (size_t i = 2; i < dims.size(); ++i) spatial *= dims[i];
  const int64_t groups = instance ? c : a.attrs().get_int("num_groups");
  VDRT_CHECK(groups > 0 && c % groups == 0,
             "num_groups " + std::to_string(groups) + " does not divide the " + std::to_string(c) + " channels");
  const int64_t cpg = c / groups;
  const bool per_channel = a.inputs[1].numel() == c;
  const int64_t expected = per_channel ? c : groups;
  VDRT_CHECK(a.inputs[1].numel() == expected && a.inputs[2].numel() == expected,
             "GPU " + a.node.op_type() + ": scale and bias need " + std::to_string(expected) + " elements");
  Program prog;
  if (nb * c * spatial == 0) return prog;
  RowParam scale{in(1)}, bias{in(2)};
  const uint64_t div = static_cast<uint64_t>(per_channel ? spatial : cpg * spatial);
  VDRT_CHECK(div <= std::numeric_limits<uint32_t>::max(), "GPU group norm block too large");
  scale.div = bias.div = static_cast<uint32_t>(div);
  scale.mod = bias.mod = static_cast<uint32_t>(expected);
  prog.dispatches.push_back(row_dispatch(kRowLayerNorm, static_cast<uint64_t>(nb * groups),
                                         static_cast<uint64_t>(cpg * spatial), in(0), scale, &bias, out(0),
                                         a.attrs().get_float("epsilon", 1e-5f), a.caps));
  return prog;
}

bool supports_group_norm(const Node& node, const DeviceCaps&) {
  if (!all_float32(node) || node.inputs().size() < 3) return false;
  for (size_t i = 0; i < 3; ++i)
    if (!node.input(i)) return false;
  const Shape& s = node.input(0)->shape();
  if (!s.rank_known() || s.rank() < 2) return false;
  if (node.op_type() == "GroupNormalization" && !node.attrs().has("num_groups")) return false;
  return true;
}

}  // namespace

VDRT_GPU_KERNEL("", "LayerNormalization", build_row_norm, supports_row_norm);
VDRT_GPU_KERNEL("vdrt", "LayerNormalization", build_row_norm, supports_row_norm);
VDRT_GPU_KERNEL("", "RMSNormalization", build_row_norm, supports_row_norm);
VDRT_GPU_KERNEL("vdrt", "RMSNormalization", build_row_norm, supports_row_norm);
VDRT_GPU_KERNEL("", "GroupNormalization", build_group_norm, supports_group_norm);
VDRT_GPU_KERNEL("vdrt", "GroupNormalization", build_group_norm, supports_group_norm);
VDRT_GPU_KERNEL("", "InstanceNormalization", build_group_norm, supports_group_norm);

}  // namespace vdrt::gpu
