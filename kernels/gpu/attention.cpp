// Attention on GPUs: vdrt.Attention (kernels/cpu/vdrt_attention.cpp) and
// the unmasked, non-causal, no-present-output cases of ONNX Attention
// (kernels/cpu/attention.cpp), both as strided views for one flash-attention
// shader:
//   flash_attention_tiled.comp     fp32, register-tiled (64 queries x 64
//                                  keys per work group of 256, 4 x 4 scores
//                                  per invocation), head dim == value dim,
//                                  multiple of 16, strides multiples of 4,
//                                  more than 16 queries (the default;
//                                  VDRT_VK_ATTN_FP32=old forces the next);
//   flash_attention.comp           fp32, any head dim (specialization
//                                  constants), tiles picked from the
//                                  device's shared memory;
//   flash_attention_coopmat[_d64]  NV cooperative matrices (f16 operands,
//                                  f32 accumulation and softmax), head dim
//                                  128 [64], when the device has them and
//                                  the session precision is fp16.
// The cache (past_key/past_value) and this call's keys are read as two
// consecutive key ranges, never concatenated. vdrt.Attention's additive
// mask (input 5, [B, H, S_q, T + S_kv] right-aligned, size-1 dims broadcast)
// is read by the two fp32 shaders (MASKED = 1, binding 6, strides over
// batch/head/query/key, 0 where it broadcasts); a masked problem never
// takes the cooperative-matrix shaders. Tensors that are absent or
// empty are never bound: another input takes their binding (the shader does
// not read it).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/gpu/flash_coopmat.h"
#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {
namespace {

// A strided [batch, head, seq, dim] view: element strides.
using View = RowStrides;

View bshd(const std::vector<int64_t>& d) { return {d[1] * d[2] * d[3], d[3], d[2] * d[3]}; }
View bhsd(const std::vector<int64_t>& d) { return {d[1] * d[2] * d[3], d[2] * d[3], d[3]}; }
// [B, S, H*D] with `dim` per head.
View bs_hd(const std::vector<int64_t>& d, int64_t dim) { return {d[1] * d[2], dim, d[2]}; }

struct Problem {
  int64_t batch = 0, q_heads = 0, kv_heads = 0, q_len = 0, kv_len = 0, past_len = 0, dim = 0, v_dim = 0;
  View q, k, v, pk, pv, out;
  float scale = 1.0f;
  uint32_t past_key_input = 3;  // input index of past_key (past_value follows)
  int64_t mask_input = -1;      // input index of the additive mask, -1: none
  int64_t mask_stride[4] = {0, 0, 0, 0};  // batch, head, query, key
};

struct FlashTile {
  uint32_t bq, bk, tpq;
  uint32_t threads() const { return bq * tpq; }
  size_t shared_bytes(uint32_t d, uint32_t dv) const {
    const uint32_t dm = std::max(d, dv);
    return 4 * (size_t(bq) * d + size_t(bk) * (dm + 1) + size_t(bq) * (bk + 1));
  }
};

uint32_t u32(int64_t x) { return static_cast<uint32_t>(x); }

// The cooperative-matrix shader stages vec4s: every stride a multiple of 4.
bool all_multiples_of_4(const Problem& pr) {
  for (const View* w : {&pr.q, &pr.k, &pr.v, &pr.pk, &pr.pv, &pr.out})
    if (w->batch % 4 || w->head % 4 || w->row % 4) return false;
  return true;
}

// Convert Q, K and V to packed f16 [B, H, rows_pad, D] scratch buffers, then
// run the cooperative-matrix shader on them.
Program build_coopmat(const KernelArgs& a, const Problem& pr, const FlashCoopmatConfig& cm) {
  Program prog;
  const uint32_t d = u32(pr.dim);
  const uint32_t bq = cm.query_rows();
  const int64_t qpad = (pr.q_len + bq - 1) / bq * bq;
  const int64_t nkeys = pr.past_len + pr.kv_len;
  const int64_t kpad = std::max<int64_t>((nkeys + cm.bk - 1) / cm.bk * cm.bk, cm.bk);
  prog.scratch_bytes = {size_t(pr.batch * pr.q_heads * qpad * d * 2), size_t(pr.batch * pr.kv_heads * kpad * d * 2),
                        size_t(pr.batch * pr.kv_heads * kpad * d * 2)};
  if (std::getenv("VDRT_VK_ATTN_VERBOSE"))
    std::fprintf(stderr, "vdrt attention coopmat: nt %u bk %u global_kv %u prefetch %u shared %zu of %zu\n", cm.nt, cm.bk,
                 cm.global_kv, cm.prefetch, cm.shared_bytes(d), size_t(a.caps.max_shared_bytes));
  const uint32_t pki = pr.past_key_input, pvi = pki + 1;
  // rows [0, T) from view a (binding 0), [T, T + S) from view b (binding 1).
  auto convert = [&](Arg src_a, const View& va, Arg src_b, const View& vb, int64_t heads, int64_t rows_pad,
                     int64_t t, int64_t s, uint32_t dst) {
    prog.dispatches.push_back(f16_rows(src_a, va, src_b, vb, pr.batch, heads, rows_pad, t, s, d, dst, a.caps));
  };
  convert(in(0), pr.q, in(0), pr.q, pr.q_heads, qpad, 0, pr.q_len, 0);
  const bool past = pr.past_len > 0, cur = pr.kv_len > 0;
  const Arg pk = past ? in(pki) : in(1), pv = past ? in(pvi) : in(2);
  const Arg k = cur ? in(1) : pk, v = cur ? in(2) : pv;
  convert(pk, pr.pk, k, pr.k, pr.kv_heads, kpad, pr.past_len, pr.kv_len, 1);
  convert(pv, pr.pv, v, pr.v, pr.kv_heads, kpad, pr.past_len, pr.kv_len, 2);

  Dispatch disp;
  disp.shader = d == 64 ? "flash_attention_coopmat_d64" : "flash_attention_coopmat";
  disp.spec = {cm.bk, cm.nt, cm.global_kv, cm.prefetch};
  disp.args = {scratch(0), scratch(1), scratch(2), out(0)};
  disp.writes = {false, false, false, true};
  disp.u32(u32(pr.q_len)).u32(u32(nkeys)).u32(u32(qpad)).u32(u32(kpad)).u32(u32(pr.q_heads / pr.kv_heads));
  disp.u32(u32(pr.q_heads)).f32(pr.scale * 1.4426950408889634f);
  disp.u32(u32(pr.out.batch)).u32(u32(pr.out.head)).u32(u32(pr.out.row));
  disp.groups[0] = u32(qpad / bq);
  disp.groups[1] = u32(pr.q_heads);
  disp.groups[2] = u32(pr.batch);
  VDRT_CHECK(disp.groups[0] <= a.caps.max_groups_x, "GPU attention: too many query blocks for one dispatch");
  prog.dispatches.push_back(disp);
  return prog;
}

// Register-tiled fp32 shader (flash_attention_tiled.comp): head-dim chunk
// DC of the score loop and keys per staged V chunk VK, from the device's
// shared memory. Returns false where the shader does not apply.
struct TiledConfig {
  uint32_t dc = 0, vk = 0, prefetch = 0;
  static size_t shared_bytes(uint32_t d, uint32_t dc, uint32_t vk) {
    const size_t qk = 2 * 64 * (dc + 4), vch = size_t(vk) * d;
    return 4 * (std::max(qk, vch) + 64 * 68 + 64 * 16);
  }
};

// VDRT_VK_ATTN_FP32: "old" forces flash_attention.comp; "dc,prefetch"
// (e.g. "32,1") forces the tiled shader's head-dim chunk (16 or 32) and
// register prefetch of the next chunk (0 or 1) where it applies.
bool pick_tiled(const Problem& pr, const DeviceCaps& caps, TiledConfig* out) {
  unsigned force_dc = 0, prefetch = 0;
  if (const char* e = std::getenv("VDRT_VK_ATTN_FP32")) {
    if (std::string(e) == "old") return false;
    if (std::sscanf(e, "%u,%u", &force_dc, &prefetch) < 1) force_dc = 0;
  }
  const uint32_t d = u32(pr.dim);
  if (pr.dim != pr.v_dim || d % 16 || d > 256 || pr.q_len <= 16 || !all_multiples_of_4(pr) ||
      caps.max_workgroup_invocations < 256)
    return false;
  for (uint32_t dc : {32u, 16u}) {
    if (d % dc || (force_dc && force_dc != dc && d % force_dc == 0)) continue;
    // The largest V chunk (dividing 64) that fits the Q/K chunk area.
    uint32_t vk = 64;
    while (vk > 4 && size_t(vk) * d > size_t(2) * 64 * (dc + 4)) vk /= 2;
    if (TiledConfig::shared_bytes(d, dc, vk) <= caps.max_shared_bytes) {
      *out = {dc, vk, prefetch ? 1u : 0u};
      return true;
    }
  }
  return false;
}

Program build_flash(const KernelArgs& a, const Problem& pr) {
  Program prog;
  if (pr.batch * pr.q_heads * pr.q_len * pr.v_dim == 0) return prog;
  constexpr int64_t kMax32 = int64_t(1) << 32;
  for (size_t i = 0; i < a.inputs.size(); ++i)
    VDRT_CHECK(!a.has(i) || a.inputs[i].numel() < kMax32, "GPU attention indexes tensors with 32-bit offsets");
  VDRT_CHECK(a.outputs[0].numel() < kMax32, "GPU attention indexes tensors with 32-bit offsets");
  VDRT_CHECK(pr.q_heads <= a.caps.max_groups_y && pr.batch <= a.caps.max_groups_z,
             "GPU attention: too many heads or batches for one dispatch");
  VDRT_CHECK(pr.kv_heads > 0 && pr.q_heads % pr.kv_heads == 0,
             "GPU attention: query heads must be a multiple of key heads");
  const uint32_t d = u32(pr.dim), dv = u32(pr.v_dim);

  Dispatch disp;
  const bool masked = pr.mask_input >= 0;
  const bool coopmat = !masked && flash_coopmat_applies(a.caps, d, dv) && all_multiples_of_4(pr);
  uint32_t bq = 0;
  const FlashCoopmatConfig* cm = coopmat ? pick_dense_flash_coopmat(d, a.caps) : nullptr;
  if (cm) return build_coopmat(a, pr, *cm);
  TiledConfig tc;
  if (pick_tiled(pr, a.caps, &tc)) {
    if (std::getenv("VDRT_VK_ATTN_VERBOSE"))
      std::fprintf(stderr, "vdrt attention fp32 tiled: D %u dc %u vk %u prefetch %u shared %zu of %zu\n", d, tc.dc,
                   tc.vk, tc.prefetch, TiledConfig::shared_bytes(d, tc.dc, tc.vk), size_t(a.caps.max_shared_bytes));
    disp.shader = "flash_attention_tiled";
    disp.spec = {d, tc.dc, tc.vk, tc.prefetch, masked ? 1u : 0u};
    bq = 64;
  } else {
    static const FlashTile tiles[] = {{64, 64, 4}, {32, 32, 4}, {32, 16, 4}, {16, 16, 8},
                                      {16, 8, 8},  {8, 8, 8},   {4, 4, 8}};
    const FlashTile* pick = nullptr;
    for (const FlashTile& t : tiles) {
      if (t.bq > 16 && pr.q_len <= 16) continue;  // short queries: small blocks
      if (t.shared_bytes(d, dv) <= a.caps.max_shared_bytes && t.threads() <= a.caps.max_workgroup_invocations) {
        pick = &t;
        break;
      }
    }
    VDRT_CHECK(pick != nullptr, "GPU attention: head dims " + std::to_string(d) + "/" + std::to_string(dv) +
                                    " need more shared memory than the device has");
    disp.shader = "flash_attention";
    disp.spec = {d, dv, pick->bq, pick->bk, pick->threads(), masked ? 1u : 0u};
    bq = pick->bq;
  }

  // Bindings q, k, v, past_key, past_value, out. An empty key range binds a
  // tensor that exists instead (the shader never reads it).
  const uint32_t pki = pr.past_key_input, pvi = pki + 1;
  Arg kb = in(1), vb = in(2);
  if (pr.kv_len == 0) {
    kb = pr.past_len > 0 ? in(pki) : in(0);
    vb = pr.past_len > 0 ? in(pvi) : in(0);
  }
  const Arg pkb = pr.past_len > 0 ? in(pki) : kb, pvb = pr.past_len > 0 ? in(pvi) : vb;
  disp.args = {in(0), kb, vb, pkb, pvb, out(0)};
  // The mask (binding 6); an empty one is never read (no keys or no queries).
  disp.args.push_back(masked && a.inputs[size_t(pr.mask_input)].numel() > 0 ? in(u32(pr.mask_input)) : in(0));
  disp.u32(u32(pr.q_len)).u32(u32(pr.kv_len)).u32(u32(pr.past_len)).u32(u32(pr.q_heads / pr.kv_heads)).f32(pr.scale);
  for (const View* w : {&pr.q, &pr.k, &pr.v, &pr.pk, &pr.pv, &pr.out})
    disp.u32(u32(w->batch)).u32(u32(w->head)).u32(u32(w->row));
  for (int64_t st : pr.mask_stride) disp.u32(u32(st));
  disp.groups[0] = u32((pr.q_len + bq - 1) / bq);
  disp.groups[1] = u32(pr.q_heads);
  disp.groups[2] = u32(pr.batch);
  VDRT_CHECK(disp.groups[0] <= a.caps.max_groups_x, "GPU attention: too many query blocks for one dispatch");
  prog.dispatches.push_back(disp);
  return prog;
}

// vdrt.Attention: every tensor [B, S, H, D].
Program build_vdrt_attention(const KernelArgs& a) {
  for (size_t i = 0; i < 3; ++i)
    VDRT_CHECK(a.inputs[i].dims.size() == 4, "vdrt.Attention inputs must be 4-D [batch, seq, heads, head_dim]");
  VDRT_CHECK(a.has(3) == a.has(4), "vdrt.Attention: past_key and past_value must be given together");
  const auto &qd = a.inputs[0].dims, &kd = a.inputs[1].dims, &vd = a.inputs[2].dims;
  Problem pr;
  pr.batch = qd[0], pr.q_len = qd[1], pr.q_heads = qd[2], pr.dim = qd[3];
  pr.kv_len = kd[1], pr.kv_heads = kd[2], pr.v_dim = vd[3];
  VDRT_CHECK(kd[0] == pr.batch && vd[0] == pr.batch && kd[3] == pr.dim && vd[1] == pr.kv_len && vd[2] == pr.kv_heads,
             "vdrt.Attention: key/value shapes do not fit the query");
  pr.q = bshd(qd), pr.k = bshd(kd), pr.v = bshd(vd);
  pr.out = bshd(a.outputs[0].dims);
  if (a.has(3)) {
    const auto &pk = a.inputs[3].dims, &pv = a.inputs[4].dims;
    VDRT_CHECK(pk.size() == 4 && pv.size() == 4 && pk[0] == pr.batch && pk[2] == pr.kv_heads && pk[3] == pr.dim &&
                   pv[0] == pr.batch && pv[1] == pk[1] && pv[2] == pr.kv_heads && pv[3] == pr.v_dim,
               "vdrt.Attention: past_key/past_value shapes do not fit key/value");
    pr.past_len = pk[1];
    pr.pk = bshd(pk), pr.pv = bshd(pv);
  }
  pr.past_key_input = 3;
  pr.scale = a.attrs().get_float("scale");
  if (a.has(5)) {
    const auto& md = a.inputs[5].dims;
    const int64_t want[4] = {pr.batch, pr.q_heads, pr.q_len, pr.past_len + pr.kv_len};
    VDRT_CHECK(!md.empty() && md.size() <= 4, "vdrt.Attention: the mask must have rank 1 to 4");
    int64_t stride = 1;
    for (size_t j = 0; j < md.size(); ++j) {
      const int64_t dim = md[md.size() - 1 - j];
      VDRT_CHECK(dim == 1 || dim == want[3 - j], "vdrt.Attention: the mask " + dims_str(md) +
                                                     " does not broadcast to the scores");
      pr.mask_stride[3 - j] = dim == 1 ? 0 : stride;
      stride *= dim;
    }
    pr.mask_input = 5;
  }
  return build_flash(a, pr);
}

bool supports_vdrt_attention(const Node& node, const DeviceCaps&) {
  if (!all_float32(node) || node.inputs().size() < 3 || node.inputs().size() > 6) return false;
  for (size_t i = 0; i < 3; ++i)
    if (!node.input(i)) return false;
  if ((node.input(3) != nullptr) != (node.input(4) != nullptr)) return false;
  for (size_t i = 1; i < node.outputs().size(); ++i)
    if (node.output(i)) return false;
  return node.attrs().has("scale");
}

// ONNX Attention, unmasked: 4-D [B, H, S, D] or 3-D [B, S, H*D] inputs,
// optional 4-D past_key/past_value [B, H_kv, P, D], only output Y.
Program build_onnx_attention(const KernelArgs& a) {
  const auto &qd = a.inputs[0].dims, &kd = a.inputs[1].dims, &vd = a.inputs[2].dims;
  VDRT_CHECK((qd.size() == 3 || qd.size() == 4) && kd.size() == qd.size() && vd.size() == qd.size(),
             "Attention: Q, K and V must all be 3-D or all 4-D");
  Problem pr;
  if (qd.size() == 4) {
    pr.batch = qd[0], pr.q_heads = qd[1], pr.q_len = qd[2], pr.dim = qd[3];
    pr.kv_heads = kd[1], pr.kv_len = kd[2], pr.v_dim = vd[3];
    VDRT_CHECK(kd[0] == pr.batch && vd[0] == pr.batch && kd[3] == pr.dim && vd[1] == pr.kv_heads &&
                   vd[2] == pr.kv_len,
               "Attention: shapes of Q, K and V do not fit");
    pr.q = bhsd(qd), pr.k = bhsd(kd), pr.v = bhsd(vd);
    pr.out = bhsd(a.outputs[0].dims);
  } else {
    const int64_t qh = a.attrs().get_int("q_num_heads", 0), kvh = a.attrs().get_int("kv_num_heads", 0);
    VDRT_CHECK(qh > 0 && kvh > 0, "Attention with 3-D inputs needs q_num_heads and kv_num_heads");
    VDRT_CHECK(qd[2] % qh == 0 && kd[2] % kvh == 0 && vd[2] % kvh == 0, "Attention: hidden size not divisible by heads");
    pr.batch = qd[0], pr.q_len = qd[1], pr.q_heads = qh, pr.dim = qd[2] / qh;
    pr.kv_len = kd[1], pr.kv_heads = kvh, pr.v_dim = vd[2] / kvh;
    VDRT_CHECK(kd[0] == pr.batch && vd[0] == pr.batch && kd[2] / kvh == pr.dim && vd[1] == pr.kv_len,
               "Attention: shapes of Q, K and V do not fit");
    pr.q = bs_hd(qd, pr.dim), pr.k = bs_hd(kd, pr.dim), pr.v = bs_hd(vd, pr.v_dim);
    pr.out = bs_hd(a.outputs[0].dims, pr.v_dim);
  }
  VDRT_CHECK(a.has(4) == a.has(5), "Attention: past_key and past_value come together");
  if (a.has(4)) {
    const auto &pk = a.inputs[4].dims, &pv = a.inputs[5].dims;
    VDRT_CHECK(pk.size() == 4 && pv.size() == 4 && pk[0] == pr.batch && pk[1] == pr.kv_heads && pk[3] == pr.dim &&
                   pv[0] == pr.batch && pv[1] == pr.kv_heads && pv[3] == pr.v_dim && pv[2] == pk[2],
               "Attention: past_key/past_value must be [B, kv_heads, P, D]");
    pr.past_len = pk[2];
    pr.pk = bhsd(pk), pr.pv = bhsd(pv);
  }
  pr.past_key_input = 4;
  pr.scale = a.attrs().has("scale") ? a.attrs().get_float("scale") : 1.0f / std::sqrt(static_cast<float>(pr.dim));
  return build_flash(a, pr);
}

bool supports_onnx_attention(const Node& node, const DeviceCaps&) {
  if (!all_float32(node) || node.inputs().size() < 3) return false;
  for (size_t i = 0; i < 3; ++i) {
    const Value* x = node.input(i);
    if (!x || !x->shape().rank_known() || (x->shape().rank() != 3 && x->shape().rank() != 4)) return false;
  }
  if (node.input(3) || node.input(6)) return false;  // attn_mask, nonpad_kv_seqlen
  if ((node.input(4) != nullptr) != (node.input(5) != nullptr)) return false;
  for (size_t i = 7; i < node.inputs().size(); ++i)
    if (node.input(i)) return false;
  for (size_t i = 1; i < node.outputs().size(); ++i)  // present_key/value, qk_matmul_output
    if (node.output(i)) return false;
  const AttributeMap& at = node.attrs();
  if (at.get_int("is_causal", 0) != 0 || at.get_float("softcap", 0.0f) != 0.0f) return false;
  if (at.get_int("left_window_size", -1) >= 0 || at.get_int("right_window_size", -1) >= 0) return false;
  return true;
}

}  // namespace

VDRT_GPU_KERNEL("vdrt", "Attention", build_vdrt_attention, supports_vdrt_attention);
VDRT_GPU_KERNEL("", "Attention", build_onnx_attention, supports_onnx_attention);

}  // namespace vdrt::gpu
