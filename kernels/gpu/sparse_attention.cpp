// vdrt.PBSAttention and vdrt.HSAttention on GPUs (docs/vdrt_ops.md; the CPU
// kernel, kernels/cpu/sparse_attention.cpp, is the reference), in one
// program whose selection never leaves the device:
//   sparse_pool_keys  mean key of every past block ([lanes, nb, D] scratch),
//                     and with HSA's current_chunk = compete of this
//                     chunk's blocks too ([lanes, nc, D]);
//   sparse_score      per query block: its mean query and the scores of
//                     every block of its lane ([query blocks, cap]);
//   sparse_select     per query block: the method's rule (frame stage,
//                     top-k by rank, CAG budget) -> the visited blocks,
//                     ascending, with their row offsets;
//   sparse_flash      per 64 rows of a query block: flash attention over
//                     this chunk's keys (unless compete) and the selected
//                     blocks' rows, read in place (register-tiled like
//                     flash_attention_tiled); in fp16 sessions on
//                     devices with NV cooperative matrices (where dense
//                     attention takes flash_attention_coopmat) instead
//                     sparse_flash_coopmat[_d64], the same work on tensor
//                     cores, reading every key row from one buffer: an
//                     f16 copy of the past and this chunk's keys and values
//                     (flash_attention_f16_rows), or the device cache's
//                     pools.
// Without a bound cache the op reads past_key/past_value as whole frames
// cut into blocks (BlockLayout), like the CPU kernel; budgets that depend on
// the chunk index (CAG) come from the shapes (chunk = past frames / chunk
// frames). With the rollout's device cache bound (KernelArgs::stateful,
// kernels/sparse_kv_device.h) the cached blocks are slots of its pools, the
// block tables, budgets and counts come from its index (uploaded once per
// chunk, so one compiled program serves every chunk), scores and selection
// are its scratch; every pass first runs sparse_append (this chunk's
// keys/values into the slots reserved for its blocks, from which the flash
// kernels read them: every key from the pools), and the cache-filling pass
// also runs sparse_mass_reduce (PBSA's masses per lane block, from the
// flash kernel's MASS sweep) and sparse_importance (pooled_refresh), which
// do nothing in other passes.
#include <algorithm>
#include <limits>
#include <string>

#include "graph/ops/sparse_attention_params.h"
#include "kernels/gpu/flash_coopmat.h"
#include "kernels/gpu/gpu_kernel.h"
#include "kernels/sparse_kv_device.h"

