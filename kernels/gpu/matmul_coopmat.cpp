// Cooperative-matrix GEMM planning shared by MatMul/Gemm (matmul.cpp) and
// vdrt.QMatMul: see matmul_coopmat.h.
#include "kernels/gpu/matmul_coopmat.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace vdrt::gpu {
namespace {

uint32_t u32(int64_t v, const char* what) {
  VDRT_CHECK(v >= 0 && v <= int64_t(0xffffffffu), std::string("GPU GEMM: ") + what + " exceeds 32 bits");
  return static_cast<uint32_t>(v);
}

// The e4m3 GEMM's tile. H200, 4680 x 1536 x 8960 (bench/RESULTS.md): 8
// subgroups of 64 x 32 take 0.77 ms, 4 of 64 x 64 (the f16 GEMM's best)
// 1.21 ms: decoding the weights wants the extra invocations and the smaller
// register set (more work groups per multiprocessor) to hide its latency.
CoopTile pick_e4m3_tile(const DeviceCaps& caps) {
  if (caps.ptx_mma) {
    // OpenCL's inline-PTX kernel: matmul_coopmat_f16.cl's tile, a step's 16-byte code vectors split evenly.
    const CoopTile t{128, 128, 32, 64, 64, 0};
    return t.valid_ptx(caps) && (t.bk * t.bn / 16) % t.threads() == 0 ? t : CoopTile{};
  }
  if (const auto& t = gemm_variant().tile; t && t->valid_e4m3(caps)) return *t;
  for (CoopTile t : {CoopTile{128, 128, 32, 64, 32, 0}, CoopTile{128, 128, 32, 64, 64, 0}})
    if (t.valid_e4m3(caps)) return t;
  return CoopTile{};
}

}  // namespace

bool coopmat_device(const DeviceCaps& caps) {
  return caps.coopmat_f16_16x16x16 && caps.fp16 && caps.subgroup_size == 32 && caps.max_shared_bytes >= 28 * 1024 &&
         caps.max_workgroup_invocations >= 256;
}

size_t CoopTile::shared_bytes(bool at, bool bt) const {
  const size_t a = at ? size_t(bk) * (bm / 8 + 1) : size_t(bm) * (bk / 8 + 1);
  const size_t b = bt ? size_t(bn) * (bk / 8 + 1) : size_t(bk) * (bn / 8 + 1);
  return nbuf() * (a + b) * 16;
}

bool CoopTile::valid(const DeviceCaps& caps, bool at, bool bt) const {
  if (!bm || !bn || !bk || !wm || !wn || bm % wm || bn % wn || wm % 16 || wn % 16 || bk % 16) return false;
  if (bm % 8 || bn % 8 || (wm / 16) * (wn / 16) > 32) return false;
  const uint32_t nt = threads();
  const size_t a_ab = at ? size_t(bk) * (bm / 8 + 1) : size_t(bm) * (bk / 8 + 1);
  return nt <= caps.max_workgroup_invocations && (size_t(bm) * bk / 8) % nt == 0 &&
         (size_t(bn) * bk / 8) % nt == 0 && shared_bytes(at, bt) <= caps.max_shared_bytes &&
         nbuf() * a_ab >= size_t(nt / 32) * 64;  // the epilogue's per-subgroup scratch fits in As
}

bool CoopTile::valid_e4m3(const DeviceCaps& caps) const {
  // The e4m3 shader has two shared buffers whatever the flags say.
  CoopTile two_buffers = *this;
  two_buffers.flags = 0;
  if (!two_buffers.valid(caps, false, false) || bn % 16 || (size_t(bk) * bn / 16) % threads()) return false;
  if (wn > 128 || 32 % (wn / 4)) return false;
  return 2 * size_t(bm) * (bk / 8 + 1) >= size_t(threads() / 32) * 4 * wn;
}

