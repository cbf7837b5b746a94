// CPU kernels of vdrt.PBSAttention and vdrt.HSAttention (docs/vdrt_ops.md).
//
// Work is split over (batch, query head, query block) with oneTBB; a query
// block is one spatial tile of one frame of this chunk. Each task pools its
// queries, scores the lane's cached blocks by pooled q.k, selects blocks
// (kernels/cpu/block_select.h), and runs flash attention (block_flash.h)
// over this chunk's keys (always, dense; or, with HSA current_chunk =
// compete, cut into blocks that compete with the cached ones in the top-k)
// and the selected blocks, gathered a few hundred keys at a time. The full
// score matrix never exists.
//
// The cache is the runtime state bound to the node (kernels/sparse_kv_state.h).
// Without one, past_key/past_value are cut into blocks here and read as
// the local window; the chunk index is then the number of past chunks.
#include <algorithm>
#include <cmath>

#include <tbb/parallel_for.h>

#include "graph/ops/sparse_attention_params.h"
#include "kernels/cpu/block_flash.h"
#include "kernels/cpu/block_select.h"
#include "kernels/cpu/kernel.h"
#include "kernels/sparse_kv_state.h"

namespace vdrt::cpu {
namespace {

constexpr int64_t kFoldKeys = 256;  // keys per flash fold: a 64 x 256 score block stays in L1/L2

// The lanes of a past_key/past_value pair, reordered into tile blocks.
class PastLanes {
 public:
  PastLanes(const TensorView& pk, const TensorView& pv, const BlockLayout& layout) {
    const int64_t B = pk.dims[0], T = pk.dims[1], H = pk.dims[2], D = pk.dims[3], Dv = pv.dims[3];
    const int64_t P = layout.tokens_per_frame(), frames = T / P;
    const BlockLayout::TileOrder order = layout.tile_order();
    const int64_t tiles = layout.tiles();
    heads_ = H;
    lanes_.resize(static_cast<size_t>(B * H));
    storage_.resize(lanes_.size());
    const float* k = pk.as<float>();
    const float* v = pv.as<float>();
    tbb::parallel_for(int64_t{0}, B * H, [&](int64_t lane_index) {
      const int64_t b = lane_index / H, h = lane_index % H;
      std::vector<float>& st = storage_[lane_index];
      const int64_t pooled_at = frames * P * (D + Dv);
      st.assign(static_cast<size_t>(pooled_at + frames * tiles * D), 0.0f);
      KvLane& lane = lanes_[lane_index];
      for (int64_t f = 0; f < frames; ++f) {
        float* kf = st.data() + f * P * (D + Dv);
        float* vf = kf + P * D;
        for (int64_t i = 0; i < P; ++i) {
          const int64_t tok = f * P + order.token[i];
          std::copy_n(k + ((b * T + tok) * H + h) * D, D, kf + i * D);
          std::copy_n(v + ((b * T + tok) * H + h) * Dv, Dv, vf + i * Dv);
        }
        for (int64_t t = 0; t < tiles; ++t) {
          KvBlock blk;
          const int32_t r0 = order.offset[t], r1 = order.offset[t + 1];
          blk.key = kf + r0 * D;
          blk.value = vf + r0 * Dv;
          float* pooled = st.data() + pooled_at + (f * tiles + t) * D;
          for (int32_t r = r0; r < r1; ++r)
            for (int64_t d = 0; d < D; ++d) pooled[d] += kf[r * D + d];
          for (int64_t d = 0; d < D; ++d) pooled[d] /= static_cast<float>(r1 - r0);
          blk.pooled_key = pooled;
          blk.rows = blk.tokens = r1 - r0;
          blk.frame = f;
          blk.tile = static_cast<int32_t>(t);
          lane.blocks.push_back(blk);
        }
      }
    });
  }
  const KvLane& lane(int64_t b, int64_t h) const { return lanes_[b * heads_ + h]; }