namespace vdrt::gpu {
namespace {

uint32_t u32(int64_t x) { return static_cast<uint32_t>(x); }

// Candidates sparse_importance holds in shared memory (pooled_refresh:
// the memory and the blocks leaving the window; the owner checks).
constexpr uint32_t kImportanceCandidates = sparse_device::kImportanceCandidates;

// The SparseGeom words every sparse shader's parameters start with
// (kernels/vulkan/sparse_common.glsl).
void push_geometry(Dispatch& d, const BlockLayout& l) {
  const bool tokens = l.token_blocks();
  d.u32(u32(l.tokens_per_frame())).u32(u32(l.grid_w)).u32(u32(tokens ? 0 : l.tile_h)).u32(u32(tokens ? 0 : l.tile_w));
  d.u32(u32(tokens ? l.block_tokens : 0)).u32(u32(l.tiles())).u32(u32(l.tiles_x()));
}

// sparse_flash's head-dim chunk DC and V chunk VK, as pick_tiled in
// attention.cpp chooses them for flash_attention_tiled.
struct FlashConfig {
  uint32_t dc = 0, vk = 0;
  static size_t shared_bytes(uint32_t dv, uint32_t dc, uint32_t vk) {
    const size_t qk = 2 * 64 * (dc + 4), vch = size_t(vk) * dv;
    // Q/K or V chunks, P, partial maxima, query rows, two tiles of key rows,
    // log weights and selection indices, a tile of masses.
    return 4 * (std::max(qk, vch) + 64 * 68 + 64 * 16 + 8 * 64);
  }
};

bool pick_flash(uint32_t d, uint32_t dv, const DeviceCaps& caps, FlashConfig* out) {
  for (uint32_t dc : {32u, 16u, 8u, 4u}) {
    if (d % dc) continue;
    uint32_t vk = 64;
    while (vk > 4 && size_t(vk) * dv > size_t(2) * 64 * (dc + 4)) vk /= 2;
    if (FlashConfig::shared_bytes(dv, dc, vk) <= caps.max_shared_bytes) {
      *out = {dc, vk};
      return true;
    }
  }
  return false;
}

// The tensor-core kernel (sparse_flash_coopmat) where dense attention would
// take its own (flash_coopmat_applies): 4 subgroups of 16 query rows, the
// 64 rows of sparse_flash's work group, over tiles of 32 keys staged one
// ahead; nullptr where it does not apply or fit.
const FlashCoopmatConfig* sparse_coopmat(int64_t d, int64_t dv, const DeviceCaps& caps) {
  static const FlashCoopmatConfig config{128, 32, 0, 1};
  // Beyond the tile loop's own: query rows, three tiles' key rows, log weights
  // and selection indices, a tile's masses.
  const size_t extra = 4 * (size_t(config.query_rows()) + 9 * config.bk + config.bk);
  if (!flash_coopmat_applies(caps, d, dv) || config.shared_bytes(uint32_t(d)) + extra > caps.max_shared_bytes)
    return nullptr;
  return &config;
}

// Candidates sparse_select ranks in shared memory (MAXC; more take the
// radix select) and frames it holds (MAXF), from the device's shared
// memory. At most 2048: a rank count is MAXC^2 / 256 steps per invocation.
struct SelectConfig {
  uint32_t maxc = 0, maxf = 0;
  size_t shared_bytes() const { return 4 * (2 * 256 + 2 * size_t(maxc) + 2 * size_t(maxf)); }
};

SelectConfig pick_select(const DeviceCaps& caps) {
  for (uint32_t maxc : {2048u, 1024u, 512u, 256u}) {
    const SelectConfig c{maxc, 512};
    if (c.shared_bytes() <= caps.max_shared_bytes) return c;
  }
  return {128, 128};
}

struct Shapes {
  int64_t B = 0, S = 0, Hq = 0, D = 0, Sk = 0, Hkv = 0, Dv = 0, T = 0;
  int64_t P = 0, F = 0, Fk = 0, tiles = 0, group = 0;
  int64_t nb = 0, nc = 0, chunk = 0;
  int64_t lanes() const { return B * Hkv; }
  int64_t query_blocks() const { return B * Hq * F * tiles; }
};

Program build_sparse(const KernelArgs& a, SparseMethod method) {
  const SparseAttentionParams p = SparseAttentionParams::from_attributes(method, a.attrs());
  for (size_t i = 0; i < 3; ++i)
    VDRT_CHECK(a.inputs[i].dims.size() == 4, "query, key and value must be 4-D [B, S, H, D]");
  VDRT_CHECK(a.has(3) == a.has(4), "past_key and past_value must be given together");
  const auto &qd = a.inputs[0].dims, &kd = a.inputs[1].dims, &vd = a.inputs[2].dims;
  const BlockLayout& layout = p.layout;
  Shapes s;
  s.B = qd[0], s.S = qd[1], s.Hq = qd[2], s.D = qd[3];
  s.Sk = kd[1], s.Hkv = kd[2], s.Dv = vd[3];
  VDRT_CHECK(kd[0] == s.B && vd[0] == s.B && kd[3] == s.D && vd[1] == s.Sk && vd[2] == s.Hkv,
             "key/value shapes " + dims_str(kd) + " / " + dims_str(vd) + " do not fit query " + dims_str(qd));
  VDRT_CHECK(s.Hkv > 0 && s.Hq % s.Hkv == 0, "query heads are not a multiple of key heads");
  s.P = layout.tokens_per_frame();
  VDRT_CHECK(s.S % s.P == 0, "query length " + std::to_string(s.S) + " is not whole frames of " +
                                 std::to_string(s.P) + " tokens");
  s.F = s.S / s.P;
  s.tiles = layout.tiles();
  s.group = s.Hq / s.Hkv;
  if (a.has(3)) {
    const auto &pk = a.inputs[3].dims, &pv = a.inputs[4].dims;
    VDRT_CHECK(pk.size() == 4 && pv.size() == 4 && pk[0] == s.B && pk[2] == s.Hkv && pk[3] == s.D && pv[0] == s.B &&
                   pv[1] == pk[1] && pv[2] == s.Hkv && pv[3] == s.Dv,
               "past_key/past_value shapes " + dims_str(pk) + " / " + dims_str(pv) + " do not fit the key/value inputs");
    VDRT_CHECK(pk[1] % s.P == 0, "past_key holds " + std::to_string(pk[1]) + " tokens, not whole frames of " +
                                     std::to_string(s.P));
    s.T = pk[1];
  }
  const bool compete = method == SparseMethod::Hsa && p.current_chunk == SparseAttentionParams::CurrentChunk::Compete;
  VDRT_CHECK(!compete || s.Sk % s.P == 0,
             "current_chunk = compete needs whole frames of keys, got " + std::to_string(s.Sk) + " tokens");
  s.Fk = compete ? s.Sk / s.P : 0;
  s.nb = s.T / s.P * s.tiles;
  s.nc = s.Fk * s.tiles;
  s.chunk = s.F > 0 ? s.T / s.P / s.F : 0;
  for (size_t i = 0; i < a.inputs.size(); ++i)
    VDRT_CHECK(!a.has(i) || a.inputs[i].numel() < (int64_t(1) << 31), "GPU sparse attention indexes tensors with 31-bit offsets");
  VDRT_CHECK(s.D % 4 == 0 && s.Dv % 4 == 0, "GPU sparse attention needs head dims that are multiples of 4");

  Program prog;
  const int64_t nqb = s.query_blocks();
  if (nqb == 0 || s.Dv == 0) return prog;
  const bool stateful = a.stateful;
  VDRT_CHECK(!stateful || s.T == 0,
             "past_key holds " + std::to_string(s.T) + " tokens although the KV cache is bound as runtime state; bind "
             "empty past inputs");
  const bool pbsa = method == SparseMethod::Pbsa;
  const bool mass = stateful && pbsa && p.memory_rank == SparseAttentionParams::MemoryRank::Accumulated;
  const bool refresh = stateful && pbsa && p.memory_rank == SparseAttentionParams::MemoryRank::PooledRefresh;
  // The device cache's pools hold f16 (DeviceBlockKvCache::half_pools asks
  // the backend, which answers with the same rule); the mean keys that
  // scoring reads are then in their own f32 buffer. Spec constant HALF,
  // appended where it is 1 (its default is 0).
  const bool half = stateful && sparse_half_pools(a.caps);
  const Arg mean_keys = state(half ? sparse_device::kMeanKeys : sparse_device::kKeys);
  const int64_t nall = s.nb + s.nc, cap = std::max<int64_t>(nall, 1);
  const SelectConfig sc = pick_select(a.caps);
  VDRT_CHECK(pbsa || s.nb / s.tiles <= sc.maxf,
             "GPU sparse attention ranks at most " + std::to_string(sc.maxf) + " cached frames, got " +
                 std::to_string(s.nb / s.tiles));
  VDRT_CHECK(nqb * (2 * cap + 2) < (int64_t(1) << 32), "GPU sparse attention: too many blocks");
  const uint32_t lanes = u32(s.lanes()), r1 = u32(layout.max_tile_tokens() + 1);
  const int64_t nsub = (layout.max_tile_tokens() + 63) / 64;

  // Scratch: 0 past blocks' mean keys, 1 this chunk's (compete), 2 scores, 3 selection.
  // With a device cache, scores and selection are the cache's (their size follows it).
  prog.scratch_bytes = {size_t(std::max<int64_t>(s.lanes() * s.nb * s.D, 1)) * 4,
                        size_t(std::max<int64_t>(s.lanes() * s.nc * s.D, 1)) * 4,
                        stateful ? 4 : size_t(nqb * cap) * 4, stateful ? 4 : size_t(nqb * (2 * cap + 2)) * 4};
  const Arg scores = stateful ? state(sparse_device::kScores) : scratch(2);
  const Arg selected = stateful ? state(sparse_device::kSelect) : scratch(3);
  const Arg index = stateful ? state(sparse_device::kIndex) : in(0);  // stateless: bound, never read
  auto pool = [&](uint32_t input, int64_t tokens, uint32_t dst) {
    Dispatch d;
    d.shader = "sparse_pool_keys";
    d.args = {in(input), scratch(dst)};
    const int64_t blocks = tokens / s.P * s.tiles, total = s.lanes() * blocks * s.D;
    push_geometry(d, layout);
    d.u32(u32(tokens)).u32(u32(s.Hkv)).u32(u32(s.D)).u32(u32(blocks)).u32(u32(total));
    set_groups_1d(d, uint64_t(total), 256, a.caps);
    prog.dispatches.push_back(d);
  };
  if (s.nb > 0) pool(3, s.T, 0);
  if (s.nc > 0) pool(1, s.Sk, 1);

  Dispatch score;
  score.shader = "sparse_score";
  score.spec = {u32(s.D), stateful ? 1u : 0u, refresh ? 1u : 0u};
  if (half) score.spec.push_back(1);
  score.args = {in(0), stateful ? mean_keys : scratch(0), scratch(1), scores,
                refresh ? state(sparse_device::kPooledQ) : scores, index};
  score.writes = {false, false, false, true, refresh, false};
  push_geometry(score, layout);
  score.u32(u32(s.S)).u32(u32(s.Hq)).u32(u32(s.Hkv)).u32(u32(s.F)).u32(u32(s.group)).u32(u32(s.nb)).u32(u32(s.nc));
  score.u32(u32(cap)).u32(u32(nqb)).u32(lanes).u32(r1).f32(p.scale);
  set_groups_1d(score, uint64_t(nqb) * 256, 256, a.caps);
  prog.dispatches.push_back(score);

  // The budget, as select_pbsa / select_hsa compute it (kernels/cpu/block_select.cpp);
  // a device cache writes its own at every chunk.
  uint32_t budget = 0;
  if (pbsa) {
    budget = u32(p.budget(s.chunk, s.nb, p.top_k));
  } else {
    int64_t cap_blocks = std::numeric_limits<uint32_t>::max();
    if (p.top_blocks > 0) cap_blocks = std::min(cap_blocks, p.top_blocks);
    if (p.cag.enabled())
      cap_blocks = std::min(cap_blocks, compete ? p.cag.keep_floor(s.chunk, nall) : p.cag.keep(s.chunk, s.nb));
    budget = u32(cap_blocks);
  }
  const bool keep_stage = method == SparseMethod::Hsa && (p.keep_frames > 0 || compete);
  Dispatch select;
  select.shader = "sparse_select";
  select.spec = {pbsa ? 0u : 1u, keep_stage ? 1u : 0u, sc.maxc, sc.maxf, stateful ? 1u : 0u};
  select.args = {scores, selected, index};
  select.writes = {false, true, false};
  push_geometry(select, layout);
  select.u32(u32(s.nb)).u32(u32(s.nc)).u32(u32(cap)).u32(u32(nqb)).u32(budget);
  select.u32(u32(p.sink_frames)).u32(u32(p.top_frames)).u32(u32(p.keep_frames)).u32(u32(p.keep_near));
  select.u32(u32(s.F)).u32(u32(s.Hq)).u32(u32(s.Hkv)).u32(u32(s.group)).u32(lanes);
  set_groups_1d(select, uint64_t(nqb) * 256, 256, a.caps);
  prog.dispatches.push_back(select);

  // An absent or empty input is never read: another tensor takes its binding.
  Arg pk = s.T > 0 ? in(3) : in(1), pv = s.T > 0 ? in(4) : in(2);
  if (s.T == 0 && s.Sk == 0) pk = pv = in(0);
  if (stateful) pk = state(sparse_device::kKeys), pv = state(sparse_device::kValues);
  const Arg mass_out = mass ? state(sparse_device::kMass) : out(0);
  VDRT_CHECK(!stateful || s.Sk % s.P == 0,
             "the device KV cache appends whole frames, got " + std::to_string(s.Sk) + " keys");
  // With a device cache, this chunk's keys and values go into the slots it
  // reserved for their blocks in every pass, before the flash kernels, which
  // then read every key from the pools (one buffer: no per-key choice).
  if (stateful && s.Sk > 0) {
    // One invocation per (lane, block, dim), or pair of dims with half pools.
    const int64_t blocks = s.Sk / s.P * s.tiles, dims = std::max(s.D, s.Dv) / (half ? 2 : 1);
    const int64_t total = s.lanes() * blocks * dims;
    Dispatch append;
    append.shader = "sparse_append";
    append.args = {in(1), in(2), index, state(sparse_device::kKeys), state(sparse_device::kValues)};
    append.writes = {false, false, false, true, true};
    if (a.caps.half_kv_pools) {  // Vulkan's shader declares the f32 mean keys (written with half pools)
      if (half) append.spec = {1};
      append.args.push_back(mean_keys);
      append.writes.push_back(half);
    }
    push_geometry(append, layout);
    append.u32(u32(s.Sk)).u32(u32(s.Hkv)).u32(u32(s.D)).u32(u32(s.Dv)).u32(u32(blocks)).u32(lanes).u32(r1);
    append.u32(u32(dims)).u32(u32(total));
    set_groups_1d(append, uint64_t(total), 256, a.caps);
    prog.dispatches.push_back(append);
  }
  Dispatch flash;
  const FlashCoopmatConfig* cm = sparse_coopmat(s.D, s.Dv, a.caps);
  if (cm) {
    // Every key row in one buffer, so the kernel stages a tile without
    // choosing a buffer per key: an f16 copy [B, Hkv, T + Sk, D] of the
    // past then this chunk's keys (values alike; scratch 4, 5), or with a
    // device cache its pools.
    const RowStrides chunk{s.Sk * s.Hkv * s.D, s.D, s.Hkv * s.D}, past{s.T * s.Hkv * s.D, s.D, s.Hkv * s.D};
    const int64_t rows = stateful ? 0 : s.T + s.Sk;
    for (int i = 0; i < 2; ++i) prog.scratch_bytes.push_back(size_t(std::max<int64_t>(s.lanes() * rows * s.D, 2)) * 2);
    const uint32_t d = u32(s.D);
    for (uint32_t i = 0; i < 2 && rows > 0; ++i)
      prog.dispatches.push_back(f16_rows(s.T > 0 ? in(3 + i) : in(1 + i), past, s.Sk > 0 ? in(1 + i) : in(3 + i), chunk,
                                         s.B, s.Hkv, rows, s.T, s.Sk, d, 4 + i, a.caps));
    flash.shader = d == 64 ? "sparse_flash_coopmat_d64" : "sparse_flash_coopmat";
    flash.spec = {cm->bk, cm->nt, cm->global_kv, cm->prefetch, compete ? 0u : 1u, stateful ? 1u : 0u, mass ? 1u : 0u};
    if (half) flash.spec.push_back(1);
    flash.args = {in(0), scratch(4), scratch(5), selected, out(0), index, mass_out, stateful ? pk : in(0),
                  stateful ? pv : in(0)};
    flash.writes = {false, false, false, false, true, false, true, false, false};
    flash.variant = "coopmat";
  } else {
    FlashConfig fc;
    VDRT_CHECK(pick_flash(u32(s.D), u32(s.Dv), a.caps, &fc),
               "GPU sparse attention: head dims " + std::to_string(s.D) + "/" + std::to_string(s.Dv) +
                   " need more shared memory than the device has");
    flash.shader = "sparse_flash";
    flash.spec = {u32(s.D), u32(s.Dv), fc.dc, fc.vk, compete ? 0u : 1u, stateful ? 1u : 0u, mass ? 1u : 0u};
    if (half) flash.spec.push_back(1);
    flash.args = {in(0), s.Sk > 0 ? in(1) : in(0), s.Sk > 0 ? in(2) : in(0), pk, pv, selected, out(0), index, mass_out};
    flash.writes = {false, false, false, false, false, false, true, false, true};
    flash.variant = "dc" + std::to_string(fc.dc);
  }
  push_geometry(flash, layout);
  flash.u32(u32(s.S)).u32(u32(s.Hq)).u32(u32(s.Hkv)).u32(u32(s.F)).u32(u32(s.group)).u32(u32(s.Sk)).u32(u32(s.T));
  flash.u32(u32(s.nb)).u32(u32(cap)).u32(u32(nsub)).u32(u32(nqb)).u32(lanes).u32(r1).f32(p.scale);
  const uint32_t threads = cm ? cm->nt : 256;
  set_groups_1d(flash, uint64_t(nqb * nsub) * threads, threads, a.caps);
  prog.dispatches.push_back(flash);
  if (!stateful) return prog;

  // The device cache's work in the cache-filling pass (each shader does
  // nothing in the other passes): PBSA's masses per lane block, the
  // pooled_refresh importance.
  if (mass) {
    // A PBSA lane holds at most its window, this chunk's blocks and its memory.
    const int64_t cap_max = (p.window_frames + s.F) * s.tiles + p.memory_blocks;
    Dispatch reduce;
    reduce.shader = "sparse_mass_reduce";
    reduce.args = {index, selected, state(sparse_device::kMass), state(sparse_device::kLaneMass)};
    reduce.writes = {false, false, false, true};
    push_geometry(reduce, layout);  // which of a query block's nsub groups hold rows, and so wrote masses
    reduce.u32(lanes).u32(u32(cap_max)).u32(u32(s.Hq)).u32(u32(s.Hkv)).u32(u32(s.F)).u32(u32(s.group)).u32(u32(nsub));
    set_groups_1d(reduce, uint64_t(lanes) * cap_max, 256, a.caps);
    prog.dispatches.push_back(reduce);
  }
  if (refresh) {
    Dispatch imp;
    imp.shader = "sparse_importance";
    imp.spec = {u32(s.D), kImportanceCandidates};
    if (half) imp.spec.push_back(1);
    imp.args = {index, state(sparse_device::kPooledQ), mean_keys, state(sparse_device::kImportance)};
    imp.writes = {false, false, false, true};
    imp.u32(lanes).u32(u32(s.Hq)).u32(u32(s.Hkv)).u32(u32(s.F)).u32(u32(s.tiles)).u32(u32(s.group)).u32(r1);
    imp.f32(p.scale);
    set_groups_1d(imp, uint64_t(lanes) * 256, 256, a.caps);
    prog.dispatches.push_back(imp);
  }
  return prog;
}

// Float32 tensors, head dims known and multiples of 4, 256 invocations a group.
bool supports_sparse(const Node& node, const DeviceCaps& caps, SparseMethod method) {
  if (!all_float32(node) || node.inputs().size() < 3 || node.inputs().size() > 5) return false;
  for (size_t i = 0; i < 3; ++i)
    if (!node.input(i)) return false;
  if ((node.input(3) != nullptr) != (node.input(4) != nullptr)) return false;
  if (caps.max_workgroup_invocations < 256) return false;
  for (size_t i : {size_t(0), size_t(2)}) {
    const Shape& sh = node.input(i)->shape();
    if (!sh.rank_known() || sh.rank() != 4 || !sh[3].known() || sh[3].value() % 4 != 0) return false;
  }
  SparseAttentionParams::from_attributes(method, node.attrs());  // throws on bad attributes: not supported
  return true;
}

}  // namespace

VDRT_GPU_KERNEL("vdrt", "PBSAttention", [](const KernelArgs& a) { return build_sparse(a, SparseMethod::Pbsa); },
                [](const Node& n, const DeviceCaps& c) { return supports_sparse(n, c, SparseMethod::Pbsa); });
VDRT_GPU_KERNEL("vdrt", "HSAttention", [](const KernelArgs& a) { return build_sparse(a, SparseMethod::Hsa); },
                [](const Node& n, const DeviceCaps& c) { return supports_sparse(n, c, SparseMethod::Hsa); });

}  // namespace vdrt::gpu
