// MatMul (NumPy semantics: broadcast batch dims, 1-D operands) and Gemm
// (transA, transB, alpha, beta, C broadcast to [M, N]) on one strided GEMM:
// y[z] = alpha * A[z] B[z] (+ beta * C), every operand addressed through
// element strides so transposes cost nothing. Shaders:
//  - matmul.comp / matmul.cl: tiled fp32 (shared-memory tiles, register
//    blocking); the tile (tuned per device, else chosen by shape: see
//    matmul_tile.h) is passed as specialization constants.
//  - fp16 precision on a device with NV cooperative matrices, one matrix
//    product (no batch): matmul_to_f16.comp converts A and B into dense,
//    zero-padded f16 scratch matrices (one cheap pass each), then
//    matmul_coopmat_f16.comp multiplies them with big double-buffered tiles.
//  - matmul_coopmat.comp: the same multiply reading f32 operands directly
//    (batched products; VDRT_VK_GEMM_VARIANT=old for every product).
// vdrt.QMatMul: on a device with NV cooperative matrices, at fp16 precision
// or with per-token e4m3 activations at any precision, matmul_coopmat_e4m3
// (the e4m3 codes decoded to f16 in its tile loads, see
// qmatmul_uses_coopmat); elsewhere the fp32 tiled shader with B as e4m3 codes
// (B_E4M3).
// vdrt.FusedMatMul (one output) runs the same shaders with their epilogue:
// the bias as C, then the activation and the residual (ACT, HAS_R).
// MatMul with a plain-matrix B (the Linear-layer case [B.., M, K] x [K, N])
// folds A's batch into M: one GEMM instead of a batch of small ones.
#include <algorithm>
#include <cstdio>
#include <mutex>
#include <set>

#include "kernels/gpu/gpu_kernel.h"
#include "kernels/gpu/matmul_coopmat.h"
#include "kernels/gpu/matmul_tile.h"
#include "kernels/gpu/strided_copy.h"