 private:
  int64_t heads_ = 0;
  std::vector<KvLane> lanes_;
  std::vector<std::vector<float>> storage_;
};

struct TaskResult {
  std::vector<std::pair<int32_t, float>> mass;  // (block, mass) for the lane's saliency
  std::vector<float> pooled_q;                  // for the lane's pooled_queries (PBSA pooled_refresh)
  QueryBlockRecord record;
};

void sparse_attention(KernelContext& ctx, SparseMethod method) {
  const SparseAttentionParams p = SparseAttentionParams::from_attributes(method, ctx.attrs);
  const TensorView& qv = ctx.in(0);
  const TensorView& kv = ctx.in(1);
  const TensorView& vv = ctx.in(2);
  VDRT_CHECK(qv.rank() == 4 && kv.rank() == 4 && vv.rank() == 4, "query, key and value must be 4-D [B, S, H, D]");
  const int64_t B = qv.dims[0], S = qv.dims[1], Hq = qv.dims[2], D = qv.dims[3];
  const int64_t Sk = kv.dims[1], Hkv = kv.dims[2], Dv = vv.dims[3];
  VDRT_CHECK(kv.dims[0] == B && vv.dims[0] == B && kv.dims[3] == D && vv.dims[1] == Sk && vv.dims[2] == Hkv,
             "key/value shapes " + dims_str(kv.dims) + " / " + dims_str(vv.dims) + " do not fit query " +
                 dims_str(qv.dims));
  VDRT_CHECK(Hkv > 0 && Hq % Hkv == 0, "query heads are not a multiple of key heads");
  const BlockLayout& layout = p.layout;
  const int64_t P = layout.tokens_per_frame();
  VDRT_CHECK(S % P == 0, "query length " + std::to_string(S) + " is not whole frames of " + std::to_string(P) + " tokens");
  const int64_t F = S / P;
  const int64_t group = Hq / Hkv;

  auto* state = dynamic_cast<SparseKvState*>(ctx.state);
  VDRT_CHECK(ctx.state == nullptr || state != nullptr, "the runtime state bound to this node is not a KV cache");
  const bool has_past = ctx.has(3) && ctx.has(4);
  std::unique_ptr<PastLanes> past;
  int64_t chunk = 0;
  if (state) {
    VDRT_CHECK(!has_past || ctx.in(3).dims[1] == 0,
               "past_key holds " + std::to_string(has_past ? ctx.in(3).dims[1] : 0) +
                   " tokens although the KV cache is bound as runtime state; bind empty past inputs");
    VDRT_CHECK(state->batch() == B && state->kv_heads() == Hkv && state->key_dim() == D && state->value_dim() == Dv,
               "the bound KV cache has batch " + std::to_string(state->batch()) + ", " +
                   std::to_string(state->kv_heads()) + " heads of " + std::to_string(state->key_dim()) + "/" +
                   std::to_string(state->value_dim()) + ", the inputs need " + std::to_string(B) + ", " +
                   std::to_string(Hkv) + " of " + std::to_string(D) + "/" + std::to_string(Dv));
    chunk = state->chunk_index();
  } else if (has_past) {
    const TensorView& pk = ctx.in(3);
    const TensorView& pv = ctx.in(4);
    VDRT_CHECK(pk.rank() == 4 && pv.rank() == 4 && pk.dims[0] == B && pk.dims[2] == Hkv && pk.dims[3] == D &&
                   pv.dims[0] == B && pv.dims[1] == pk.dims[1] && pv.dims[2] == Hkv && pv.dims[3] == Dv,
               "past_key/past_value shapes " + dims_str(pk.dims) + " / " + dims_str(pv.dims) +
                   " do not fit the key/value inputs");
    VDRT_CHECK(pk.dims[1] % P == 0, "past_key holds " + std::to_string(pk.dims[1]) + " tokens, not whole frames of " +
                                        std::to_string(P));
    past = std::make_unique<PastLanes>(pk, pv, layout);
    chunk = pk.dims[1] / P / F;
  }
  static const KvLane kEmptyLane;
  auto lane_of = [&](int64_t b, int64_t h) -> const KvLane& {
    if (state) return state->lane(b, h);
    if (past) return past->lane(b, h);
    return kEmptyLane;
  };
  const BlockLayout::TileOrder order = layout.tile_order();
  const int64_t tiles = layout.tiles();
  // current_chunk = compete (Light Forcing): this chunk's keys are cut into
  // blocks like the cache's and compete with them in the block top-k.
  const bool compete = method == SparseMethod::Hsa && p.current_chunk == SparseAttentionParams::CurrentChunk::Compete;
  VDRT_CHECK(!compete || Sk % P == 0,
             "current_chunk = compete needs whole frames of keys, got " + std::to_string(Sk) + " tokens");
  const int64_t Fk = Sk / P;
  std::vector<LaneIndex> index(static_cast<size_t>(B * Hkv));
  tbb::parallel_for(int64_t{0}, B * Hkv, [&](int64_t i) {
    const KvLane& lane = lane_of(i / Hkv, i % Hkv);
    index[i] = LaneIndex::build(lane, D);
    for (const KvBlock& blk : lane.blocks)
      VDRT_CHECK(blk.rows > 0 && blk.key && blk.value && blk.pooled_key, "a cached block has no rows");
    if (!compete) return;
    const int64_t b = i / Hkv, hk = i % Hkv;
    std::vector<float> pooled(static_cast<size_t>(Fk * tiles * D), 0.0f);
    for (int64_t fk = 0; fk < Fk; ++fk)
      for (int64_t t = 0; t < tiles; ++t) {
        float* out = pooled.data() + (fk * tiles + t) * D;
        for (int32_t r = order.offset[t]; r < order.offset[t + 1]; ++r) {
          const float* src = kv.as<float>() + ((b * Sk + fk * P + order.token[r]) * Hkv + hk) * D;
          for (int64_t d = 0; d < D; ++d) out[d] += src[d];
        }
        for (int64_t d = 0; d < D; ++d) out[d] /= static_cast<float>(order.offset[t + 1] - order.offset[t]);
      }
    index[i].append_current(pooled.data(), Fk * tiles);
  });

  AttentionRecorder* recorder = state ? state->recorder() : nullptr;
  const bool accumulate = state && state->accumulate_mass();
  const bool track = accumulate || recorder;
  const int64_t tasks = B * Hq * F * tiles;
  std::vector<TaskResult> results(track ? static_cast<size_t>(tasks) : 0);

  const float* q = qv.as<float>();
  const float* k = kv.as<float>();
  const float* v = vv.as<float>();
  float* y = ctx.out(0).as<float>();

  tbb::parallel_for(tbb::blocked_range<int64_t>(0, tasks, 1), [&](const tbb::blocked_range<int64_t>& range) {
    std::vector<float> qbuf, obuf, pooled_q(static_cast<size_t>(D)), scores, kbuf, vbuf;
    std::vector<FlashSegment> segments;
    for (int64_t task = range.begin(); task != range.end(); ++task) {
      const int64_t t = task % tiles, f = (task / tiles) % F, h = (task / (tiles * F)) % Hq, b = task / (tiles * F * Hq);
      const int64_t hk = h / group;
      const KvLane& lane = lane_of(b, hk);
      const LaneIndex& li = index[b * Hkv + hk];
      const int32_t r0 = order.offset[t];
      const int64_t rows = order.offset[t + 1] - r0;
      auto token = [&](int64_t r) { return f * P + order.token[r0 + r]; };

      qbuf.resize(static_cast<size_t>(rows * D));
      std::fill(pooled_q.begin(), pooled_q.end(), 0.0f);
      for (int64_t r = 0; r < rows; ++r) {
        const float* src = q + ((b * S + token(r)) * Hq + h) * D;
        for (int64_t d = 0; d < D; ++d) {
          pooled_q[d] += src[d];
          qbuf[r * D + d] = src[d] * p.scale;
        }
      }
      for (float& x : pooled_q) x /= static_cast<float>(rows);

      const int64_t nall = li.blocks(), nb = li.cached_blocks;  // nall - nb: this chunk's blocks (compete)
      scores.resize(static_cast<size_t>(nall));
      score_rows(li.pooled.data(), nall, D, pooled_q.data(), p.scale, scores.data());
      const std::vector<int32_t> chosen = method == SparseMethod::Pbsa
                                              ? select_pbsa(p, li, scores.data(), chunk)
                                              : select_hsa(p, li, scores.data(), pooled_q.data(), chunk);

      // One spare id so that tracking is on even without cached blocks (the local mass).
      FlashTile tile(qbuf.data(), D, rows, D, Dv, track ? nb + 1 : 0);
      // This chunk's own keys, always and densely (unless they compete).
      for (int64_t c0 = 0; !compete && c0 < Sk; c0 += kFoldKeys) {
        const int64_t n = std::min(kFoldKeys, Sk - c0);
        tile.fold(k + ((b * Sk + c0) * Hkv + hk) * D, Hkv * D, v + ((b * Sk + c0) * Hkv + hk) * Dv, Hkv * Dv, n);
      }
      // The selected cached blocks, gathered into contiguous pieces.
      kbuf.resize(static_cast<size_t>((kFoldKeys + layout.max_tile_tokens()) * D));
      vbuf.resize(static_cast<size_t>((kFoldKeys + layout.max_tile_tokens()) * Dv));
      int64_t filled = 0;
      segments.clear();
      auto flush = [&] {
        if (filled) tile.fold(kbuf.data(), D, vbuf.data(), Dv, filled, segments);
        filled = 0;
        segments.clear();
      };
      for (int32_t bi : chosen) {
        if (bi >= nb) {  // a block of this chunk (compete): gathered token by token, untracked (local) mass
          const int64_t fk = (bi - nb) / tiles, t2 = (bi - nb) % tiles;
          const int32_t c0 = order.offset[t2], n = order.offset[t2 + 1] - c0;
          if (filled + n > kFoldKeys) flush();
          if (static_cast<int64_t>(kbuf.size()) < (filled + n) * D) {
            kbuf.resize(static_cast<size_t>((filled + n) * D));
            vbuf.resize(static_cast<size_t>((filled + n) * Dv));
          }
          for (int32_t r = 0; r < n; ++r) {
            const int64_t tok = b * Sk + fk * P + order.token[c0 + r];
            std::copy_n(k + (tok * Hkv + hk) * D, D, kbuf.data() + (filled + r) * D);
            std::copy_n(v + (tok * Hkv + hk) * Dv, Dv, vbuf.data() + (filled + r) * Dv);
          }
          segments.push_back(FlashSegment{-1, static_cast<int32_t>(filled), static_cast<int32_t>(filled + n), 0.0f});
          filled += n;
          continue;
        }
        const KvBlock& blk = lane.blocks[bi];
        if (filled + blk.rows > kFoldKeys) flush();
        if (static_cast<int64_t>(kbuf.size()) < (filled + blk.rows) * D) {
          kbuf.resize(static_cast<size_t>((filled + blk.rows) * D));
          vbuf.resize(static_cast<size_t>((filled + blk.rows) * Dv));
        }
        std::copy_n(blk.key, blk.rows * D, kbuf.data() + filled * D);
        std::copy_n(blk.value, blk.rows * Dv, vbuf.data() + filled * Dv);
        segments.push_back(FlashSegment{bi, static_cast<int32_t>(filled), static_cast<int32_t>(filled + blk.rows),
                                        blk.log_weight});
        filled += blk.rows;
      }
      flush();

      obuf.resize(static_cast<size_t>(rows * Dv));
      tile.finish(obuf.data(), Dv);
      for (int64_t r = 0; r < rows; ++r)
        std::copy_n(obuf.data() + r * Dv, Dv, y + ((b * S + token(r)) * Hq + h) * Dv);

      if (!track) continue;
      TaskResult& res = results[task];
      if (accumulate)
        for (int32_t bi : chosen)
          if (bi < nb) res.mass.emplace_back(bi, static_cast<float>(tile.mass(bi)));
      if (accumulate && lane.pooled_queries) res.pooled_q = pooled_q;
      if (recorder) {
        QueryBlockRecord& rec = res.record;
        rec.batch = b;
        rec.head = h;
        rec.frame = f;
        rec.tile = t;
        rec.rows = rows;
        rec.local_mass = tile.untracked_mass();
        rec.block_mass.assign(static_cast<size_t>(nb), 0.0f);
        rec.selected.assign(static_cast<size_t>(nb), 0);
        for (int32_t bi : chosen) {
          if (bi >= nb) continue;
          rec.block_mass[bi] = static_cast<float>(tile.mass(bi));
          rec.selected[bi] = 1;
        }
        rec.block_score.assign(scores.begin(), scores.begin() + nb);
      }
    }
  });

  if (accumulate)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t h = (task / (tiles * F)) % Hq, b = task / (tiles * F * Hq);
      const KvLane& lane = state->lane(b, h / group);
      if (lane.pooled_queries)
        lane.pooled_queries->insert(lane.pooled_queries->end(), results[task].pooled_q.begin(),
                                    results[task].pooled_q.end());
      float* mass = lane.mass;
      if (!mass) continue;
      for (const auto& [bi, m] : results[task].mass) mass[bi] += m;
    }
  if (recorder) {
    std::vector<QueryBlockRecord> records;
    records.reserve(results.size());
    for (TaskResult& r : results) records.push_back(std::move(r.record));
    recorder->record(p.layer, std::move(records));
  }
}

SupportsFn sparse_supports() { return dtypes_in({DType::F32}); }

VDRT_CPU_KERNEL_IF("vdrt", "PBSAttention", [](KernelContext& ctx) { sparse_attention(ctx, SparseMethod::Pbsa); },
                   sparse_supports());
VDRT_CPU_KERNEL_IF("vdrt", "HSAttention", [](KernelContext& ctx) { sparse_attention(ctx, SparseMethod::Hsa); },
                   sparse_supports());

}  // namespace
}  // namespace vdrt::cpu
