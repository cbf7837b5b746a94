#include "runtime/block_kv_cache.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <tbb/parallel_for.h>

#include "runtime/block_admission.h"

namespace vdrt {

// One block of one lane: keys [rows, dk], values [rows, dv] and the pooled
// key [dk], in one buffer.
struct BlockKvCache::Block {
  std::vector<float> data;
  int32_t rows = 0, tokens = 0;
  float log_weight = 0;
  int64_t frame = 0;
  int32_t tile = 0;
  double saliency = 0;
};

struct BlockKvCache::Lane {
  std::vector<std::unique_ptr<Block>> window;  // frame order, tiles in order
  std::vector<std::unique_ptr<Block>> memory;  // persistent blocks
  KvLane view;
  std::vector<float> mass;
  std::vector<float> pooled_q;  // pooled queries of the clean pass (memory_rank pooled_refresh), [n, dk]
};

void check_frame_policy(SparseMethod method, const CachePolicy& policy) {
  if (method == SparseMethod::Pbsa)
    VDRT_CHECK(policy.kind != CachePolicy::Kind::Window,
               "PBSA layers keep their own bounded cache (window_frames + memory_blocks); cache policy '" +
                   policy.str() + "' does not apply (use pbsa or unbounded)");
  else
    VDRT_CHECK(policy.kind != CachePolicy::Kind::Pbsa,
               "cache policy pbsa needs layers rewritten to vdrt.PBSAttention; this layer runs vdrt.HSAttention");
}

BlockKvCache::BlockKvCache(int64_t batch, int64_t kv_heads, int64_t key_dim, int64_t value_dim,
                           SparseAttentionParams params, CachePolicy frame_policy)
    : batch_(batch), heads_(kv_heads), dk_(key_dim), dv_(value_dim), params_(std::move(params)),
      frame_policy_(frame_policy) {
  VDRT_CHECK(batch > 0 && kv_heads > 0 && key_dim > 0 && value_dim > 0,
             "a block KV cache needs positive batch, heads and head sizes");
  params_.layout.check();
  check_frame_policy(params_.method, frame_policy_);
  order_ = params_.layout.tile_order();
  for (int64_t i = 0; i < batch * kv_heads; ++i) {
    lanes_.push_back(std::make_unique<Lane>());
    if (params_.method == SparseMethod::Pbsa &&
        params_.memory_rank == SparseAttentionParams::MemoryRank::PooledRefresh)
      lanes_.back()->view.pooled_queries = &lanes_.back()->pooled_q;
  }
}

BlockKvCache::~BlockKvCache() = default;

const KvLane& BlockKvCache::lane(int64_t b, int64_t h) const {
  VDRT_CHECK(b >= 0 && b < batch_ && h >= 0 && h < heads_, "KV cache lane out of range");
  return lanes_[b * heads_ + h]->view;
}

size_t BlockKvCache::bytes() const {
  size_t floats = 0;
  for (const auto& lane : lanes_) {
    for (const auto& blk : lane->window) floats += blk->data.size();
    for (const auto& blk : lane->memory) floats += blk->data.size();
  }
  return floats * sizeof(float);
}

int64_t BlockKvCache::window_frames_held() const {
  if (lanes_.empty() || lanes_[0]->window.empty()) return 0;
  return static_cast<int64_t>(lanes_[0]->window.size()) / params_.layout.tiles();
}

int64_t BlockKvCache::memory_blocks_held(int64_t b, int64_t h) const {
  return static_cast<int64_t>(lanes_.at(b * heads_ + h)->memory.size());
}

std::vector<double> BlockKvCache::saliency(int64_t b, int64_t h) const {
  const Lane& lane = *lanes_.at(b * heads_ + h);
  std::vector<double> out;
  for (const auto& blk : lane.window) out.push_back(blk->saliency);
  for (const auto& blk : lane.memory) out.push_back(blk->saliency);
  return out;
}

void BlockKvCache::rebuild_view(Lane& lane) {
  lane.view.blocks.clear();
  auto add = [&](const Block& blk, bool persistent) {
    KvBlock v;
    v.key = blk.data.data();
    v.value = blk.data.data() + static_cast<size_t>(blk.rows) * dk_;
    v.pooled_key = blk.data.data() + static_cast<size_t>(blk.rows) * (dk_ + dv_);
    v.rows = blk.rows;
    v.tokens = blk.tokens;
    v.log_weight = blk.log_weight;
    v.frame = blk.frame;
    v.tile = blk.tile;
    v.persistent = persistent;
    lane.view.blocks.push_back(v);
  };
  for (const auto& blk : lane.window) add(*blk, false);
  for (const auto& blk : lane.memory) add(*blk, true);
  lane.mass.assign(lane.view.blocks.size(), 0.0f);
  lane.view.mass = lane.mass.data();
}

namespace {

// Replaces a block's rows by their mean: one key/value row that stands for
// `tokens` tokens through the log-weight its logit gets.
void compress_block(std::vector<float>& data, int32_t& rows, int32_t tokens, float& log_weight, int64_t dk,
                    int64_t dv) {
  if (rows <= 1) return;
  std::vector<float> out(static_cast<size_t>(dk + dv + dk), 0.0f);
  const float* k = data.data();
  const float* v = k + static_cast<size_t>(rows) * dk;
  const float* pooled = v + static_cast<size_t>(rows) * dv;
  std::copy_n(pooled, dk, out.data());  // the mean key is the pooled key
  for (int32_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < dv; ++d) out[dk + d] += v[r * dv + d];
  for (int64_t d = 0; d < dv; ++d) out[dk + d] /= static_cast<float>(rows);
  std::copy_n(pooled, dk, out.data() + dk + dv);
  data = std::move(out);
  rows = 1;
  log_weight = std::log(static_cast<float>(tokens));
}

}  // namespace

std::vector<double> pooled_block_importance(const std::vector<float>& pooled_q, const std::vector<const float*>& keys,
                                           int64_t dk, float scale) {
  std::vector<double> importance(keys.size(), 0.0);
  if (keys.empty()) return importance;
  std::vector<double> logits(keys.size());
  for (size_t q0 = 0; q0 + static_cast<size_t>(dk) <= pooled_q.size(); q0 += static_cast<size_t>(dk)) {
    const float* q = pooled_q.data() + q0;
    double top = -std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < keys.size(); ++c) {
      double dot = 0;
      for (int64_t d = 0; d < dk; ++d) dot += static_cast<double>(q[d]) * keys[c][d];
      logits[c] = scale * dot;
      top = std::max(top, logits[c]);
    }
    double sum = 0;
    for (double& l : logits) sum += (l = std::exp(l - top));
    for (size_t c = 0; c < keys.size(); ++c) importance[c] += logits[c] / sum;
  }
  return importance;
}

