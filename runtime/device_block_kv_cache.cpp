#include "runtime/device_block_kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/block_admission.h"
#include "runtime/block_kv_cache.h"

namespace vdrt {

using namespace sparse_device;

DeviceBlockKvCache::DeviceBlockKvCache(Backend& backend, int64_t batch, int64_t kv_heads, int64_t query_heads,
                                       int64_t chunk_frames, int64_t key_dim, int64_t value_dim,
                                       SparseAttentionParams params, CachePolicy frame_policy)
    : backend_(backend), batch_(batch), heads_(kv_heads), dk_(key_dim), dv_(value_dim), params_(std::move(params)),
      frame_policy_(frame_policy), half_(backend.half_kv_pools()) {
  VDRT_CHECK(batch > 0 && kv_heads > 0 && query_heads > 0 && query_heads % kv_heads == 0 && chunk_frames > 0 &&
                 key_dim > 0 && value_dim > 0,
             "a device block KV cache needs positive batch, heads (query heads a multiple of KV heads), chunk frames "
             "and head sizes");
  params_.layout.check();
  check_frame_policy(params_.method, frame_policy_);
  const bool pbsa = params_.method == SparseMethod::Pbsa;
  mass_ = pbsa && params_.memory_rank == SparseAttentionParams::MemoryRank::Accumulated;
  refresh_ = pbsa && params_.memory_rank == SparseAttentionParams::MemoryRank::PooledRefresh;
  lanes_ = batch * kv_heads;
  tiles_ = params_.layout.tiles();
  rows_max_ = params_.layout.max_tile_tokens();
  chunk_frames_ = chunk_frames;
  chunk_blocks_ = chunk_frames * tiles_;
  query_blocks_ = batch * query_heads * chunk_blocks_;
  query_groups_ = query_blocks_ * ((rows_max_ + 63) / 64);
  lanes_state_.resize(static_cast<size_t>(lanes_));
  // PBSA's lanes are bounded: the window, the memory and one chunk's blocks.
  if (pbsa) ensure_slots(static_cast<size_t>(lanes_ * ((params_.window_frames + chunk_frames) * tiles_ +
                                                        params_.memory_blocks)));
}

DeviceBlockKvCache::~DeviceBlockKvCache() = default;

// A block's rows and its mean key (kept in f32 for scoring either way), as
// BlockKvCache counts them.
size_t DeviceBlockKvCache::block_bytes(const Block& b) const {
  return static_cast<size_t>(b.rows) * (dk_ + dv_) * (half_ ? 2 : sizeof(float)) + dk_ * sizeof(float);
}

size_t DeviceBlockKvCache::bytes() const {
  size_t n = 0;
  for (const Lane& lane : lanes_state_) {
    for (const Block& b : lane.window) n += block_bytes(b);
    for (const Block& b : lane.memory) n += block_bytes(b);
  }
  return n;
}

size_t DeviceBlockKvCache::device_bytes() const {
  size_t n = 0;
  for (size_t b : buffer_bytes_) n += b;
  return n;
}

int64_t DeviceBlockKvCache::window_frames_held() const {
  return static_cast<int64_t>(lanes_state_[0].window.size()) / tiles_;
}

int64_t DeviceBlockKvCache::memory_blocks_held(int64_t b, int64_t h) const {
  return static_cast<int64_t>(lanes_state_.at(static_cast<size_t>(b * heads_ + h)).memory.size());
}

std::vector<double> DeviceBlockKvCache::saliency(int64_t b, int64_t h) const {
  const Lane& lane = lanes_state_.at(static_cast<size_t>(b * heads_ + h));
  std::vector<double> out;
  for (const Block& blk : lane.window) out.push_back(blk.saliency);
  for (const Block& blk : lane.memory) out.push_back(blk.saliency);
  return out;
}

DeviceTensor DeviceBlockKvCache::buffer(uint32_t index) const {
  VDRT_CHECK(index < kBufferCount, "the device KV cache has no buffer " + std::to_string(index));
  DeviceTensor t;
  t.buffer = buffers_[index].get();
  t.desc = TensorDesc{DType::F32, {static_cast<int64_t>(buffer_bytes_[index] / 4)}};
  return t;
}

// Grows a scratch buffer (its contents are the kernels' to rewrite).
void DeviceBlockKvCache::ensure(uint32_t buffer, size_t bytes) {
  bytes = std::max<size_t>(bytes, 16);
  if (buffers_[buffer] && buffer_bytes_[buffer] >= bytes) return;
  buffers_[buffer] = backend_.allocate(bytes);
  buffer_bytes_[buffer] = bytes;
}

// At least `count` free slots: the pools grow by half (the old contents
// copied on the device, so slot numbers stay valid).
void DeviceBlockKvCache::ensure_slots(size_t count) {
  if (free_.size() >= count) return;
  const size_t grown = std::max(slots_ + count - free_.size(), slots_ + slots_ / 2);
  const size_t r1 = static_cast<size_t>(rows_max_ + 1), element = half_ ? 2 : sizeof(float);
  for (uint32_t b : {uint32_t(kKeys), uint32_t(kValues), uint32_t(kMeanKeys)}) {
    if (b == kMeanKeys && !half_) continue;
    const size_t row = b == kMeanKeys ? dk_ * sizeof(float) : (b == kKeys ? dk_ : dv_) * element * r1;
    std::unique_ptr<Buffer> next = backend_.allocate(grown * row);
    if (buffers_[b] && slots_ > 0) backend_.copy(*buffers_[b], 0, *next, 0, slots_ * row);
    buffers_[b] = std::move(next);
    buffer_bytes_[b] = grown * row;
  }
  // Hand out low slots first (the stack's top is the lowest).
  for (size_t s = grown; s-- > slots_;) free_.push_back(static_cast<uint32_t>(s));
  std::sort(free_.begin(), free_.end(), std::greater<uint32_t>());
  slots_ = grown;
}

uint32_t DeviceBlockKvCache::take_slot() {
  VDRT_CHECK(!free_.empty(), "the device KV cache ran out of slots");
  const uint32_t s = free_.back();
  free_.pop_back();
  return s;
}

void DeviceBlockKvCache::begin_chunk(int64_t chunk) {
  chunk_ = chunk;
  const SparseAttentionParams& p = params_;
  const bool pbsa = p.method == SparseMethod::Pbsa;
  const bool compete = !pbsa && p.current_chunk == SparseAttentionParams::CurrentChunk::Compete;
  if (reserved_)  // a chunk that never reached its cache-filling pass (cancelled)
    for (Lane& lane : lanes_state_) free_.insert(free_.end(), lane.append.begin(), lane.append.end());
  ensure_slots(static_cast<size_t>(lanes_ * chunk_blocks_));
  for (Lane& lane : lanes_state_) {
    lane.append.clear();
    for (int64_t j = 0; j < chunk_blocks_; ++j) lane.append.push_back(take_slot());
  }
  reserved_ = true;

  // pooled_refresh's candidates: the memory, then the blocks that leave the
  // window once this chunk is appended (BlockKvCache::admit_and_evict's pool).
  candidates_ = 0;
  if (refresh_) {
    for (Lane& lane : lanes_state_) {
      lane.candidates.clear();
      for (const Block& b : lane.memory) lane.candidates.push_back(b.slot);
      const int64_t held = static_cast<int64_t>(lane.window.size()) / tiles_ + chunk_frames_;
      const size_t leaving = static_cast<size_t>(std::max<int64_t>(held - p.window_frames, 0) * tiles_);
      for (size_t i = 0; i < leaving; ++i)
        lane.candidates.push_back(i < lane.window.size() ? lane.window[i].slot : lane.append[i - lane.window.size()]);
      VDRT_CHECK(lane.candidates.size() == lanes_state_[0].candidates.size(),
                 "the lanes of a PBSA cache hold different numbers of blocks");
    }
    candidates_ = static_cast<uint32_t>(lanes_state_[0].candidates.size());
    VDRT_CHECK(candidates_ <= kImportanceCandidates,
               "pooled_refresh ranks at most " + std::to_string(kImportanceCandidates) + " blocks per lane on the GPU, " +
                   std::to_string(candidates_) + " compete");
  }

  // Table capacity: a PBSA lane's bound, else what the lanes hold (grown by half).
  size_t held = 0;
  for (const Lane& lane : lanes_state_) held = std::max(held, lane.window.size() + lane.memory.size());
  const uint32_t need = static_cast<uint32_t>(std::max<size_t>(held, 1));
  if (pbsa) cap_ = static_cast<uint32_t>(p.window_frames * tiles_ + p.memory_blocks);
  else if (need > cap_) cap_ = std::max(need, cap_ + cap_ / 2);
  VDRT_CHECK(need <= cap_, "the device KV cache's table is too small");
  candidate_cap_ = std::max<uint32_t>(refresh_ ? static_cast<uint32_t>(p.memory_blocks + chunk_blocks_) : 1,
                                      std::max<uint32_t>(candidates_, 1));
  const uint32_t nc = compete ? static_cast<uint32_t>(chunk_blocks_) : 0;
  const uint32_t stride = cap_ + nc;
  const uint32_t lanes = static_cast<uint32_t>(lanes_);

  // The budget, as the kernels compute it on the host cache (kernels/cpu/block_select.cpp).
  const Lane& first = lanes_state_[0];
  const int64_t window = static_cast<int64_t>(first.window.size());
  uint32_t budget = 0;
  if (pbsa) {
    budget = static_cast<uint32_t>(p.budget(chunk, window, p.top_k));
  } else {
    int64_t cap_blocks = std::numeric_limits<uint32_t>::max();
    if (p.top_blocks > 0) cap_blocks = std::min(cap_blocks, p.top_blocks);
    if (p.cag.enabled())
      cap_blocks = std::min(cap_blocks, compete ? p.cag.keep_floor(chunk, window + nc) : p.cag.keep(chunk, window));
    budget = static_cast<uint32_t>(cap_blocks);
  }

  index_.assign(index_words(lanes, cap_, static_cast<uint32_t>(chunk_blocks_), candidate_cap_), 0);
  index_[kCap] = cap_;
  index_[kStride] = stride;
  index_[kBudget] = budget;
  index_[kFrames] = static_cast<uint32_t>(window / tiles_);
  index_[kAccumulate] = 0;
  index_[kAppend] = static_cast<uint32_t>(chunk_blocks_);
  index_[kCandidates] = candidates_;
  index_[kCandidateCap] = candidate_cap_;
  index_[kQueryGroups] = static_cast<uint32_t>(query_groups_);
  index_[kQueryBlocks] = static_cast<uint32_t>(query_blocks_);
  for (uint32_t l = 0; l < lanes; ++l) {
    const Lane& lane = lanes_state_[l];
    index_[counts_at() + l] = static_cast<uint32_t>(lane.window.size() + lane.memory.size());
    uint32_t* e = index_.data() + table_at(lanes) + l * cap_ * kEntryWords;
    auto put = [&](const Block& b, bool persistent) {
      e[0] = b.slot | (persistent ? kPersistentBit : 0) | (b.compressed ? kCompressedBit : 0);
      e[1] = static_cast<uint32_t>(b.rows);
      e[2] = static_cast<uint32_t>(b.frame);
      std::memcpy(&e[3], &b.log_weight, 4);
      e += kEntryWords;
    };
    for (const Block& b : lane.window) put(b, false);
    for (const Block& b : lane.memory) put(b, true);
    std::copy(lane.append.begin(), lane.append.end(),
              index_.begin() + append_at(lanes, cap_) + l * static_cast<uint32_t>(chunk_blocks_));
    std::copy(lane.candidates.begin(), lane.candidates.end(),
              index_.begin() + candidates_at(lanes, cap_, static_cast<uint32_t>(chunk_blocks_)) + l * candidate_cap_);
  }
  ensure(kIndex, index_.size() * 4);
  backend_.upload(*buffers_[kIndex], 0, index_.data(), index_.size() * 4);
  const size_t qb = static_cast<size_t>(query_blocks_);
  ensure(kScores, qb * stride * 4);
  ensure(kSelect, qb * (2 * size_t(stride) + 2) * 4);
  ensure(kMass, mass_ ? static_cast<size_t>(query_groups_) * stride * 4 : 16);
  ensure(kLaneMass, mass_ ? size_t(lanes) * cap_ * 4 : 16);
  ensure(kPooledQ, refresh_ ? qb * static_cast<size_t>(dk_) * 4 : 16);
  ensure(kImportance, refresh_ ? size_t(lanes) * candidate_cap_ * 4 : 16);
}

void DeviceBlockKvCache::set_accumulate(bool on) {
  if (index_.empty()) return;  // before the first chunk: nothing bound yet
  index_[kAccumulate] = on ? 1 : 0;
  backend_.upload(*buffers_[kIndex], kAccumulate * 4, &index_[kAccumulate], 4);
}

void DeviceBlockKvCache::admit(Lane& lane, std::vector<Block> leaving, const float* importance) {
  const SparseAttentionParams& p = params_;
  std::vector<Block> pool = std::move(lane.memory);
  for (Block& b : leaving) pool.push_back(b);
  if (importance)
    for (size_t i = 0; i < pool.size(); ++i) pool[i].saliency = importance[i];
  auto block = [](const Block& b) -> const Block& { return b; };
  admission::keep_memory(pool, p, block, [&](const Block& b) { free_.push_back(b.slot); });
  // Compression is metadata: the mean key and value are row R of the slot.
  if (p.compress)
    for (Block& b : pool)
      if (b.rows > 1) {
        b.rows = 1;
        b.compressed = true;
        b.log_weight = std::log(static_cast<float>(b.tokens));
      }
  admission::frame_order(pool, block);
  lane.memory = std::move(pool);
}

void DeviceBlockKvCache::end_chunk() {
  VDRT_CHECK(reserved_, "end_chunk without begin_chunk");
  const SparseAttentionParams& p = params_;
  const uint32_t lanes = static_cast<uint32_t>(lanes_);
  std::vector<float> mass, importance;
  if (mass_) {
    mass.resize(size_t(lanes) * cap_);
    backend_.download(*buffers_[kLaneMass], 0, mass.data(), mass.size() * 4);
  }
  if (refresh_) {
    importance.resize(size_t(lanes) * candidate_cap_);
    backend_.download(*buffers_[kImportance], 0, importance.data(), importance.size() * 4);
  }
  const float decay = p.saliency_decay;
  const BlockLayout::TileOrder order = p.layout.tile_order();
  for (uint32_t l = 0; l < lanes; ++l) {
    Lane& lane = lanes_state_[l];
    if (mass_) {
      size_t i = 0;
      for (auto* part : {&lane.window, &lane.memory})
        for (Block& b : *part) b.saliency = decay * b.saliency + mass[size_t(l) * cap_ + i++];
    }
    for (int64_t j = 0; j < chunk_blocks_; ++j) {
      Block b;
      b.slot = lane.append[static_cast<size_t>(j)];
      b.tile = static_cast<int32_t>(j % tiles_);
      b.rows = b.tokens = order.offset[b.tile + 1] - order.offset[b.tile];
      b.frame = frames_seen_ + j / tiles_;
      lane.window.push_back(b);
    }
    lane.append.clear();
  }
  reserved_ = false;
  frames_seen_ += chunk_frames_;
  peak_bytes_ = std::max(peak_bytes_, bytes());

  for (uint32_t l = 0; l < lanes; ++l) {
    Lane& lane = lanes_state_[l];
    const int64_t held = static_cast<int64_t>(lane.window.size()) / tiles_;
    const int64_t limit = admission::window_limit(p, frame_policy_, held);
    if (held <= limit) continue;
    if (p.method == SparseMethod::Pbsa) {
      const size_t n = static_cast<size_t>((held - limit) * tiles_);
      std::vector<Block> leaving(lane.window.begin(), lane.window.begin() + static_cast<int64_t>(n));
      lane.window.erase(lane.window.begin(), lane.window.begin() + static_cast<int64_t>(n));
      if (refresh_)
        VDRT_CHECK(lane.memory.size() + leaving.size() == candidates_,
                   "pooled_refresh: the candidates changed during the chunk");
      admit(lane, std::move(leaving), refresh_ ? importance.data() + size_t(l) * candidate_cap_ : nullptr);
    } else {
      const admission::FrameEviction e = admission::frame_eviction(frame_policy_, held, limit, tiles_);
      for (size_t i = e.keep_front; i < e.keep_front + e.drop; ++i) free_.push_back(lane.window[i].slot);
      lane.window.erase(lane.window.begin() + static_cast<int64_t>(e.keep_front),
                        lane.window.begin() + static_cast<int64_t>(e.keep_front + e.drop));
    }
  }
}

}  // namespace vdrt