namespace vdrt::gpu {
namespace {

struct Gemm {
  int64_t M = 0, N = 0, K = 0;
  int64_t sam = 0, sak = 0, sbk = 0, sbn = 0, scm = 0, scn = 0;
  float alpha = 1, beta = 0;
  bool has_c = false;
  std::vector<int64_t> bdim, sab, sbb;  // batch dims and operand strides (empty: one matrix)
  // Where the operands are bound. vdrt.QMatMul: B is e4m3 codes with
  // per-column scales S, and A may be a scratch of quantised activations.
  Arg a = in(0), b = in(1), c = in(2), s = in(0);
  bool b_e4m3 = false;
  // vdrt.FusedMatMul's epilogue after C: act (0 none, 1 gelu, 2 gelu tanh),
  // then the residual r, laid out as y.
  uint32_t act = 0;
  bool has_r = false;
  Arg r = in(3);
  bool epilogue() const { return act != 0 || has_r; }
};

// The shaders' ACT code of a node's `activation` attribute: 0 none, 1 gelu
// (erf), 2 gelu (tanh); -1 for a name they do not know.
int epilogue_act(const Node& node) {
  const std::string act = node.attrs().get_string("activation", "none");
  return act == "none" ? 0 : act == "gelu" ? 1 : act == "gelu_tanh" ? 2 : -1;
}

uint32_t u32(int64_t v, const char* what) {
  VDRT_CHECK(v >= 0 && v <= int64_t(0xffffffffu), std::string("GPU GEMM: ") + what + " exceeds 32 bits");
  return static_cast<uint32_t>(v);
}

// MatMul and Gemm take the cooperative matrices only when the session asked
// for fp16: both operands are rounded to f16.
bool use_coopmat(const Gemm& g, const DeviceCaps& caps) {
  return coopmat_device(caps) && caps.precision == "fp16" && g.K > 0;
}

// The fp32 tile: the device's tuned one (DeviceCaps::matmul_tile, filled by
// the backend from VDRT_MATMUL_TILE or its tuning file, see
// backends/gpu_tuning.h) for every product, else chosen by shape. A tuned
// tile the device cannot run falls back with one warning per tile (the
// backends check it when created, so this only guards hand-made caps).
MatmulTile pick_tile(const Gemm& g, const DeviceCaps& caps) {
  const MatmulTile& t = caps.matmul_tile;
  if (t.set()) {
    if (matmul_tile_fits(t, caps)) return t;
    static std::mutex m;
    static std::set<std::string> warned;
    std::lock_guard<std::mutex> lock(m);
    if (warned.insert(to_string(t)).second)
      std::fprintf(stderr, "vdrt: ignoring the fp32 matmul tile %s: it does not fit the device\n", to_string(t).c_str());
  }
  MatmulTile d = default_matmul_tile(g.M, g.N, caps);
  VDRT_CHECK(matmul_tile_fits(d, caps), "GPU MatMul: the device cannot run a " + to_string(d) + " tile");
  return d;
}

// The f16 path: two conversion passes and the main GEMM. Returns false where
// it does not apply (batches, no tile fits).
bool emit_coop_f16(const Gemm& g, const KernelArgs& a, Program& prog) {
  const DeviceCaps& caps = a.caps;
  // A is read [M][K] when its k stride is the smaller one, else [K][M] (A_T); B likewise.
  const bool at = !(g.sak == 1 || g.K == 1) && g.sam == 1;
  const bool bt = !(g.sbn == 1 || g.N == 1) && g.sbk == 1;
  const CoopTile t = pick_coop_tile(caps, at, bt, g.M, g.N);
  if (!t.bm) return false;
  const int64_t Mp = round_up(g.M, t.bm), Np = round_up(g.N, t.bn), Kp = round_up(g.K, t.bk);
  u32(Mp * Kp, "padded A");
  u32(Kp * Np, "padded B");
  prog.scratch_bytes = {size_t(Mp * Kp * 2), size_t(Kp * Np * 2)};
  if (at) prog.dispatches.push_back(to_f16(in(0), scratch(0), g.K, g.M, Kp, Mp, g.sak, g.sam, caps));
  else prog.dispatches.push_back(to_f16(in(0), scratch(0), g.M, g.K, Mp, Kp, g.sam, g.sak, caps));
  if (bt) prog.dispatches.push_back(to_f16(in(1), scratch(1), g.N, g.K, Np, Kp, g.sbn, g.sbk, caps));
  else prog.dispatches.push_back(to_f16(in(1), scratch(1), g.K, g.N, Kp, Np, g.sbk, g.sbn, caps));
  prog.dispatches.back().once = a.constant(1);  // weights: converted at the first run only
  Dispatch d;
  d.shader = t.flags & 2 ? "matmul_tc16" : "matmul_coopmat_f16";
  d.variant = t.str();
  d.spec = {t.threads(), t.bm, t.bn, t.bk, t.wm, t.wn, at, bt, g.has_c, (t.flags & 1) != 0, g.act, g.has_r, t.nbuf()};
  d.args = {scratch(0), scratch(1), g.has_c ? g.c : in(0), out(0), g.has_r ? g.r : in(0)};
  d.writes = {false, false, false, true, false};
  d.u32(u32(g.M, "M")).u32(u32(g.N, "N")).u32(u32(Kp, "K"));
  d.u32(u32((at ? Mp : Kp) / 8, "lda")).u32(u32((bt ? Kp : Np) / 8, "ldb"));
  d.u32(u32(g.scm, "stride")).u32(u32(g.scn, "stride"));
  d.f32(g.alpha).f32(g.beta);
  set_groups_2d(d, Np / t.bn, Mp / t.bm, caps, "MatMul");
  prog.dispatches.push_back(std::move(d));
  return true;
}

Program emit(const Gemm& g, const KernelArgs& a) {
  const DeviceCaps& caps = a.caps;
  Program prog;
  std::vector<int64_t> bdim = g.bdim, sab = g.sab, sbb = g.sbb;
  int64_t batches = 1;
  for (int64_t d : bdim) batches *= d;
  if (g.M == 0 || g.N == 0 || batches == 0) return prog;
  VDRT_CHECK(bdim.size() <= 3, "GPU MatMul: more than 3 batch dims that do not merge");
  while (bdim.size() < 3) {
    bdim.insert(bdim.begin(), 1);
    sab.insert(sab.begin(), 0);
    sbb.insert(sbb.begin(), 0);
  }
  u32(batches * g.M * g.N, "output size");
  for (const TensorInfo& t : a.inputs)
    if (t.present()) u32(t.numel(), "operand size");

  // Cooperative matrices take f32 operands bound as inputs 0-2 only.
  const bool plain = !g.b_e4m3 && g.a.kind == Arg::Input && g.a.index == 0;
  if (plain && use_coopmat(g, caps) && batches == 1 && !gemm_variant().old && emit_coop_f16(g, a, prog)) return prog;

  Dispatch d;
  d.args = {g.a, g.b, g.has_c ? g.c : g.a, out(0), g.b_e4m3 ? g.s : g.a, g.has_r ? g.r : g.a};
  d.writes = {false, false, false, true, false, false};
  const bool a_kfast = g.sak == 1 || g.K == 1;
  const bool b_nfast = g.sbn == 1 || g.N == 1;
  int64_t bm, bn;
  if (plain && use_coopmat(g, caps) && !g.epilogue() && !caps.ptx_mma) {
    d.shader = "matmul_coopmat";
    d.spec = {a_kfast, b_nfast, g.has_c};
    d.args.resize(4);  // no scales, no residual
    d.writes.resize(4);
    bm = bn = 128;
  } else {
    const MatmulTile t = pick_tile(g, caps);
    d.shader = "matmul";
    d.variant = to_string(t);
    d.spec = {matmul_tile_threads(t), t.bm, t.bn, t.bk, t.tm, t.tn, a_kfast, b_nfast, g.has_c, g.b_e4m3,
              g.act, g.has_r};
    bm = t.bm;
    bn = t.bn;
  }
  d.u32(u32(g.M, "M")).u32(u32(g.N, "N")).u32(u32(g.K, "K"));
  d.u32(u32(g.sam, "stride")).u32(u32(g.sak, "stride")).u32(u32(g.sbk, "stride")).u32(u32(g.sbn, "stride"));
  d.u32(u32(g.scm, "stride")).u32(u32(g.scn, "stride"));
  d.f32(g.alpha).f32(g.beta);
  for (int64_t x : bdim) d.u32(u32(x, "batch"));
  for (int64_t x : sab) d.u32(u32(x, "stride"));
  for (int64_t x : sbb) d.u32(u32(x, "stride"));
  set_groups_2d(d, (g.N + bn - 1) / bn, (g.M + bm - 1) / bm, caps, "MatMul");
  // Batches beyond the device's z limit take further dispatches (push constant zbase).
  for (int64_t z0 = 0; z0 < batches; z0 += caps.max_groups_z) {
    Dispatch part = d;
    part.u32(static_cast<uint32_t>(z0));
    part.groups[2] = static_cast<uint32_t>(std::min<int64_t>(batches - z0, caps.max_groups_z));
    prog.dispatches.push_back(std::move(part));
  }
  return prog;
}

// Strides of an operand's batch dims broadcast against `out` (0 where it repeats).
std::vector<int64_t> batch_strides(const std::vector<int64_t>& dims, const std::vector<int64_t>& out, int64_t mat) {
  std::vector<int64_t> s(out.size(), 0), cs = contiguous_strides(dims);
  const size_t off = out.size() - dims.size();
  for (size_t i = 0; i < dims.size(); ++i) s[off + i] = dims[i] == 1 ? 0 : cs[i] * mat;
  return s;
}

Program build_matmul(const KernelArgs& a) {
  const auto& da = a.inputs[0].dims;
  const auto& db = a.inputs[1].dims;
  const size_t ra = da.size(), rb = db.size();
  Gemm g;
  g.K = da[ra - 1];
  g.M = ra >= 2 ? da[ra - 2] : 1;
  g.N = rb >= 2 ? db[rb - 1] : 1;
  g.sam = g.K;
  g.sak = 1;
  g.sbk = rb >= 2 ? g.N : 1;
  g.sbn = 1;
  std::vector<int64_t> ab(da.begin(), da.end() - std::min<size_t>(ra, 2));
  std::vector<int64_t> bb(db.begin(), db.end() - std::min<size_t>(rb, 2));
  if (numel(bb) == 1) {
    // B is one matrix (or vector): A's batch folds into M (A is contiguous).
    g.M *= numel(ab);
    return emit(g, a);
  }
  std::vector<int64_t> ob(std::max(ab.size(), bb.size()), 1);
  for (size_t i = 0; i < ob.size(); ++i) {
    int64_t x = i + ab.size() >= ob.size() ? ab[i + ab.size() - ob.size()] : 1;
    int64_t y = i + bb.size() >= ob.size() ? bb[i + bb.size() - ob.size()] : 1;
    ob[i] = x == 1 ? y : x;
  }
  std::vector<int64_t> sa = batch_strides(ab, ob, g.M * g.K), sb = batch_strides(bb, ob, g.K * g.N);
  std::vector<int64_t> so = contiguous_strides(ob);
  for (int64_t& s : so) s *= g.M * g.N;
  if (numel(ob) == 0) return Program{};
  collapse_dims(ob, {&sa, &sb, &so});
  g.bdim = ob;
  g.sab = sa;
  g.sbb = sb;
  return emit(g, a);
}

Program build_gemm(const KernelArgs& a) {
  const auto& da = a.inputs[0].dims;
  const auto& db = a.inputs[1].dims;
  const bool ta = a.attrs().get_int("transA", 0) != 0, tb = a.attrs().get_int("transB", 0) != 0;
  Gemm g;
  g.alpha = a.attrs().get_float("alpha", 1.0f);
  g.beta = a.attrs().get_float("beta", 1.0f);
  g.M = a.outputs[0].dims[0];
  g.N = a.outputs[0].dims[1];
  g.K = ta ? da[0] : da[1];
  if (ta) g.sam = 1, g.sak = da[1];
  else g.sam = da[1], g.sak = 1;
  if (tb) g.sbk = 1, g.sbn = db[1];
  else g.sbk = db[1], g.sbn = 1;
  g.has_c = a.has(2) && g.beta != 0.0f;
  if (g.has_c) {
    std::vector<int64_t> dc = a.inputs[2].dims;
    while (dc.size() < 2) dc.insert(dc.begin(), 1);
    g.scm = dc[0] == 1 ? 0 : dc[1];
    g.scn = dc[1] == 1 ? 0 : 1;
  }
  return emit(g, a);
}

// A Linear layer's GEMM (vdrt.FusedMatMul, vdrt.QMatMul): A [..., K], its
// leading dims folded into M (one GEMM), by a [K, N] weight; the bias (input
// bias_at) as C broadcast down the rows, then the activation attribute and
// the residual (input residual_at) in the shaders' epilogue.
Gemm linear_gemm(const KernelArgs& a, const char* op, uint32_t bias_at, uint32_t residual_at) {
  const auto& da = a.inputs[0].dims;
  const auto& dw = a.inputs[1].dims;
  Gemm g;
  g.K = dw[0];
  g.N = dw[1];
  VDRT_CHECK(!da.empty() && da.back() == g.K, std::string("GPU ") + op + ": A's last dim is not W's K");
  g.M = g.N > 0 ? a.outputs[0].numel() / g.N : 0;
  g.sam = g.K;
  g.sak = 1;
  g.sbk = g.N;
  g.sbn = 1;
  if (a.has(bias_at)) {
    g.has_c = true;
    g.c = in(bias_at);
    g.scm = 0;
    g.scn = 1;
    g.beta = 1.0f;
  }
  g.act = static_cast<uint32_t>(std::max(epilogue_act(a.node), 0));
  g.has_r = a.has(residual_at);
  g.r = in(residual_at);
  return g;
}

// vdrt.FusedMatMul P = act(X W + bias) + residual.
Program build_fused_matmul(const KernelArgs& a) { return emit(linear_gemm(a, "FusedMatMul", 2, 3), a); }

// Whether vdrt.QMatMul multiplies on cooperative matrices (f16 x f16 -> f32).
// The decoded weights are exact in f16, and so are per-token e4m3
// activations: with act_quant every product is exact and only the order of
// the f32 sums differs from the fp32 kernel, so W8A8 takes the fast path at
// fp32 precision too. Weights alone need the activations rounded to f16
// (relative error 2^-11 each): only when the session asked for fp16.
bool qmatmul_uses_coopmat(bool act_quant, const DeviceCaps& caps) {
  return coopmat_device(caps) && (caps.precision == "fp16" || act_quant);
}

// vdrt.QMatMul: Y = A' (W * scale) + bias with e4m3 weight codes decoded in
// the GEMM's tile loads. act_quant = per_token_e4m3 first writes A' (each
// row snapped to e4m3 at its own absmax / 448 scale) to a scratch matrix.
Program build_qmatmul(const KernelArgs& a) {
  Gemm g = linear_gemm(a, "QMatMul", 3, 4);
  g.b_e4m3 = true;
  g.s = in(2);
  const bool act_quant = a.attrs().get_string("act_quant", "none") == "per_token_e4m3";
  if (qmatmul_uses_coopmat(act_quant, a.caps)) {
    u32(a.inputs[0].numel(), "operand size");
    if (auto p = plan_qmatmul_coopmat({g.M, g.N, g.K, g.has_c, act_quant, g.act, g.has_r, a.constant(1)}, a.caps))
      return std::move(*p);
  }
  if (!act_quant || g.M == 0 || g.K == 0) return emit(g, a);
  Dispatch q;
  q.shader = "quantize_rows_e4m3";
  q.args = {in(0), scratch(0)};
  q.u32(u32(g.M, "rows")).u32(u32(g.K, "row length"));
  set_groups_1d(q, uint64_t(g.M) * 256, 256, a.caps);
  g.a = scratch(0);
  Program prog = emit(g, a);
  prog.scratch_bytes.push_back(size_t(g.M) * size_t(g.K) * 4);
  prog.dispatches.insert(prog.dispatches.begin(), std::move(q));
  return prog;
}

bool supports_qmatmul(const Node& node, const DeviceCaps&) {
  const auto& ins = node.inputs();
  if (ins.size() < 3 || ins.size() > 5 || !ins[0] || !ins[1] || !ins[2]) return false;
  if (ins[0]->dtype() != DType::F32 || ins[1]->dtype() != DType::F8E4M3 || ins[2]->dtype() != DType::F32) return false;
  for (size_t i = 3; i < ins.size(); ++i)
    if (ins[i] && ins[i]->dtype() != DType::F32) return false;
  if (epilogue_act(node) < 0) return false;
  if (!ins[1]->shape().rank_known() || ins[1]->shape().rank() != 2) return false;
  const std::string act = node.attrs().get_string("act_quant", "none");
  return (act == "none" || act == "per_token_e4m3") && node.outputs().size() == 1 &&
         node.output(0)->dtype() == DType::F32;
}

bool supports_matmul(const Node& node, const DeviceCaps&) {
  if (!all_float32(node) || node.inputs().size() != 2 || !node.input(0) || !node.input(1)) return false;
  for (const Value* v : node.inputs()) {
    // At most 3 batch dims, so they always fit the shader's push constants.
    // A rank unknown at load (shapes computed at run time) is checked when
    // the node is compiled for concrete shapes.
    if (v->shape().rank_known() && (v->shape().rank() < 1 || v->shape().rank() > 5)) return false;
  }
  return true;
}

// One output: the split form (several outputs, column ranges of the product)
// is the CPU's; fuse-gemm-epilogue leaves the Split to a device without it.
bool supports_fused_matmul(const Node& node, const DeviceCaps&) {
  const auto& ins = node.inputs();
  if (ins.size() < 2 || ins.size() > 4 || !ins[0] || !ins[1] || node.outputs().size() != 1 || !node.output(0))
    return false;
  for (const Value* v : ins)
    if (v && v->dtype() != DType::F32) return false;
  if (node.output(0)->dtype() != DType::F32 || node.attrs().has("split")) return false;
  return ins[1]->shape().rank_known() && ins[1]->shape().rank() == 2 && epilogue_act(node) >= 0;
}

bool supports_gemm(const Node& node, const DeviceCaps&) {
  if (!all_float32(node) || node.inputs().size() < 2 || node.inputs().size() > 3) return false;
  for (size_t i = 0; i < node.inputs().size(); ++i) {
    const Value* v = node.input(i);
    if (!v) {
      if (i < 2) return false;
      continue;
    }
    if (!v->shape().rank_known()) return false;
    if (i < 2 ? v->shape().rank() != 2 : v->shape().rank() > 2) return false;
  }
  return true;
}

}  // namespace

VDRT_GPU_KERNEL("", "MatMul", build_matmul, supports_matmul);
VDRT_GPU_KERNEL("", "Gemm", build_gemm, supports_gemm);
VDRT_GPU_KERNEL("vdrt", "QMatMul", build_qmatmul, supports_qmatmul);
VDRT_GPU_KERNEL("vdrt", "FusedMatMul", build_fused_matmul, supports_fused_matmul);

}  // namespace vdrt::gpu