void BlockKvCache::admit_and_evict(Lane& lane, std::vector<std::unique_ptr<Block>> leaving) {
  const SparseAttentionParams& p = params_;
  if (p.method == SparseMethod::Hsa) return;  // HSA evicts whole frames (see append)
  std::vector<std::unique_ptr<Block>> pool = std::move(lane.memory);
  for (auto& blk : leaving) pool.push_back(std::move(blk));
  if (p.memory_rank == SparseAttentionParams::MemoryRank::PooledRefresh) {
    // Sparse Forcing's refresh: the clean pass's pooled block attention over
    // every candidate (old memory and the blocks leaving the window), a
    // block's importance being its column of A summed over query blocks.
    std::vector<const float*> keys;
    for (const auto& blk : pool)
      keys.push_back(blk->data.data() + static_cast<size_t>(blk->rows) * (dk_ + dv_));
    const std::vector<double> importance = pooled_block_importance(lane.pooled_q, keys, dk_, p.scale);
    for (size_t i = 0; i < pool.size(); ++i) pool[i]->saliency = importance[i];
  }
  auto block = [](const std::unique_ptr<Block>& b) -> const Block& { return *b; };
  admission::keep_memory(pool, p, block, [](std::unique_ptr<Block>&) {});
  if (p.compress)
    for (auto& blk : pool) compress_block(blk->data, blk->rows, blk->tokens, blk->log_weight, dk_, dv_);
  admission::frame_order(pool, block);
  lane.memory = std::move(pool);
}