bool CoopTile::valid_ptx(const DeviceCaps& caps) const {
  if (bk != 32 || !bm || !bn || !wm || !wn || bm % wm || bn % wn || wm % 16 || wn % 16) return false;
  const uint32_t nt = threads();
  return nt <= caps.max_workgroup_invocations && (bm * 4) % nt == 0 && (bn * 4) % nt == 0 &&
         (wm / 16) * (wn / 8) <= 64 && 2 * size_t(bm + bn) * bk * 2 <= caps.max_shared_bytes;
}

std::string CoopTile::str() const {
  std::string s = std::to_string(bm) + "x" + std::to_string(bn) + "x" + std::to_string(bk) + "/" + std::to_string(wm) +
                  "x" + std::to_string(wn);
  if (nbuf() == 1) s += " 1buf";
  return s;
}

const GemmVariant& gemm_variant() {
  static const GemmVariant v = [] {
    GemmVariant v;
    const char* e = std::getenv("VDRT_VK_GEMM_VARIANT");
    if (!e || !*e) return v;
    if (std::string(e) == "old") {
      v.old = true;
      return v;
    }
    CoopTile t{};
    if (std::sscanf(e, "%u,%u,%u,%u,%u,%u", &t.bm, &t.bn, &t.bk, &t.wm, &t.wn, &t.flags) >= 5) v.tile = t;
    else std::fprintf(stderr, "vdrt: ignoring VDRT_VK_GEMM_VARIANT=%s (want old or BM,BN,BK,WM,WN)\n", e);
    return v;
  }();
  return v;
}

CoopTile pick_coop_tile(const DeviceCaps& caps, bool at, bool bt, int64_t m, int64_t n) {
  if (caps.ptx_mma) {
    // H200, the same three shapes (bench/ptx_probe.cpp): 128 x 128 tiles of
    // 2 x 2 subgroups and 3 stages 0.654 / 0.570 / 0.125 ms, of 2 x 4
    // subgroups 0.670 / 0.667 / 0.144.
    if (const auto& t = gemm_variant().tile; t && t->valid_ptx(caps)) return CoopTile{t->bm, t->bn, t->bk, t->wm, t->wn, 0};
    const CoopTile t{128, 128, 32, 64, 64, 0};
    return t.valid_ptx(caps) ? t : CoopTile{};
  }
  if (const auto& t = gemm_variant().tile; t && t->valid(caps, at, bt)) return *t;
  // H200, 4680 x 1536 x 8960 / 4680 x 8960 x 1536 / 4680 x 1536 x 1536
  // (bench/RESULTS.md): 128 x 256 tiles of 8 subgroups (64 x 64) with one
  // shared buffer 0.789 / 0.788 / 0.164 ms a product (up to 163 TFLOP/s);
  // 128 x 128 of 4 subgroups 0.896 / 0.931 / 0.189 with two buffers,
  // 0.832 / 0.870 with one; 256 x 128 0.90-0.93; BK 64 1.15; tiles in
  // L2-friendly groups no faster (that option was then removed). One buffer
  // halves the shared memory, so more work groups share a multiprocessor and
  // hide each other's loads.
  // Products of few tiles (the timestep MLP's few rows, the text's 512) want
  // every multiprocessor busy instead: halving their work groups made them
  // 1.4-1.5x slower, so they keep 128 x 128.
  const CoopTile wide{128, 256, 32, 64, 64, 4};
  const int64_t wide_tiles = round_up(m, wide.bm) / wide.bm * (round_up(n, wide.bn) / wide.bn);
  if (wide_tiles >= 128 && wide.valid(caps, at, bt)) return wide;
  for (CoopTile t : {CoopTile{128, 128, 32, 64, 64, 0}, CoopTile{128, 128, 32, 64, 32, 0}})
    if (t.valid(caps, at, bt)) return t;
  return CoopTile{};
}

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