void BlockKvCache::append(const Tensor& key, const Tensor& value) {
  const std::vector<int64_t>& kd = key.dims();
  const std::vector<int64_t>& vd = value.dims();
  VDRT_CHECK(key.dtype() == DType::F32 && value.dtype() == DType::F32, "cache keys and values must be float32");
  VDRT_CHECK(kd.size() == 4 && vd.size() == 4 && kd[0] == batch_ && kd[2] == heads_ && kd[3] == dk_ &&
                 vd[0] == batch_ && vd[1] == kd[1] && vd[2] == heads_ && vd[3] == dv_,
             "present keys/values " + dims_str(kd) + " / " + dims_str(vd) + " do not fit the cache [" +
                 std::to_string(batch_) + ", T, " + std::to_string(heads_) + ", " + std::to_string(dk_) + "/" +
                 std::to_string(dv_) + "]");
  const int64_t P = params_.layout.tokens_per_frame(), tiles = params_.layout.tiles();
  VDRT_CHECK(kd[1] % P == 0, "present keys hold " + std::to_string(kd[1]) + " tokens, not whole frames of " +
                                 std::to_string(P));
  const int64_t frames = kd[1] / P, T = kd[1];
  const float decay = params_.saliency_decay;
  const float* k = key.data<float>();
  const float* v = value.data<float>();

  tbb::parallel_for(int64_t{0}, batch_ * heads_, [&](int64_t li) {
    Lane& lane = *lanes_[li];
    const int64_t b = li / heads_, h = li % heads_;
    size_t i = 0;
    for (auto* part : {&lane.window, &lane.memory})
      for (auto& blk : *part) {
        blk->saliency = decay * blk->saliency + (i < lane.mass.size() ? lane.mass[i] : 0.0f);
        ++i;
      }
    for (int64_t f = 0; f < frames; ++f)
      for (int64_t t = 0; t < tiles; ++t) {
        auto blk = std::make_unique<Block>();
        const int32_t r0 = order_.offset[t], rows = order_.offset[t + 1] - r0;
        blk->rows = blk->tokens = rows;
        blk->frame = frames_seen_ + f;
        blk->tile = static_cast<int32_t>(t);
        blk->data.assign(static_cast<size_t>(rows) * (dk_ + dv_) + dk_, 0.0f);
        float* bk = blk->data.data();
        float* bv = bk + static_cast<size_t>(rows) * dk_;
        float* pooled = bv + static_cast<size_t>(rows) * dv_;
        for (int32_t r = 0; r < rows; ++r) {
          const int64_t tok = f * P + order_.token[r0 + r];
          const float* ks = k + ((b * T + tok) * heads_ + h) * dk_;
          std::copy_n(ks, dk_, bk + r * dk_);
          std::copy_n(v + ((b * T + tok) * heads_ + h) * dv_, dv_, bv + r * dv_);
          for (int64_t d = 0; d < dk_; ++d) pooled[d] += ks[d];
        }
        for (int64_t d = 0; d < dk_; ++d) pooled[d] /= static_cast<float>(rows);
        lane.window.push_back(std::move(blk));
      }
  });
  frames_seen_ += frames;
  peak_bytes_ = std::max(peak_bytes_, bytes());

  tbb::parallel_for(int64_t{0}, batch_ * heads_, [&](int64_t li) {
    Lane& lane = *lanes_[li];
    const int64_t held = static_cast<int64_t>(lane.window.size()) / tiles;
    const int64_t limit = admission::window_limit(params_, frame_policy_, held);
    if (held > limit) {
      std::vector<std::unique_ptr<Block>> leaving;
      if (params_.method == SparseMethod::Pbsa) {
        const size_t n = static_cast<size_t>((held - limit) * tiles);
        for (size_t i = 0; i < n; ++i) leaving.push_back(std::move(lane.window[i]));
        lane.window.erase(lane.window.begin(), lane.window.begin() + static_cast<int64_t>(n));
        admit_and_evict(lane, std::move(leaving));
      } else {
        const admission::FrameEviction e = admission::frame_eviction(frame_policy_, held, limit, tiles);
        lane.window.erase(lane.window.begin() + static_cast<int64_t>(e.keep_front),
                          lane.window.begin() + static_cast<int64_t>(e.keep_front + e.drop));
      }
    }
    lane.pooled_q.clear();  // a refresh uses the clean pass of its own chunk only
    rebuild_view(lane);
  });
}

}  // namespace vdrt