Dispatch to_f16(Arg src, Arg dst, int64_t R, int64_t C, int64_t Rp, int64_t Cp, int64_t sr, int64_t sc,
                const DeviceCaps& caps) {
  Dispatch d;
  d.shader = "matmul_to_f16";
  const bool vec4 = (sc == 1 || C == 1) && sr % 4 == 0 && C % 4 == 0;
  d.spec = {vec4};
  d.args = {src, dst};
  d.writes = {false, true};
  d.u32(u32(R, "rows")).u32(u32(C, "cols")).u32(u32(Rp, "rows")).u32(u32(Cp / 8, "cols"));
  d.u32(u32(sr, "stride")).u32(u32(sc, "stride")).u32(0);
  set_groups_1d(d, uint64_t(Rp) * uint64_t(Cp / 8), 256, caps);
  return d;
}

namespace {

// W8A8 on float8 tensor cores (DeviceCaps::ptx_mma_e4m3): A's codes and W's
// transposed codes, both [rows][Kp] bytes, then matmul_e4m3_mma (BK 64
// codes: the f16 kernel's 32 halves). H200 (bench/RESULTS.md), the kernel
// alone at 4680 x 1536 x 1536 / x 8960 / 4680 x 8960 x 1536: 128 x 64 tiles
// of 2 x 2 subgroups (64 x 32) 0.121 / 0.605 / 0.581 ms, the f16 kernel's
// 128 x 128 of 64 x 64 0.145 / 0.644 / 0.641, 128 x 256 and 256 x 128 of 8
// subgroups 0.69-0.78 at the large shapes: smaller tiles keep more work
// groups on a multiprocessor.
std::optional<Program> plan_qmatmul_e4m3_mma(const QMatMulShape& q, const DeviceCaps& caps) {
  CoopTile t{128, 64, 64, 64, 32, 0};
  // VDRT_VK_GEMM_VARIANT with BK 64 tries another tile (tuning): valid where
  // the f16 kernel's tile of the same bytes (BK 32 halves) is.
  if (const auto& v = gemm_variant().tile; v && v->bk == 64 && CoopTile{v->bm, v->bn, 32, v->wm, v->wn, 0}.valid_ptx(caps))
    t = CoopTile{v->bm, v->bn, 64, v->wm, v->wn, 0};
  const int64_t Mp = round_up(q.M, t.bm), Np = round_up(q.N, t.bn), Kp = round_up(q.K, t.bk);
  if (t.threads() > caps.max_workgroup_invocations || uint64_t(Mp) * uint64_t(Kp) > caps.max_storage_range ||
      uint64_t(Np) * uint64_t(Kp) > caps.max_storage_range)
    return std::nullopt;
  u32(q.K * q.N, "weight size");
  u32(q.M * q.N, "output size");
  u32(Mp * Kp / 16, "padded A");
  u32(Np * Kp / 16, "padded W");

  Program p;
  p.scratch_bytes = {size_t(Mp * Kp), size_t(q.M) * 4, size_t(Np * Kp)};
  Dispatch qa;
  qa.shader = "quantize_rows_e4m3_codes";
  qa.args = {in(0), scratch(0), scratch(1)};
  qa.writes = {false, true, true};
  qa.u32(u32(q.M, "rows")).u32(u32(q.K, "row length")).u32(u32(Mp, "padded rows")).u32(u32(Kp / 4, "padded row"));
  set_groups_1d(qa, uint64_t(Mp) * 256, 256, caps);
  p.dispatches.push_back(std::move(qa));

  Dispatch tw;
  tw.shader = "transpose_e4m3";
  tw.spec = {q.N % 4 == 0};
  tw.args = {in(1), scratch(2)};
  tw.writes = {false, true};
  tw.u32(u32(q.K, "K")).u32(u32(q.N, "N")).u32(u32(Kp / 16, "padded K"));
  set_groups_2d(tw, Kp / 64, Np / 64, caps, "QMatMul");
  tw.once = q.constant_w;
  p.dispatches.push_back(std::move(tw));

  // VDRT_E4M3_ACCUMULATE=mma keeps the sums in the tensor cores' accumulator
  // (an A/B of the promotion's cost and of its accuracy).
  const char* acc = std::getenv("VDRT_E4M3_ACCUMULATE");
  const bool promote = !(acc && std::string(acc) == "mma");
  Dispatch d;
  d.shader = "matmul_e4m3_mma";
  d.variant = t.str() + (promote ? "" : " mma-sum");
  d.spec = {t.threads(), t.bm, t.bn, t.bk, t.wm, t.wn, q.bias, q.activation, q.residual, promote};
  // Absent bias and residual bind the scales again (never read).
  d.args = {scratch(0), scratch(2), scratch(1), in(2), q.bias ? in(3) : in(2), out(0), q.residual ? in(4) : in(2)};
  d.writes = {false, false, false, false, false, true, false};
  d.u32(u32(q.M, "M")).u32(u32(q.N, "N")).u32(u32(Kp, "K")).u32(u32(Kp / 16, "row"));
  set_groups_2d(d, Np / t.bn, Mp / t.bm, caps, "QMatMul");
  p.dispatches.push_back(std::move(d));
  return p;
}

}  // namespace

std::optional<Program> plan_qmatmul_coopmat(const QMatMulShape& q, const DeviceCaps& caps) {
  if (caps.ptx_mma_e4m3 && q.act_quant && q.M > 0 && q.N > 0 && q.K > 0) return plan_qmatmul_e4m3_mma(q, caps);
  const CoopTile t = pick_e4m3_tile(caps);
  if (!t.bm || q.M <= 0 || q.N <= 0 || q.K <= 0) return std::nullopt;
  const int64_t Mp = round_up(q.M, t.bm), Kp = round_up(q.K, t.bk);
  // A16 is bound whole (a range the device must allow); W and Y are indexed
  // in 32 bits.
  if (uint64_t(Mp) * uint64_t(Kp) * 2 > caps.max_storage_range) return std::nullopt;
  u32(q.K * q.N, "weight size");
  u32(q.M * q.N, "output size");
  u32(Mp * Kp / 8, "padded A");

  Program p;
  p.scratch_bytes = {size_t(Mp * Kp * 2)};
  if (q.act_quant) {
    // Each row's e4m3 snaps as f16, and its scale for the epilogue.
    p.scratch_bytes.push_back(size_t(q.M) * 4);
    Dispatch d;
    d.shader = "quantize_rows_e4m3_f16";
    d.args = {in(0), scratch(0), scratch(1)};
    d.writes = {false, true, true};
    d.u32(u32(q.M, "rows")).u32(u32(q.K, "row length")).u32(u32(Mp, "padded rows")).u32(u32(Kp / 2, "padded row"));
    set_groups_1d(d, uint64_t(Mp) * 256, 256, caps);
    p.dispatches.push_back(std::move(d));
  } else {
    p.dispatches.push_back(to_f16(in(0), scratch(0), q.M, q.K, Mp, Kp, q.K, 1, caps));
  }

  Dispatch d;
  d.shader = "matmul_coopmat_e4m3";
  d.variant = t.str();
  d.spec = {t.threads(), t.bm, t.bn, t.bk, t.wm, t.wn, q.bias, q.act_quant, q.N % 16 == 0, q.activation, q.residual};
  // Absent bias, row scales and residual bind the scales again (never read).
  d.args = {scratch(0), in(1), in(2), q.bias ? in(3) : in(2), q.act_quant ? scratch(1) : in(2), out(0),
            q.residual ? in(4) : in(2)};
  d.writes = {false, false, false, false, false, true, false};
  d.u32(u32(q.M, "M")).u32(u32(q.N, "N")).u32(u32(q.K, "K")).u32(u32(Kp, "K")).u32(u32(Kp / 8, "lda"));
  set_groups_2d(d, (q.N + t.bn - 1) / t.bn, Mp / t.bm, caps, "QMatMul");
  p.dispatches.push_back(std::move(d));

  return p;
}

}  // namespace vdrt::gpu
